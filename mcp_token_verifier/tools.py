"""Per-tool grants in access tokens (RFC 9396 ``authorization_details`` of type ``mcp_tool``).

One rule for both sides: the authorization server validates and narrows grants with these
functions, and an MCP server calls :func:`authorize_tool_call` once per tool call. The type::

    {"type": "mcp_tool",
     "locations": ["https://mcp.example.com/mcp"],        # the resource (RFC 9396 §2.2)
     "actions": ["list_notes", "add_note"],               # tool names
     "constraints": {"add_note": {"text": {"prefix": "todo:"}}}}   # optional, per tool

A constraint holds one or more of ``const`` (exact value), ``enum`` (allowed values),
``prefix`` (string prefix), ``pattern`` (a regular expression the whole string matches) and
``maximum`` (numeric maximum); all must hold. A constrained argument the call omits is
refused (fail closed). Several ``mcp_tool`` objects add up (RFC 9396 §2: the union).

Patterns are RE2 syntax, matched in linear time by the ``google-re2`` package (a dependency of
this package): a pattern such as ``(a+)+`` cannot pin a worker. Without ``re2`` importable,
every pattern constraint is malformed, so the call is refused (fail closed); Python's
backtracking ``re`` is never used for a pattern.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - installed with this package
    re2 = None

from mcp_token_verifier import approvals

TYPE = "mcp_tool"
CONSTRAINT_KEYS = ("const", "enum", "prefix", "pattern", "maximum")
MAX_PATTERN = 256  # in a request or policy
MAX_SIGNED_PATTERN = 1024  # in tokens and stored grants
MAX_MATCHED = 4096  # characters of an argument a pattern is run against
MAX_ENUM = 100
MAX_TOOL_NAME = 128
MAX_ACTIONS = 256  # tools in one mcp_tool object
MAX_CONSTRAINED_ARGUMENTS = 32  # constrained arguments of one tool
MAX_ARGUMENT_NAME = 128

# tool name -> argument name -> constraint
Grants = dict[str, dict[str, dict[str, Any]]]


class MalformedDetails(ValueError):
    """An ``mcp_tool`` object or constraint breaks the documented form."""


def is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and is_scalar(value)


def same_value(a: object, b: object) -> bool:
    """JSON equality: ``true`` is not ``1``; ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def validate_constraint(value: object, *, max_pattern: int = MAX_PATTERN) -> dict[str, Any]:
    """One argument's constraint, checked; MalformedDetails otherwise."""
    if not isinstance(value, dict) or not value:
        raise MalformedDetails("a constraint is a non-empty object")
    unknown = set(value) - set(CONSTRAINT_KEYS)
    if unknown:
        raise MalformedDetails(f"unknown constraint {sorted(unknown)[0]!r}")
    if "const" in value and not is_scalar(value["const"]):
        raise MalformedDetails("const is a string, number, boolean or null")
    if "enum" in value:
        enum = value["enum"]
        if not isinstance(enum, list) or not enum or len(enum) > MAX_ENUM:
            raise MalformedDetails(f"enum is a list of 1 to {MAX_ENUM} values")
        if not all(is_scalar(v) for v in enum):
            raise MalformedDetails("enum values are strings, numbers, booleans or null")
    if "prefix" in value and not isinstance(value["prefix"], str):
        raise MalformedDetails("prefix is a string")
    if "maximum" in value and not is_number(value["maximum"]):
        raise MalformedDetails("maximum is a finite number")
    if "pattern" in value:
        pattern = value["pattern"]
        if not isinstance(pattern, str) or len(pattern) > max_pattern:
            raise MalformedDetails(f"pattern is a string of at most {max_pattern} characters")
        compile_pattern(pattern)
    return dict(value)


def compile_pattern(pattern: str):
    """``pattern`` compiled by RE2 (linear-time matching, no backreferences or lookaround);
    MalformedDetails when it is not RE2 syntax or RE2 is not installed (fail closed)."""
    if re2 is None:
        raise MalformedDetails("pattern constraints need the google-re2 package")
    options = re2.Options()
    options.log_errors = False  # a refused pattern is our answer, not a line on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error:
        raise MalformedDetails("pattern is not a valid RE2 regular expression") from None


def _fullmatch(pattern: str, value: str) -> bool:
    try:
        return compile_pattern(pattern).fullmatch(value) is not None
    except MalformedDetails:
        return False  # fail closed


def violation(constraint: Mapping[str, Any], value: object) -> str:
    """Why ``value`` breaks ``constraint``, in words; "" when it satisfies it."""
    if "const" in constraint and not same_value(value, constraint["const"]):
        return f"must be {constraint['const']!r}"
    if "enum" in constraint and not any(same_value(value, v) for v in constraint["enum"]):
        return "must be one of " + ", ".join(repr(v) for v in constraint["enum"])
    if "prefix" in constraint and not (
        isinstance(value, str) and value.startswith(constraint["prefix"])
    ):
        return f"must start with {constraint['prefix']!r}"
    if "pattern" in constraint and not (
        isinstance(value, str)
        and len(value) <= MAX_MATCHED
        and _fullmatch(constraint["pattern"], value)
    ):
        return f"must match {constraint['pattern']!r}"
    if "maximum" in constraint and not (is_number(value) and value <= constraint["maximum"]):
        return f"must be a number of at most {constraint['maximum']!r}"
    return ""


