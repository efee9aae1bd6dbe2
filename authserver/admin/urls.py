"""The admin's own pages beyond model lists (mounted by authserver.admin_site.OperatorsSite)."""

from __future__ import annotations

from django.urls import path
from django.views.decorators.http import require_POST

from authserver.admin import access_views, audit_stream


def urlpatterns(site) -> list:
    def page(view):
        return site.admin_view(lambda request: view(site, request))

    return [
        path("review/access/", page(access_views.person_review), name="access_review"),
        path(
            "review/access/cut-off/",
            site.admin_view(require_POST(lambda request: access_views.cut_off(site, request))),
            name="access_cut_off",
        ),
        path("review/tool/", page(access_views.tool_review), name="access_tool_review"),
        path("audit/stream/", page(audit_stream.help_page), name="audit_stream_help"),
        path("audit/stream.ndjson", page(audit_stream.ndjson), name="audit_stream"),
    ]
