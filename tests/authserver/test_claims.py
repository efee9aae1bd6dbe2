"""The claims a grant hands the writer (authserver.token_endpoint.binding.Claim): their SQL
parameters are the statement's placeholders and nothing else; what a refusal means travels
beside the SQL, as the claim's ``replay`` attribute, read by both writers."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone

from approvals.grant import UseApproval
from authserver.token_endpoint import families
from authserver.token_endpoint.grants.authorization_code import ConsumeCode
from authserver.token_endpoint.grants.refresh_token import RotateRefreshToken
from authserver.token_endpoint.grants.token_exchange import AssignFamily

FAMILY = uuid.uuid4()
CLAIMS = [
    ConsumeCode(1, FAMILY),
    RotateRefreshToken(1, FAMILY, live=True),
    RotateRefreshToken(1, None, live=False),
    AssignFamily(1, FAMILY),
    UseApproval(1),
]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# The family steps of the writer's statement read a refresh claim's parameters too.
FAMILY_STEPS = families.ROTATE + families.JOIN + families.SOURCE_OF_ROTATION


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: type(c).__name__)
def test_claim_sql_parameters_are_only_the_statements_placeholders(claim):
    text, params = claim.sql(now=timezone.now())
    # The writer folds ``params`` into one statement: a key no placeholder uses would be
    # metadata riding along with the SQL (the refusal's meaning is ``claim.replay``).
    assert set(params) <= set(PLACEHOLDER.findall(text + FAMILY_STEPS)), type(claim).__name__


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: type(c).__name__)
def test_every_claim_says_what_its_refusal_means(claim):
    assert isinstance(claim.replay, str)
    assert isinstance(claim.refused, str)
    if claim.gate and getattr(claim, "family", None) is not None:
        assert claim.replay  # a refused claim that continues a family revokes it under this


def test_code_and_refresh_claims_revoke_under_their_rfc_reasons():
    assert ConsumeCode.replay == "code_replay"  # RFC 6749 §4.1.2
    assert RotateRefreshToken.replay == "refresh_reuse"  # OAuth 2.1 §4.3.1
