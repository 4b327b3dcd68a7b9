"""Stacks of the project, opened one way: config, workspace, outputs, preview.

stack     the Stack object: the stack file's config, the workspace it names, and what
          its Pulumi backend holds
backend   the Pulumi Automation API: the selected stack, outputs, previews — the only
          module that runs ``pulumi``
"""

from mlstack.stack.stack import Stack, failed_preview, open_stack

__all__ = ["Stack", "failed_preview", "open_stack"]
