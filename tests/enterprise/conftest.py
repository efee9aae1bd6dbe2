"""Fixtures for enterprise authorization tests: loopback issuers, JWKS fetching allowed
on loopback (CIMD_ALLOW_LOOPBACK, the development mode), an empty JWKS cache per test."""

from __future__ import annotations

import dataclasses

import pytest

from enterprise import jwks
from tests.enterprise.support import LoopbackIssuer


@pytest.fixture(autouse=True)
def _fresh_jwks_cache():
    jwks.clear()
    yield
    jwks.clear()


@pytest.fixture
def loopback_fetch(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, cimd_allow_loopback=True)


@pytest.fixture
def make_issuer(loopback_fetch):
    made: list[LoopbackIssuer] = []

    def make(**kwargs) -> LoopbackIssuer:
        made.append(LoopbackIssuer(**kwargs))
        return made[-1]

    yield make
    for issuer in made:
        issuer.close()


@pytest.fixture
def idp(make_issuer) -> LoopbackIssuer:
    return make_issuer()
