"""Live decisions from the authorization server's AuthZEN policy decision point (docs/AUTHZEN.md).

A token's tool grants were decided when it was issued; with a PDP configured, each tool call
is also asked "may this user, through this client, call this tool with these arguments,
now?" (OpenID AuthZEN Authorization API 1.0, ``POST /access/v1/evaluation``), so a
permission an admin removes refuses the next call, not the next token. One setting::

    from mcp_token_verifier import pdp
    pdp.configure(pdp.PdpClient("https://auth.example.com/access/v1/evaluation",
                                client_id=..., client_secret=...,
                                resource="https://mcp.example.com/mcp"))

after which ``authorize_tool_call`` asks it on every call (or pass the client as its
``policy_hook``). Fail closed: a PDP that cannot be reached, answers anything but a decision,
or takes longer than ``timeout`` refuses the call. Answers are kept ``cache_seconds`` (1 s by
default), so a change reaches calls within that time. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from mcp_token_verifier import tools
from mcp_token_verifier.fetch import USER_AGENT
from mcp_token_verifier.tools import Decision

MAX_ANSWER_BYTES = 64 * 1024
MAX_CACHED = 10_000

# (url, headers, body) -> (status, body); replaceable (another HTTP stack, or a test).
Post = Callable[[str, Mapping[str, str], bytes], tuple[int, bytes]]


def make_urllib_post(timeout: float) -> Post:
    def post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        if urlsplit(url).scheme not in ("https", "http"):
            raise ValueError("the PDP URL must be http(s)")
        request = urllib.request.Request(  # noqa: S310 -- scheme checked just above
            url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, b""

    return post


class PdpClient:
    """An AuthZEN PEP for one MCP server; callable as an ``authorize_tool_call`` policy hook."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: str,
        resource: str,
        cache_seconds: float = 1.0,
        timeout: float = 2.0,
        post: Post | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.resource = resource
        # RFC 6749 §2.3.1: client_secret_basic, each part form-urlencoded.
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self.cache_seconds = cache_seconds
        self._post = post or make_urllib_post(timeout)
        self._clock = clock
        self._cache: dict[str, tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def evaluation(
        self, claims: Mapping[str, Any], tool: str, arguments: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The AuthZEN request for one call: the user and the client (agent) of the token,
        ``tools/call`` of ``tool``, this MCP server, the arguments."""
        client_id = str(claims.get("client_id", ""))
        sub = str(claims.get("sub", ""))
        if sub and sub != client_id:
            properties: dict[str, Any] = {"client_id": client_id}
            if isinstance(claims.get("act"), Mapping):
                properties["act"] = dict(claims["act"])  # RFC 8693 §4.1 delegation chain
            subject = {"type": "user", "id": sub, "properties": properties}
        else:
            subject = {"type": "client", "id": client_id}
        return {
            "subject": subject,
            "action": {"name": "tools/call", "properties": {"tool": tool}},
            "resource": {"type": "mcp_server", "id": self.resource},
            "context": {"arguments": dict(arguments)},
        }

    def decide(
        self, claims: Mapping[str, Any], tool: str, arguments: Mapping[str, Any] | None = None
    ) -> Decision:
        body = json.dumps(
            self.evaluation(claims, tool, arguments or {}), sort_keys=True, default=str
        ).encode()
        key = hashlib.sha256(body).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        decision = self._ask(body)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (now, decision)
        return decision

    def _ask(self, body: bytes) -> Decision:
        headers = {"Content-Type": "application/json", "Authorization": self._authorization}
        try:
            status, answer = self._post(self.url, headers, body)
        except Exception as exc:  # fail closed: no answer is a refusal
            return Decision(False, f"pdp: unreachable ({type(exc).__name__})")
        if status != 200 or len(answer) > MAX_ANSWER_BYTES:
            return Decision(False, f"pdp: answered HTTP {status}")
        try:
            result = json.loads(answer)
        except ValueError:
            return Decision(False, "pdp: not a JSON answer")
        if not isinstance(result, dict) or not isinstance(result.get("decision"), bool):
            return Decision(False, "pdp: no decision in the answer")
        context = result.get("context") if isinstance(result.get("context"), dict) else {}
        if result["decision"] is not True:
            return Decision(False, f"pdp: denied ({str(context.get('reason', ''))[:200]})")
        return Decision(True, "pdp: permitted")

    def __call__(
        self, claims: Mapping[str, Any], tool: str, arguments: Mapping[str, Any]
    ) -> Decision:
        return self.decide(claims, tool, arguments)


def configure(client: PdpClient | None) -> None:
    """Make ``authorize_tool_call`` ask ``client`` on every call (None: stop asking)."""
    tools.default_policy_hook[:] = [client] if client is not None else []
