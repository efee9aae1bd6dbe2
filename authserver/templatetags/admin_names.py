"""``{{ title|operator_name }}``: a model's plural name as the admin shows it (MCP servers,
SCIM identities, ID tokens), for the theme's header, which reads models' verbose names."""

from __future__ import annotations

from functools import cache

from django import template
from django.apps import apps
from django.utils.functional import Promise

from authserver.admin_site import MODEL_NAMES

register = template.Library()


@cache
def _names() -> dict[str, str]:
    names = {}
    for label, (_singular, plural) in MODEL_NAMES.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        names[str(model._meta.verbose_name_plural)] = plural
    return names


@register.filter
def operator_name(title) -> object:
    if isinstance(title, str | Promise):  # verbose names are often lazy strings
        return _names().get(str(title), title)
    return title  # an object (a change page's last crumb)
