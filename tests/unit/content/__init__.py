"""Tests of mlstack.content."""
