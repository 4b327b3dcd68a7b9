"""Audits of a stack against what its workspace and endpoints hold: drift, lineage, cards."""
