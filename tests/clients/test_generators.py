"""clients.generators: DOT's alphabet and lengths, uniform, from secrets.token_bytes."""

from __future__ import annotations

from collections import Counter

import pytest

from clients import generators
from tests.factories import make_client


def test_client_ids_keep_dots_length_and_alphabet_and_never_a_colon():
    ids = {generators.ClientIdGenerator().hash() for _ in range(2000)}
    assert len(ids) == 2000
    for client_id in ids:
        assert len(client_id) == 40
        assert set(client_id) <= set(generators.ALPHABET)  # RFC 7617 §2: no ":"


def test_placeholder_secrets_keep_dots_length():
    from oauth2_provider.settings import oauth2_settings

    secret = generators.ClientSecretGenerator().hash()
    assert len(secret) == oauth2_settings.CLIENT_SECRET_GENERATOR_LENGTH


def test_no_modulo_bias_the_first_characters_are_not_drawn_more_often():
    # 256 % 62 == 8: without rejection, the first 8 characters would come 5/4 as often.
    counts = Counter(generators.random_string(250_000))
    first = sum(counts[c] for c in generators.ALPHABET[:8]) / 8
    rest = sum(counts[c] for c in generators.ALPHABET[8:]) / (len(generators.ALPHABET) - 8)
    assert set(counts) == set(generators.ALPHABET)
    assert abs(first / rest - 1) < 0.05


@pytest.mark.django_db
def test_a_new_client_gets_its_id_from_the_generator():
    client, _ = make_client()
    assert len(client.client_id) == 40
    assert set(client.client_id) <= set(generators.ALPHABET)
