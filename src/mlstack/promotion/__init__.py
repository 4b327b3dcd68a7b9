"""Promotion: pin a checked version of one stack into another stack's file, for review.

promote   the command's work: route, check, pin, diff
route     which source serves a pair of stacks (local, azure), and why others are refused
source    PromotionSource, one per kind of source, and the checks every source passes
          (not archived, gates met, content is its digest)
pin       the ``mlstack:promotions`` entry, written round-trip into the stack file
registry  ``--via registry``: the version shared into the target's Azure ML registry
"""

from mlstack.promotion.promote import PromotionResult, promote
from mlstack.promotion.source import PromotionSource, WorkspaceSource

__all__ = ["PromotionResult", "PromotionSource", "WorkspaceSource", "promote"]
