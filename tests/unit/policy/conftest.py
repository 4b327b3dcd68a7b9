"""The policy pack's checks run here on plain inputs, with no engine: its modules are
imported from ``policy/`` (the pack's own environment adds only pulumi_policy, which the
checks never import)."""

from __future__ import annotations

import sys
from pathlib import Path

PACK = Path(__file__).resolve().parents[3] / "policy"
if str(PACK) not in sys.path:
    sys.path.insert(0, str(PACK))
