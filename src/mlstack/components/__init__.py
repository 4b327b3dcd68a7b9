"""ComponentResources that group infrastructure per target; no asset logic here."""
