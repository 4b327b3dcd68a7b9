"""Configuration: pydantic models for stack settings and asset specs."""
