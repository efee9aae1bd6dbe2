"""The base every admin page of this server uses: django-unfold's ModelAdmin, with the labels
an operator reads and help text rendered as text, not Markdown.

Model and field verbose names stay as they are (changing them needs a migration in every
app); the admin shows the right words through ``FIELD_LABELS`` and ``MODEL_NAMES``.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib.admin.utils import label_for_field, quote, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from authserver.admin_site import MODEL_NAMES

FIELD_LABELS = {
    "require_dpop": "Require DPoP",
    "application": "Client",
    "revoked_at": "Revoked",
    "client_id": "Client ID",
    "kid": "Key ID",
    "jti": "JWT ID",
    "alg": "Algorithm",
    "user_id": "User ID",
    "external_id": "External ID",
    "uid": "Subject (uid)",
    "chain_index": "Chain",
    "is_active": "Active",
    "skip_authorization": "Skip consent (trusted first-party)",
    "introspection_client": "Introspection client",
    "dpop_jkt": "DPoP key thumbprint",
}

_CODE = re.compile(r"`([^`]+)`")


def plain_help(text: str) -> str:
    """Model help text written with Markdown backticks, as HTML: `x` becomes <code>x</code>."""
    # Escaped first: only the <code> elements added here are markup.
    return mark_safe(_CODE.sub(r"<code>\1</code>", escape(str(text))))  # noqa: S308


def short_id(value: str, width: int = 14) -> str:
    """A long identifier on one line: its start and end, the full value in a tooltip and a
    copy button (authserver/static/authserver/admin.js)."""
    if not value:
        return "-"
    shown = value if len(value) <= width else f"{value[: width - 7]}…{value[-6:]}"
    return format_html(
        '<span class="short-id"><code title="{}">{}</code>'
        '<button type="button" class="copy-id" data-copy="{}" title="Copy" '
        'aria-label="Copy the full value">'
        '<span class="material-symbols-outlined" aria-hidden="true">content_copy</span>'
        "</button></span>",
        value,
        shown,
        value,
    )


def model_names(model) -> tuple[str, str]:
    opts = model._meta
    return MODEL_NAMES.get(opts.label_lower, (opts.verbose_name, opts.verbose_name_plural))


class LinesField(forms.CharField):
    """A list of strings edited one per line (or comma-separated)."""

    def __init__(self, *args, rows: int = 2, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows, "cols": 40}))
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            single_line = isinstance(self.widget, forms.TextInput)
            return (", " if single_line else "\n").join(str(v) for v in value)
        return value

    def has_changed(self, initial, data) -> bool:
        """A blank row's ``None`` and an empty box are the same empty list: an unused extra
        inline row must not count as changed (its required fields would then be demanded)."""
        return self.to_python(self.prepare_value(initial or [])) != self.to_python(data)

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        items = [part.strip() for line in text.splitlines() for part in line.split(",")]
        return list(dict.fromkeys(item for item in items if item))


class _Labelled:
    """A list column for a model field, under the label an operator reads; date-times as
    ``YYYY-MM-DD HH:MM`` (UTC) on one line, the full value in a tooltip."""

    def __init__(self, name: str, label: str, boolean: bool, moment: bool = False) -> None:
        self.__name__ = name
        self.short_description = label
        self.admin_order_field = name
        self.boolean = boolean
        self.moment = moment

    def __call__(self, obj):
        value = getattr(obj, self.__name__)
        if self.moment and value is not None:
            return format_html(
                '<span title="{}">{}</span>', value.isoformat(), f"{value:%Y-%m-%d %H:%M}"
            )
        return value


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except an unfiltered list of a large table: then PostgreSQL's own
    estimate (``pg_class.reltuples``, kept by ANALYZE and autovacuum). ``COUNT(*)`` over a
    million people read every row for each page shown; the page itself needs 100 rows."""

    # Below this many rows (by the estimate) an exact count is cheap enough to keep.
    EXACT_BELOW = 50_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where and not query.distinct:
            estimate = _row_estimate(self.object_list)
            if estimate is not None and estimate >= self.EXACT_BELOW:
                return estimate
        return super().count


def _row_estimate(queryset) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] >= 0 else None  # -1: never analysed


class OperatorAdmin(ModelAdmin):
    """Tables use the full width of the page (the sidebar already takes 288 px).

    ``object_actions`` names list actions that also appear as buttons on an object's own page
    (each a POST form with CSRF). They run through ``get_actions``, so an action shows and
    runs only for a user holding the permissions it declares (``allowed_permissions``).
    """

    list_fullwidth = True
    list_horizontal_scrollbar_top = False
    compressed_fields = True
    warn_unsaved_form = True
    object_actions: tuple[str, ...] = ()
    object_action_labels: dict[str, str] = {}
    change_form_outer_before_template = "admin/object_actions.html"

    def get_urls(self):
        opts = self.model._meta
        run = self.admin_site.admin_view(require_POST(self.object_action_view))
        return [
            path(
                "<path:object_id>/act/<str:name>/",
                run,
                name=f"{opts.app_label}_{opts.model_name}_object_action",
            ),
            *super().get_urls(),
        ]

    def allowed_object_actions(self, request: HttpRequest) -> list[tuple[str, str]]:
        allowed = self.get_actions(request)
        return [
            (name, self.object_action_labels.get(name, allowed[name][2]))
            for name in self.object_actions
            if name in allowed
        ]

    def object_action_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        if name not in self.object_actions:
            raise Http404
        allowed = self.get_actions(request)
        if name not in allowed:
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        func = allowed[name][0]
        response = func(self, request, self.get_queryset(request).filter(pk=obj.pk))
        opts = self.model._meta
        return response or redirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(quote(obj.pk),))
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            if db_field.name in FIELD_LABELS:
                field.label = FIELD_LABELS[db_field.name]
            if field.help_text:
                field.help_text = plain_help(field.help_text)
        return field

    def get_list_display(self, request):
        return tuple(self._labelled(name) for name in super().get_list_display(request))

    def _labelled(self, name):
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        moment = isinstance(field, models.DateTimeField)
        if name not in FIELD_LABELS and not moment:
            return name
        label = FIELD_LABELS.get(name) or label_for_field(name, self.model, self)
        return _Labelled(name, label, isinstance(field, models.BooleanField), moment)

    def changelist_view(self, request, extra_context=None):
        _singular, plural = model_names(self.model)
        title = str(plural)[:1].upper() + str(plural)[1:]
        extra_context = {"title": title, **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        singular, _plural = model_names(self.model)
        verb = "Add" if object_id is None else "Change"
        if object_id is not None and not self.has_change_permission(request):
            verb = "View"
        extra_context = {"title": f"{verb} {singular}", **(extra_context or {})}
        if object_id is not None:
            opts = self.model._meta
            url = f"admin:{opts.app_label}_{opts.model_name}_object_action"
            extra_context["object_actions"] = [
                {"label": label, "url": reverse(url, args=(object_id, name))}
                for name, label in self.allowed_object_actions(request)
            ]
        return super().changeform_view(request, object_id, form_url, extra_context)


__all__ = [
    "EstimatedCountPaginator",
    "LinesField",
    "OperatorAdmin",
    "StackedInline",
    "TabularInline",
    "model_names",
    "plain_help",
    "short_id",
]
