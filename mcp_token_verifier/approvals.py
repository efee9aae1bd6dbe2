"""Per-call approval: which calls need a person's approval, the digest of a call's arguments,
and the check of a one-time approval token against the call it approves.

Django-free, like the rest of the package; the authorization server uses the same functions.

- ``canonical_json`` is RFC 8785 (JSON Canonicalization Scheme); ``arguments_digest`` is the
  base64url (no padding) SHA-256 of it, the ``arguments_digest`` of an ``mcp_tool`` object.
- A rule (``amount > 1000``, ``payee.country != "FR"``) is one comparison of a dotted JSON
  path with a JSON literal: bounded, no regular expressions, no functions. A rule that cannot
  be evaluated on a call (missing argument, wrong type) requires approval: fail closed.
- ``ApprovalChecker.check`` verifies that an (already signature-verified) approval token
  names this tool, at this resource, with exactly these arguments, and that its ``jti`` was
  never seen before (single use; in memory, or in Redis when given a client).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPE = "mcp_tool"
MAX_RULE = 200
MAX_PATH_DEPTH = 8
MAX_DEPTH = 64  # nesting of canonicalized values
OPERATORS = (">=", "<=", "==", "!=", ">", "<")  # two-character ones first


class NotCanonicalizable(ValueError):
    """A value RFC 8785 cannot represent (NaN, infinity, a lone surrogate, a huge integer)."""


class InvalidRule(ValueError):
    """A rule that breaks the documented form."""


# --- RFC 8785 -------------------------------------------------------------------------------


def _number(value: float | int) -> str:
    """RFC 8785 §3.2.2.3: ECMAScript's Number.prototype.toString for an IEEE 754 double."""
    if isinstance(value, int):
        # Numbers are doubles (RFC 8785 §3.2.2.3). An integer is accepted only when its
        # canonical text reads back as the same integer: 2^53 + 1, which would be digested
        # as 2^53, is refused rather than approving a different number (I-JSON §2.2).
        try:
            text = _number(float(value))
        except OverflowError:
            raise NotCanonicalizable("integer too large for an IEEE 754 double") from None
        exact = int(text) if text.lstrip("-").isdigit() else int(float(text))
        if exact != value:
            raise NotCanonicalizable("integer not exactly representable as a double")
        return text
    if not math.isfinite(value):
        raise NotCanonicalizable("NaN and infinity have no JSON form")
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip (as ECMAScript's algorithm does).
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole) + (int(exp) if exp else 0)  # decimal point position, ECMA-262 "n"
    n -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mark = "+" if e >= 0 else "-"
        head = digits[0] + ("." + digits[1:] if k > 1 else "")
        out = f"{head}e{mark}{abs(e)}"
    return sign + out


