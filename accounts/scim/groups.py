"""SCIM Group resources (RFC 7643 §4.2) mapped onto Django groups: parse, patch, render.

Members are users only (by SCIM id). Removing someone from a group that a resource or scope
requires revokes what they hold there at once (authserver.resources.grouppolicy, through the
membership signal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accounts.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value
from accounts.scim.users import _operations

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
_ALLOWED = {"schemas", "id", "meta", "externalid", "displayname", "members"}
_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
_MEMBER_FILTER = re.compile(r'^members\[value eq "([^"\\]+)"\]$', re.IGNORECASE)


@dataclass
class GroupChanges:
    name: str | None = None
    members: set[int] | None = None  # replace with exactly these
    add: frozenset[int] = frozenset()
    remove: frozenset[int] = frozenset()


def _members(value) -> set[int]:
    if not isinstance(value, list):
        raise invalid_value("members must be a list")
    ids = set()
    for member in value:
        raw = member.get("value") if isinstance(member, dict) else None
        # ASCII digits only: "²".isdigit() is true and int("²") raises.
        if not isinstance(raw, str) or not _ID.fullmatch(raw):
            raise invalid_value("each member needs the value of a User id")
        ids.add(int(raw))
    return ids


def _name(value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 150 or "\x00" in value:
        raise invalid_value("displayName must be a non-empty string of at most 150 characters")
    return value.strip()


def parse_group(payload) -> GroupChanges:
    if not isinstance(payload, dict):
        raise invalid_syntax("the body must be a JSON object")
    if GROUP_SCHEMA not in (payload.get("schemas") or []):
        raise invalid_syntax(f"schemas must include {GROUP_SCHEMA}")
    unknown = [k for k in payload if k.lower() not in _ALLOWED]
    if unknown:
        raise invalid_syntax(f"unknown attribute {unknown[0]}")
    lowered = {k.lower(): v for k, v in payload.items()}
    if "displayname" not in lowered:
        raise invalid_value("displayName is required")
    return GroupChanges(
        name=_name(lowered["displayname"]), members=_members(lowered.get("members", []))
    )


def parse_patch(payload) -> GroupChanges:
    changes = GroupChanges()
    add: set[int] = set()
    remove: set[int] = set()
    for operation in _operations(payload):
        op, path, value = operation["op"], operation.get("path"), operation.get("value")
        target = (path or "").strip().lower()
        match = _MEMBER_FILTER.match((path or "").strip())
        if op == "remove" and match:
            if not match.group(1).isdigit():
                raise invalid_value("member value must be a User id")
            remove.add(int(match.group(1)))
        elif target == "members" and op == "add":
            add |= _members(value)
        elif target == "members" and op == "remove":
            if value is None:
                changes.members = set()
            else:
                remove |= _members(value)
        elif target == "members" and op == "replace":
            changes.members = _members(value)
        elif target == "displayname" and op != "remove":
            changes.name = _name(value)
        elif not path and op in ("add", "replace") and isinstance(value, dict):
            for key, item in value.items():
                if key.lower() == "displayname":
                    changes.name = _name(item)
                elif key.lower() == "members":
                    changes.members = _members(item)
                elif key.lower() not in ("id", "externalid"):
                    raise invalid_syntax(f"unknown attribute {key}")
        elif target == "externalid":
            continue
        elif op == "remove":
            raise ScimError(400, f"cannot remove {path or 'without a path'}", "noTarget")
        else:
            raise invalid_path(f"unsupported path {path}")
    changes.add, changes.remove = frozenset(add), frozenset(remove)
    return changes


def render_group(group, location: str, base: str) -> dict:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.pk),
        "displayName": group.name,
        "members": [
            {"value": str(u.pk), "display": u.username, "$ref": f"{base}/Users/{u.pk}"}
            for u in group.user_set.order_by("pk")
        ],
        "meta": {"resourceType": "Group", "location": location},
    }
