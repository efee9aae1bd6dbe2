"""Management commands of the authserver app."""
