"""The MCP server's side of CIBA (Core 1.0 §7, §10.1): ask the authorization server for a
person's approval of one call, then collect the one-time token. Standard library only.

    asker = ApprovalAsker(backchannel_endpoint, token_endpoint, client_id, client_secret)
    pending = asker.ask(sub=claims["sub"], resource=RESOURCE, tool="transfer",
                        arguments=args, summary="Transfer €4,000 to X", binding_message="K7-42")
    # send pending.approval_uri to the client (URL-mode elicitation); later:
    token = asker.collect(pending.auth_req_id)   # raises Pending while the person decides
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from mcp_token_verifier import approvals

GRANT_TYPE = "urn:openid:params:grant-type:ciba"
MAX_RESPONSE = 65_536


class Pending(Exception):
    """``authorization_pending`` or ``slow_down``: ask again later."""


class Refused(Exception):
    """``access_denied``, ``expired_token``, ``invalid_grant`` or another error: start over."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error


@dataclass(frozen=True)
class PendingApproval:
    auth_req_id: str
    approval_uri: str
    expires_in: int
    interval: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an error here: never re-send credentials elsewhere


_OPENER = urllib.request.build_opener(_NoRedirect)


class ApprovalAsker:
    def __init__(
        self, backchannel_endpoint: str, token_endpoint: str, client_id: str, client_secret: str
    ) -> None:
        self.backchannel_endpoint = backchannel_endpoint
        self.token_endpoint = token_endpoint
        # RFC 6749 §2.3.1: client_secret_basic, each part form-encoded first.
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        self._auth = "Basic " + base64.b64encode(pair).decode()

    def _post(self, url: str, form: Mapping[str, str]) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 - https/http endpoints from metadata
            url,
            data=urlencode(form).encode(),
            headers={"Authorization": self._auth, "Accept": "application/json"},
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=10) as response:
                status, raw = response.status, response.read(MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(MAX_RESPONSE)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        return status, body if isinstance(body, dict) else {}

    def ask(
        self,
        *,
        sub: str,
        resource: str,
        tool: str,
        arguments: Mapping,
        summary: str,
        binding_message: str = "",
    ) -> PendingApproval:
        detail = approvals.approval_request(resource, tool, arguments, summary)
        form = {"login_hint": sub, "authorization_details": json.dumps([detail])}
        if binding_message:
            form["binding_message"] = binding_message
        status, body = self._post(self.backchannel_endpoint, form)
        if status != 200 or not isinstance(body.get("auth_req_id"), str):
            raise Refused(str(body.get("error", status)), str(body.get("error_description", "")))
        return PendingApproval(
            auth_req_id=body["auth_req_id"],
            approval_uri=str(body.get("approval_uri", "")),
            expires_in=int(body.get("expires_in", 0)),
            interval=int(body.get("interval", 5)),
        )

    def rules(self, rules_endpoint: str, resource: str) -> dict[str, str]:
        """The admin's approval rules for ``resource`` (tool -> rule, "" = every call), for
        ``authorize_tool_call(..., approval_rules=...)``."""
        status, body = self._post(rules_endpoint, {"resource": resource})
        found = body.get("rules")
        if status != 200 or not isinstance(found, dict):
            raise Refused(str(body.get("error", status)), str(body.get("error_description", "")))
        return {str(k): str(v) for k, v in found.items()}

    def collect(self, auth_req_id: str) -> str:
        """The one-time access token once approved; Pending or Refused before or otherwise."""
        form = {"grant_type": GRANT_TYPE, "auth_req_id": auth_req_id}
        status, body = self._post(self.token_endpoint, form)
        if status == 200 and isinstance(body.get("access_token"), str):
            return body["access_token"]
        error = str(body.get("error", status))
        if error in ("authorization_pending", "slow_down"):
            raise Pending(error)
        raise Refused(error, str(body.get("error_description", "")))
