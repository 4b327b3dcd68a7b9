"""Local services the offline target runs: Azurite today, endpoints later."""
