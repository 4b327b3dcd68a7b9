"""Batch scoring: a deployment's script over a data version, in parallel worker processes."""
