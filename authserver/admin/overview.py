"""An admin page with the metrics at a glance; charts rendered server-side as SVG."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from authserver.models import (
    AccessToken,
    AuditEvent,
    Resource,
    RevocationListSnapshot,
    SigningKey,
)
from authserver.ops import metrics

CHART_HEIGHT = 120  # plot area, in SVG user units (the SVG scales to its panel's width)
BAR_WIDTH = 22
BAR_GAP = 4
LEFT = 40  # room for the peak value on the y axis
LABEL_EVERY = 6  # one hour label every six bars: 24 hours -> 4 labels, never overlapping
LABEL_ROOM = 18


def bars(series: list[tuple[str, int]]) -> dict:
    """Bar geometry for a server-rendered SVG chart with a ``viewBox`` of ``width x height``."""
    peak = max((v for _, v in series), default=0) or 1
    items, labels = [], []
    for i, (label, value) in enumerate(series):
        height = round(value / peak * CHART_HEIGHT)
        x = LEFT + i * (BAR_WIDTH + BAR_GAP)
        items.append(
            {"x": x, "y": CHART_HEIGHT - height, "height": height, "label": label, "value": value}
        )
        if i % LABEL_EVERY == 0:
            labels.append({"x": x, "text": label})
    return {
        "items": items,
        "labels": labels,
        "bar_width": BAR_WIDTH,
        "left": LEFT,
        "width": LEFT + len(series) * (BAR_WIDTH + BAR_GAP),
        "plot_height": CHART_HEIGHT,
        "height": CHART_HEIGHT + LABEL_ROOM,
        "label_y": CHART_HEIGHT + 14,
        "total": sum(v for _, v in series),
        "peak": peak,
    }


def tokens_per_hour(now, hours: int = 24) -> list[tuple[str, int]]:
    """Tokens issued per hour, from the audit trail (no counter on the hot path)."""
    from datetime import timedelta

    from django.db.models import Count
    from django.db.models.functions import TruncHour

    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    rows = (
        AuditEvent.objects.filter(
            kind__in=("token.issued", "token.refreshed", "token.exchanged"), at__gte=start
        )
        .annotate(hour=TruncHour("at"))
        .values("hour")
        .annotate(n=Count("id"))
    )
    counts = {row["hour"].strftime("%Y%m%d%H"): row["n"] for row in rows}
    stamps = [start + timedelta(hours=h) for h in range(hours)]
    return [(f"{t:%H}:00", counts.get(t.strftime("%Y%m%d%H"), 0)) for t in stamps]


def overview(request: HttpRequest) -> HttpResponse:
    """Each panel needs the view permission of what it counts: staff without permissions see
    the page's frame, not key ids, token counts or the audit trail's figures."""
    now = timezone.now()
    can = request.user.has_perm
    snapshot = RevocationListSnapshot.objects.filter(id=1).first()
    context = {
        **admin.site.each_context(request),  # the admin's branding, navigation and theme
        "title": "Overview",
        "charts": [],
        "active": None,
        "keys": None,
        "now": now,
        "snapshot": None,
        "list_age": None,
    }
    if can("authserver.view_auditevent"):
        context["charts"] = [
            {"title": "Tokens issued", "css": "bar-tokens", "data": bars(tokens_per_hour(now))},
            {
                "title": "OAuth errors",
                "css": "bar-errors",
                "data": bars(metrics.hourly_series("errors")),
            },
        ]
    if can("authserver.view_accesstoken"):
        context["active"] = {
            r.identifier: AccessToken.objects.filter(
                resource=[r.identifier], expires__gt=now, revoked_at__isnull=True
            ).count()
            for r in Resource.objects.order_by("name")
        }
    if can("authserver.view_signingkey"):
        context["keys"] = SigningKey.objects.filter(state__in=("pending", "active", "retiring"))
        context["snapshot"] = snapshot
        context["list_age"] = (now - snapshot.issued_at).total_seconds() if snapshot else None
    return render(request, "admin/overview.html", context)
