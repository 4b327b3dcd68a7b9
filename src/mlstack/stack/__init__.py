"""Stacks of the project, opened one way: config, workspace, outputs, preview.

stack     the Stack object: the stack file's config, the workspace it names, and what
          its Pulumi backend holds
backend   the Pulumi Automation API: the selected stack, outputs, state, previews — the
          only module that runs ``pulumi``
state     the resources a stack's state records, read from its export
"""

from mlstack.stack.stack import Stack, failed_preview, open_stack
from mlstack.stack.state import StateResource

__all__ = ["Stack", "StateResource", "failed_preview", "open_stack"]
