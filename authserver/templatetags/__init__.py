"""Template filters for the server-rendered pages."""
