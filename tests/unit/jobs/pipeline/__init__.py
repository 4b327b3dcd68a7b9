"""Tests of mlstack.jobs.pipeline."""
