"""Admin, Audit, Audit sinks: where the audit trail is streamed (authserver.audit_sinks).

The webhook secret is write-only: typed once, stored encrypted, never rendered back. Every
change is validated first (the URL rule, the secret's form) and saved with its audit event;
the event names the sink and its kind and host, never its full URL (which may carry a
collector's token in its path) or its secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.db import transaction

from authserver import audit, tasks
from authserver.admin_base import OperatorAdmin
from authserver.audit_sinks import delivery, targets, webhook
from authserver.models import AuditChainHead, AuditSink

WRITE_ONLY_HELP = (
    "Webhook only. Write-only: stored encrypted, never shown again; leave empty to keep the "
    "current one. A Standard Webhooks secret, `whsec_` and 24 to 64 random bytes in base64, "
    'e.g. from `bin/manage shell -c "from authserver.audit_sinks.webhook import new_secret; '
    'print(new_secret())"`; give the same value to the receiver.'
)


class AuditSinkForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=WRITE_ONLY_HELP,
    )

    class Meta:
        model = AuditSink
        fields = ("name", "kind", "url", "batch_size", "timeout", "enabled", "cursor")

    def clean(self):
        data = super().clean()
        kind, url, secret = data.get("kind"), data.get("url"), data.get("secret", "")
        if kind and url:
            try:
                targets.check_url(kind, url)
            except ValueError as exc:
                self.add_error("url", str(exc))
        if secret:
            try:
                webhook.secret_key(secret)
            except ValueError as exc:
                self.add_error("secret", str(exc))
        if kind == AuditSink.Kind.WEBHOOK and not secret and not self.instance.secret_encrypted:
            self.add_error("secret", "a webhook sink signs with a secret: required")
        return data

    def save(self, commit=True):
        sink = super().save(commit=False)
        if sink.kind != AuditSink.Kind.WEBHOOK:
            sink.secret_encrypted = ""
        elif self.cleaned_data.get("secret"):
            delivery.seal_secret(sink, self.cleaned_data["secret"])
        if commit:
            sink.save()
        return sink


def _described(sink: AuditSink) -> dict:
    return {"sink": sink.name, "kind": sink.kind, "host": urlsplit(sink.url).hostname or ""}


@admin.register(AuditSink)
class AuditSinkAdmin(OperatorAdmin):
    form = AuditSinkForm
    list_display = ("name", "kind", "enabled", "behind", "delivered_at", "last_error")
    list_filter = ("kind", "enabled")
    readonly_fields = ("behind", "delivered_at", "failures", "last_error")
    fieldsets = (
        (None, {"fields": ("name", "kind", "url", "secret", "enabled")}),
        ("Delivery", {"fields": ("batch_size", "timeout", "cursor")}),
        ("State", {"fields": ("behind", "delivered_at", "failures", "last_error")}),
    )
    actions = ("deliver_now",)
    object_actions = ("deliver_now",)
    object_action_labels = {"deliver_now": "Deliver now"}

    @admin.display(description="Events behind")
    def behind(self, obj: AuditSink) -> int:
        head = AuditChainHead.objects.filter(pk=1).values_list("last_index", flat=True).first()
        return max((head or 0) - obj.cursor, 0) if obj.pk else 0

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            detail = _described(obj)
            if change:
                detail["changed"] = sorted(form.changed_data)
            audit.record(
                "audit.sink.changed" if change else "audit.sink.created",
                actor=f"admin:{request.user.pk}",
                detail=detail,
            )

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            audit.record(
                "audit.sink.deleted", actor=f"admin:{request.user.pk}", detail=_described(obj)
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for sink in queryset:
            self.delete_model(request, sink)

    @admin.action(description="Deliver to the selected sinks now", permissions=["change"])
    def deliver_now(self, request, queryset) -> None:
        for pk in queryset.filter(enabled=True).values_list("pk", flat=True):
            transaction.on_commit(lambda pk=pk: tasks.deliver_audit_events.delay(pk))
        self.message_user(request, "Delivery queued; the sink's state shows how it went.")
