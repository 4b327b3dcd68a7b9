"""Test infrastructure shared by the test suites: services that stand in for Azure."""
