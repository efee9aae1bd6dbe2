"""A batch of audit records as one signed JSON POST, as Standard Webhooks specifies
(https://www.standardwebhooks.com, "Signature scheme"): headers ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``<id>.<timestamp>.<body>``, keyed by the secret's bytes (``whsec_<base64>``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time

import httpx

from authserver import egress
from authserver.audit_sinks.targets import SinkUnavailable

PREFIX = "whsec_"
KEY_BYTES = (24, 64)  # Standard Webhooks: secrets are 24 to 64 random bytes


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret; ValueError saying what is wrong."""
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_ (Standard Webhooks)")
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("after whsec_ the secret is base64") from None
    if not KEY_BYTES[0] <= len(key) <= KEY_BYTES[1]:
        raise ValueError("the secret is 24 to 64 bytes (32 to 88 base64 characters)")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def message_id(records: list[dict]) -> str:
    """The same for every retry of the same events: a receiver can drop a repeat."""
    return f"audit-{records[0]['chain_index']}-{records[-1]['chain_index']}"


def body_of(records: list[dict]) -> bytes:
    return json.dumps(records, sort_keys=True, separators=(",", ":")).encode()


def send(sink, records: list[dict], secret: str) -> None:
    body = body_of(records)
    msg_id, now = message_id(records), int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature(secret_key(secret), msg_id, now, body),
    }
    post(sink, body, headers)


def post(sink, body: bytes, headers: dict) -> None:
    """POST and wait for a 2xx; the answer's body is never read. The operator's egress proxy
    is honoured by the project's one rule (authserver.egress.proxy_for); no redirects."""
    timeout = httpx.Timeout(float(sink.timeout))
    try:
        with (
            httpx.Client(
                timeout=timeout,
                follow_redirects=False,
                trust_env=True,
                proxy=egress.proxy_for(sink.url),
            ) as http,
            http.stream("POST", sink.url, content=body, headers=headers) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        raise SinkUnavailable("timeout") from None
    except httpx.HTTPError as exc:
        raise SinkUnavailable(f"connection failed ({type(exc).__name__})") from None
    if not 200 <= status < 300:
        raise SinkUnavailable(f"answered HTTP {status}")
