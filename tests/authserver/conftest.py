"""Fixtures several modules here share, from tests/support: DPoP's ``key``, ``resource`` and
``machine``, and token exchange's ``world``. A module's own fixture of the same name wins."""

from tests.support.dpop import key, machine, resource  # noqa: F401
from tests.support.exchange import world  # noqa: F401
