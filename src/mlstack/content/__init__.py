"""Content layer: hashing, manifests and blob transfer, shared by both workspace backends."""
