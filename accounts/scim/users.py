"""SCIM User resources (RFC 7643 §4.1) mapped onto Django users: parse, patch, render.

Every function validates the whole request into a plain ``UserChanges`` first; the view
applies it in one transaction. Attributes outside the core and enterprise User schemas are
refused (``invalidSyntax``); known ones we do not keep (phone numbers, addresses...) are
accepted and ignored. ``password`` is ignored: users sign in through their provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
KEPT = {"username", "externalid", "name", "displayname", "emails", "active"}
IGNORED = {
    "schemas", "id", "meta", "nickname", "profileurl", "title", "usertype", "preferredlanguage",
    "locale", "timezone", "password", "phonenumbers", "ims", "photos", "addresses", "groups",
    "entitlements", "roles", "x509certificates", ENTERPRISE,
}  # fmt: skip
_username = UnicodeUsernameValidator()


@dataclass
class UserChanges:
    values: dict = field(default_factory=dict)  # Django field -> value
    external_id: object = ...  # ... = unchanged


def username_key(name: str) -> str:
    """The login's normalisation (NFKC, as Django's UsernameField), then Unicode case folding
    (RFC 7643 §4.1.1: userName is not case-exact). "admin" spelt with a dotless i (U+0131)
    stays apart from "admin", which PostgreSQL's locale-dependent case-insensitive match
    may conflate."""
    return AbstractBaseUser.normalize_username(name).casefold()


def same_username(queryset, name: str) -> list[int]:
    """Ids of the users whose userName equals ``name`` under ``username_key``."""
    key = username_key(name)
    candidates = queryset.filter(username__iexact=name).values_list("pk", "username")
    return [pk for pk, username in candidates if username_key(username) == key]


def _text(value, name: str, max_length: int) -> str:
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid_value(f"{name} must be a string of at most {max_length} characters")
    if "\x00" in value:  # PostgreSQL text holds no NUL: refused here, not a 500 there
        raise invalid_value(f"{name} must not contain a NUL character")
    return value.strip()


def _bool(value, name: str) -> bool:
    # Entra ID sends "True"/"False" strings in PATCH values.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(f"{name} must be a boolean")


def _email(value) -> str:
    if isinstance(value, list):
        chosen = [e for e in value if isinstance(e, dict) and e.get("primary")] or value[:1]
        value = chosen[0].get("value", "") if chosen and isinstance(chosen[0], dict) else ""
    email = _text(value, "emails.value", 254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise invalid_value("emails.value is not an email address") from None
    return email


def _set(changes: UserChanges, attribute: str, value, *, sub: str = "") -> None:
    """One attribute (lower-cased name) into ``changes``; ``sub`` for name.givenName etc."""
    if attribute == "username":
        # The login's normalisation (NFKC, AbstractBaseUser.normalize_username), so a name
        # is stored, filtered and signed in with in one form.
        username = AbstractBaseUser.normalize_username(_text(value, "userName", 150))
        try:
            _username(username)
        except ValidationError:
            raise invalid_value("userName has characters a username cannot have") from None
        if not username:
            raise invalid_value("userName is required")
        changes.values["username"] = username
    elif attribute == "externalid":
        changes.external_id = _text(value, "externalId", 255) if value is not None else None
    elif attribute == "active":
        changes.values["is_active"] = _bool(value, "active")
    elif attribute == "emails":
        changes.values["email"] = _email(value)
    elif attribute == "displayname":
        _text(value, "displayName", 300)  # validated, derived from name
    elif attribute == "name" and sub:
        _set_name(changes, {sub: value})
    elif attribute == "name":
        if not isinstance(value, dict):
            raise invalid_value("name must be an object")
        _set_name(changes, value)
    elif attribute in IGNORED:
        return
    else:
        raise invalid_syntax(f"unknown attribute {attribute}")


def _set_name(changes: UserChanges, value: dict) -> None:
    for key, part in value.items():
        lowered = key.lower()
        if lowered == "givenname":
            changes.values["first_name"] = _text(part, "name.givenName", 150)
        elif lowered == "familyname":
            changes.values["last_name"] = _text(part, "name.familyName", 150)
        elif lowered not in ("formatted", "middlename", "honorificprefix", "honorificsuffix"):
            raise invalid_syntax(f"unknown attribute name.{key}")


def parse_user(payload, *, require_username: bool = True) -> UserChanges:
    """POST and PUT bodies (RFC 7644 §3.3, §3.5.1)."""
    if not isinstance(payload, dict):
        raise invalid_syntax("the body must be a JSON object")
    schemas = payload.get("schemas")
    if not isinstance(schemas, list) or USER_SCHEMA not in schemas:
        raise invalid_syntax(f"schemas must include {USER_SCHEMA}")
    changes = UserChanges()
    for key, value in payload.items():
        _set(changes, key.lower(), value)
    if require_username and "username" not in changes.values:
        raise invalid_value("userName is required")
    return changes


def _path_target(path: str) -> tuple[str, str]:
    """``active`` -> (active, ""); ``name.givenName`` -> (name, givenname);
    ``emails[type eq "work"].value`` -> (emails, "") as Entra ID sends it."""
    lowered = path.strip().lower()
    if lowered.startswith(USER_SCHEMA.lower() + ":"):
        lowered = lowered[len(USER_SCHEMA) + 1 :]
    if lowered.startswith("emails[") and lowered.endswith("].value"):
        return "emails", ""
    if lowered.startswith(ENTERPRISE):
        return ENTERPRISE, ""
    attribute, _, sub = lowered.partition(".")
    if attribute not in KEPT | IGNORED or "[" in attribute:
        raise invalid_path(f"unsupported path {path}")
    return attribute, sub


def parse_patch(payload) -> UserChanges:
    """RFC 7644 §3.5.2 PATCH: add/replace with or without a path; remove only of externalId."""
    operations = _operations(payload)
    changes = UserChanges()
    for operation in operations:
        op = operation["op"]
        path, value = operation.get("path"), operation.get("value")
        if op == "remove":
            if path is None or _path_target(path)[0] != "externalid":
                raise ScimNoTarget(path)
            changes.external_id = None
        elif path is None:
            if not isinstance(value, dict):
                raise invalid_syntax("an operation without a path needs an object value")
            for key, item in value.items():
                attribute, sub = _path_target(key)
                _set(changes, attribute, item, sub=sub)
        else:
            attribute, sub = _path_target(path)
            if attribute == "emails" and isinstance(value, str):
                value = [{"value": value, "primary": True}]
            _set(changes, attribute, value, sub=sub)
    return changes


def ScimNoTarget(path) -> Exception:
    return ScimError(400, f"cannot remove {path or 'without a path'}", "noTarget")


def _operations(payload) -> list[dict]:
    if not isinstance(payload, dict) or PATCH_SCHEMA not in (payload.get("schemas") or []):
        raise invalid_syntax(f"schemas must include {PATCH_SCHEMA}")
    operations = payload.get("Operations", payload.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("Operations must be a non-empty list")
    cleaned = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid_syntax("each operation must be an object")
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise invalid_syntax("op must be add, replace or remove")
        path = operation.get("path")
        if path is not None and not isinstance(path, str):
            raise invalid_path("path must be a string")
        cleaned.append({**operation, "op": op.lower()})
    return cleaned


def render_user(user, location: str) -> dict:
    identity = getattr(user, "scim_identity", None)
    full_name = f"{user.first_name} {user.last_name}".strip()
    data = {
        "schemas": [USER_SCHEMA],
        "id": str(user.pk),
        "userName": user.username,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": full_name or user.username,
        "active": user.is_active,
        "emails": [{"value": user.email, "primary": True, "type": "work"}] if user.email else [],
        "groups": [{"value": str(g.pk), "display": g.name} for g in user.groups.all()],
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "location": location,
        },
    }
    if identity is not None and identity.external_id:
        data["externalId"] = identity.external_id
    return data