def grants_of(detail: Mapping[str, Any], *, max_pattern: int = MAX_PATTERN) -> Grants:
    """The tools and constraints of one ``mcp_tool`` object (RFC 9396 §2), checked."""
    actions = detail.get("actions")
    if not isinstance(actions, list) or not actions or len(actions) > MAX_ACTIONS:
        raise MalformedDetails(f"actions is a list of 1 to {MAX_ACTIONS} tool names")
    if not all(isinstance(a, str) and 0 < len(a) <= MAX_TOOL_NAME for a in actions):
        raise MalformedDetails("each action is a tool name")
    constraints = detail.get("constraints", {})
    if not isinstance(constraints, dict):
        raise MalformedDetails("constraints is an object keyed by tool name")
    grants: Grants = {tool: {} for tool in actions}
    for tool, arguments in constraints.items():
        if tool not in grants:
            raise MalformedDetails(f"constraints name {tool!r}, which is not in actions")
        if not isinstance(arguments, dict) or len(arguments) > MAX_CONSTRAINED_ARGUMENTS:
            raise MalformedDetails(
                "a tool's constraints are an object keyed by argument name, "
                f"at most {MAX_CONSTRAINED_ARGUMENTS} arguments"
            )
        if not all(0 < len(str(arg)) <= MAX_ARGUMENT_NAME for arg in arguments):
            raise MalformedDetails(f"an argument name is 1 to {MAX_ARGUMENT_NAME} characters")
        grants[tool] = {
            str(arg): validate_constraint(c, max_pattern=max_pattern)
            for arg, c in arguments.items()
        }
    return grants


def check_call(arguments: Mapping[str, Any], constraints: Mapping[str, Mapping]) -> str:
    """The first argument rule a call breaks, as ``"<arg> <why>"``; "" when it breaks none."""
    for name, constraint in constraints.items():
        if name not in arguments:
            return f"{name} is required by its constraint"
        why = violation(constraint, arguments[name])
        if why:
            return f"{name} {why}"
    return ""


@dataclass(frozen=True)
class Decision:
    """The answer for one tool call. ``rule`` names what decided, for logs and the caller."""

    allowed: bool
    rule: str
    approval_required: bool = False  # ask for approval (approvals.approval_request), then retry

    def __bool__(self) -> bool:
        return self.allowed


PolicyHook = Callable[[Mapping[str, Any], str, Mapping[str, Any]], "Decision | None"]
# The hook every call uses when none is passed (set by mcp_token_verifier.pdp.configure).
default_policy_hook: list[PolicyHook] = []


def _audiences(claims: Mapping[str, Any]) -> set[str]:
    aud = claims.get("aud")
    return {aud} if isinstance(aud, str) else {a for a in aud or [] if isinstance(a, str)}


def authorize_tool_call(
    claims: Mapping[str, Any],
    tool: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    policy_hook: PolicyHook | None = None,
    approval_rules: Mapping[str, str | None] | None = None,
) -> Decision:
    """May the holder of these (verified) claims call ``tool`` with ``arguments``?

    A token without ``authorization_details`` grants every tool its scopes allow (the
    authorization server adds them whenever the resource registered its tools). With them,
    only a tool named in an ``mcp_tool`` object for this token's audience is allowed, and
    only if its argument constraints hold. ``policy_hook(claims, tool, arguments)`` may then
    refuse (return a refusing Decision) or say nothing (None); if it raises, the call is
    refused.
    """
    arguments = arguments or {}
    details = claims.get("authorization_details")
    if details is None:
        decision = Decision(True, "no authorization_details: the token's scope decides")
    else:
        decision = _decide(details, _audiences(claims), tool, arguments)
    if policy_hook is None and default_policy_hook:
        policy_hook = default_policy_hook[0]  # a configured PDP: live decisions (pdp.py)
    if decision.allowed and policy_hook is not None:
        try:
            extra = policy_hook(claims, tool, arguments)
        except Exception as exc:  # fail closed: a broken policy engine refuses
            return Decision(False, f"policy hook failed: {type(exc).__name__}")
        if extra is not None and not extra.allowed:
            return extra
    # Only a call the token and the policy allow is put to a person: a person approves this
    # one call first (mcp_token_verifier.approvals, docs/APPROVALS.md).
    if (
        decision.allowed
        and approval_rules
        and approvals.needs_approval(approval_rules, tool, arguments)
    ):
        return Decision(False, "approval required", approval_required=True)
    return decision


def _decide(details: object, audiences: set[str], tool: str, arguments: Mapping) -> Decision:
    if not isinstance(details, list) or not isinstance(arguments, Mapping):
        return Decision(False, "authorization_details: malformed")
    refusal = f"authorization_details: tool {tool!r} not granted"
    for detail in details:
        if not isinstance(detail, dict) or detail.get("type") != TYPE:
            continue  # RFC 9396 §2: other types are not ours to interpret
        locations = detail.get("locations")
        # RFC 9396 §2.2: an object with locations applies only at those resources.
        if locations is not None and not (
            isinstance(locations, list) and audiences & {x for x in locations if isinstance(x, str)}
        ):
            continue
        try:
            grants = grants_of(detail, max_pattern=MAX_SIGNED_PATTERN)
        except MalformedDetails as exc:
            return Decision(False, f"authorization_details: malformed ({exc})")
        if tool not in grants:
            continue
        broken = check_call(arguments, grants[tool])
        if not broken:
            return Decision(True, f"authorization_details: tool {tool!r} granted")
        refusal = f"authorization_details: {tool}.{broken}"
    return Decision(False, refusal)
