"""SCIM media types (RFC 7644 §3.1: application/scim+json; plain JSON accepted too)."""

from __future__ import annotations

import json

from rest_framework import exceptions, parsers, renderers

MAX_BODY = 256 * 1024


class ScimJSONParser(parsers.BaseParser):
    media_type = "application/scim+json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BODY + 1) if stream is not None else b""
        if len(raw) > MAX_BODY:
            raise exceptions.ParseError("body too large")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: JSON nested deeper than the parser's stack (RFC 7644 §3.12
            # invalidSyntax, not a 500).
            raise exceptions.ParseError("malformed JSON") from None


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


class PlainJSONParser(ScimJSONParser):
    media_type = "application/json"


class ScimJSONRenderer(renderers.JSONRenderer):
    media_type = "application/scim+json"
    format = "scim"


class PlainJSONRenderer(renderers.JSONRenderer):
    pass
