"""Pulumi dynamic providers: thin translations of inputs into workspace calls."""
