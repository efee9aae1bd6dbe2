"""Management commands of the connections app."""
