"""authserver/errors.py: what an error description may contain (RFC 6749 §5.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from authserver.errors import description_text


def test_section_sign_in_a_citation_becomes_the_word_section():
    assert description_text("malformed scope (RFC 6749 §3.3)") == (
        "malformed scope (RFC 6749 section 3.3)"
    )


@given(st.text(max_size=200))
def test_description_holds_only_rfc6749_s5_2_characters(text):
    allowed = {0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)}
    assert all(ord(c) in allowed for c in description_text(text))
