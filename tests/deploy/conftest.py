"""The embedded default as a module-scoped fixture (tests/support/deploy.py): each module that
asks for ``embedded`` gets its own server."""

from tests.support.deploy import embedded  # noqa: F401
