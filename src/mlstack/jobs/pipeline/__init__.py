"""Pipeline jobs: CLI v2 pipeline YAML run step by step (locally) or submitted (Azure)."""