def _string(value: str) -> str:
    # RFC 8785 §3.2.2.2: JSON.stringify's escaping; json.dumps without ASCII escaping matches
    # it (\b \t \n \f \r, other controls as lowercase \u00xx, '"' and '\\').
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotCanonicalizable("lone surrogate in a string") from None
    return json.dumps(value, ensure_ascii=False)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")  # RFC 8785 §3.2.3: UTF-16 code units


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise NotCanonicalizable("nesting too deep")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    elif isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise NotCanonicalizable("object keys are strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out, depth + 1)
        out.append("}")
    else:
        raise NotCanonicalizable(f"{type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical form of a JSON value (as parsed by ``json.loads``)."""
    out: list[str] = []
    _write(value, out, 0)
    return "".join(out)


def arguments_digest(arguments: Any) -> str:
    """base64url(SHA-256(JCS(arguments))), without padding."""
    raw = hashlib.sha256(canonical_json(arguments).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    path: tuple[str, ...]
    op: str
    value: Any

    def __str__(self) -> str:
        return f"{'.'.join(self.path)} {self.op} {json.dumps(self.value)}"


def parse_rule(text: str) -> Rule:
    """``<path> <op> <JSON literal>``; path segments are letters, digits, ``_`` and ``-``."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_RULE:
        raise InvalidRule(f"a rule is 1 to {MAX_RULE} characters")
    for op in OPERATORS:
        left, found, right = text.partition(op)
        if found:
            break
    else:
        raise InvalidRule("a rule compares with one of " + " ".join(OPERATORS))
    path = tuple(left.strip().split("."))
    if not 0 < len(path) <= MAX_PATH_DEPTH or not all(
        seg and all(c.isascii() and (c.isalnum() or c in "_-") for c in seg) for seg in path
    ):
        raise InvalidRule("the left side is a dotted argument path, e.g. payee.iban")
    try:
        value = json.loads(right.strip())
    except ValueError:
        raise InvalidRule('the right side is a JSON literal: 1000, "EUR", true or null') from None
    if isinstance(value, list | dict) or (isinstance(value, float) and not math.isfinite(value)):
        raise InvalidRule("the right side is a number, string, boolean or null")
    if op not in ("==", "!=") and not _is_number(value):
        raise InvalidRule(f"{op} compares numbers")
    return Rule(path, op, value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def rule_matches(rule: Rule, arguments: Mapping[str, Any]) -> bool:
    """Whether the call falls under the rule; True when it cannot be evaluated (fail closed)."""
    value: Any = arguments
    for segment in rule.path:
        if not isinstance(value, Mapping) or segment not in value:
            return True
        value = value[segment]
    if rule.op == "==":
        return _same(value, rule.value)
    if rule.op == "!=":
        return not _same(value, rule.value)
    if not _is_number(value) or not math.isfinite(value):
        return True
    return {
        ">": value > rule.value,
        ">=": value >= rule.value,
        "<": value < rule.value,
        "<=": value <= rule.value,
    }[rule.op]


def needs_approval(rules: Mapping[str, str | None], tool: str, arguments: Mapping) -> bool:
    """``rules`` maps a tool to its rule (None or "": every call of it needs approval)."""
    if tool not in rules:
        return False
    text = rules[tool]
    if not text:
        return True
    try:
        return rule_matches(parse_rule(text), arguments)
    except InvalidRule:
        return True  # a broken rule requires approval


def approval_request(resource: str, tool: str, arguments: Mapping, summary: str) -> dict:
    """The ``mcp_tool`` object an MCP server sends to the backchannel endpoint."""
    return {
        "type": TYPE,
        "locations": [resource],
        "actions": [tool],
        "arguments": dict(arguments),
        "arguments_digest": arguments_digest(arguments),
        "summary": summary,
    }


# --- the one-time token ---------------------------------------------------------------------


class ApprovalError(Exception):
    """The approval token does not approve this call (or was used before)."""


class ApprovalChecker:
    """Check approval tokens and remember their ``jti`` until they expire.

    ``redis`` (a redis-py client) shares the memory across processes with ``SET NX``; without
    it, one process's memory is used (enough for a single-process MCP server)."""

    def __init__(self, resource: str, *, redis: Any = None, clock=time.time) -> None:
        self.resource = resource
        self.redis = redis
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, claims: Mapping[str, Any], tool: str, arguments: Mapping) -> str:
        """The approval's id, or ApprovalError. ``claims`` come from TokenVerifier.verify."""
        detail = approved_detail(claims, self.resource, tool)
        try:
            digest = arguments_digest(arguments)
        except NotCanonicalizable as exc:
            raise ApprovalError(f"arguments cannot be canonicalized: {exc}") from None
        if not hmac.compare_digest(digest, str(detail.get("arguments_digest", ""))):
            raise ApprovalError("the arguments differ from the approved ones")
        jti, exp = claims.get("jti"), claims.get("exp")
        if not isinstance(jti, str) or not jti or not _is_number(exp):
            raise ApprovalError("an approval token needs jti and exp")
        if not self._first_use(jti, float(exp)):
            raise ApprovalError("this approval was already used")
        return str(detail.get("approval", ""))

    def _first_use(self, jti: str, exp: float) -> bool:
        ttl = max(1, math.ceil(exp - self.clock()) + 1)
        if self.redis is not None:
            return bool(self.redis.set(f"mcp-approval-jti:{jti}", 1, nx=True, ex=ttl))
        now = self.clock()
        with self._lock:
            for seen, until in list(self._seen.items()):
                if until < now:
                    del self._seen[seen]
            if jti in self._seen:
                return False
            self._seen[jti] = now + ttl
            return True


def approved_detail(claims: Mapping[str, Any], resource: str, tool: str) -> dict:
    """The one ``mcp_tool`` object of an approval token, naming exactly this tool here."""
    details = claims.get("authorization_details")
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise ApprovalError("an approval token carries exactly one mcp_tool object")
    detail = details[0]
    if detail.get("type") != TYPE or "arguments_digest" not in detail:
        raise ApprovalError("not an approval token")
    if detail.get("actions") != [tool]:
        raise ApprovalError("the approval is for another tool")
    if detail.get("locations") != [resource]:
        raise ApprovalError("the approval is for another MCP server")
    return detail
