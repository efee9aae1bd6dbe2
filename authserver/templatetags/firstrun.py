"""``{% first_run_panel %}``: the admin home's "what next" panel (authserver.firstrun)."""

from __future__ import annotations

from django import template
from django.conf import settings

from authserver import firstrun

register = template.Library()


@register.inclusion_tag("admin/first_run.html")
def first_run_panel() -> dict:
    return firstrun.next_steps(issuer=settings.ISSUER)
