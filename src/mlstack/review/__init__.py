"""What ``pulumi preview`` would change in each stack, as one pull-request comment.

steps     the steps of a ``pulumi preview --json``, read once
serving   which endpoint deployments serve each model after the preview's changes
summary   the steps sorted into what a reviewer reads (``summarise``)
markdown  the summaries as Markdown (``render_markdown``); only writes text
"""

from mlstack.review.markdown import count_line, render_markdown
from mlstack.review.summary import ModelChange, StackReview, metric_deltas, summarise

__all__ = ["ModelChange", "StackReview", "count_line", "metric_deltas", "render_markdown",
           "summarise"]  # fmt: skip
