"""The Cedar policies admin (validated on save by CedarPolicy.clean) and its "Test a
request" page (authzen.trial), which decides without writing anything."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from authserver.admin_base import OperatorAdmin
from authzen import trial
from authzen.models import CedarPolicy


@admin.register(CedarPolicy)
class CedarPolicyAdmin(OperatorAdmin):
    list_display = ("name", "resource", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name",)
    change_list_template = "admin/authzen/cedarpolicy/change_list.html"

    def get_urls(self):
        test = self.admin_site.admin_view(self.test_request)
        return [
            path("test/", test, name="authzen_cedarpolicy_test"),
            *super().get_urls(),
        ]

    def test_request(self, request: HttpRequest) -> HttpResponse:
        """GET: the empty form; POST (CSRF): the decision and its reasons, nothing written."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = trial.TrialForm(request.POST if request.method == "POST" else None)
        result = None
        if request.method == "POST" and form.is_valid():
            result = trial.run(form, tester=f"admin:{request.user.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Test a request against the policies",
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/authzen/cedarpolicy/test_request.html", context)
