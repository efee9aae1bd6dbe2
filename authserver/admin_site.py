"""The admin site operators run the server on: django-unfold's theme, organised by task.

Django groups admin pages by the app that defines each model; an operator thinks in tasks.
``OperatorsSite.get_app_list`` regroups the registered models into the sections below (the
index and the sidebar both read it), with the names an operator uses, and adds the pages that
are not model lists (access review, overview, audit stream). A model missing from ``SECTIONS``
still appears, under "Other", so nothing registered is ever hidden. Permissions are Django's:
a section lists only what the signed-in user may view.

This module is loaded while apps load (``OperatorsAdminConfig.default_site``), so it imports
no model.
"""

from __future__ import annotations

import importlib
from functools import wraps

from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from unfold.sites import UnfoldAdminSite

# (section title, [(model label, name in the navigation)]); pages as ("page:<url name>", ...).
SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "People and agents",
        [
            ("page:admin:access_review", "Access review"),
            ("auth.user", "People"),
            ("auth.group", "Groups"),
            ("clients.client", "Clients and agents"),
            ("clients.initialaccesstoken", "Initial access tokens"),
            ("enterprise.workloadtrustrule", "Workload trust rules"),
        ],
    ),
    (
        "MCP servers and policies",
        [
            ("authserver.resource", "MCP servers"),
            ("authserver_tool_grants.toolpolicy", "Tool policies"),
            ("authserver.toolpolicy", "Tool policies"),
            ("authserver.tokenexchangepolicy", "Token exchange policies"),
            ("connections.connectionpolicy", "Connection policies"),
            ("connections.upstreamprovider", "Upstream APIs (connections)"),
            ("approvals.toolapprovalrule", "Tool calls that need approval"),
            ("approvals.approvalclient", "Approval clients (CIBA)"),
            ("approvals.approvalpolicy", "Approval policy (passkeys required?)"),
            ("authzen.cedarpolicy", "Cedar policies (live decisions)"),
        ],
    ),
    (
        "Sign-in providers",
        [
            ("socialaccount.socialapp", "Identity providers (sign-in)"),
            ("enterprise.trustedidentityprovider", "Trusted ID-JAG issuers"),
            ("accounts.scimtoken", "SCIM tokens"),
            ("accounts.scimidentity", "SCIM identities"),
            ("socialaccount.socialaccount", "Linked upstream accounts"),
            ("enterprise.enterprisesubject", "Enterprise subjects"),
            ("account.emailaddress", "Email addresses"),
        ],
    ),
    (
        "Access",
        [
            ("accounts.consent", "Consents"),
            ("authserver.refreshtoken", "Grants (refresh tokens)"),
            ("authserver.accesstoken", "Access tokens"),
            ("authserver.grant", "Authorization codes"),
            ("authserver.idtoken", "ID tokens"),
            ("connections.connection", "Connections"),
            ("approvals.approvalrequest", "Approval requests"),
            ("authserver.revocationcutoff", "Revocation cut-offs"),
        ],
    ),
    (
        "Keys and security",
        [
            ("page:admin-overview", "Overview"),
            ("authserver.signingkey", "Signing keys"),
        ],
    ),
    (
        "Audit",
        [
            ("authserver.auditevent", "Audit events"),
            ("authserver.auditsink", "Audit sinks (SIEM)"),
            ("page:admin:audit_stream_help", "Streaming to a SIEM"),
        ],
    ),
]

# The names an operator reads on list and change pages (the model's own verbose names are
# kept: changing them needs a migration in every app).
MODEL_NAMES: dict[str, tuple[str, str]] = {
    "accounts.scimidentity": ("SCIM identity", "SCIM identities"),
    "accounts.scimtoken": ("SCIM token", "SCIM tokens"),
    "authserver.idtoken": ("ID token", "ID tokens"),
    "authserver.resource": ("MCP server", "MCP servers"),
    "socialaccount.socialapp": ("identity provider", "identity providers"),
    "enterprise.trustedidentityprovider": ("trusted ID-JAG issuer", "trusted ID-JAG issuers"),
    "connections.upstreamprovider": ("upstream API", "upstream APIs"),
    "clients.client": ("client", "clients and agents"),
    "socialaccount.socialaccount": ("linked upstream account", "linked upstream accounts"),
    "authserver.refreshtoken": ("grant (refresh token)", "grants (refresh tokens)"),
    "authserver.grant": ("authorization code", "authorization codes"),
}

# The admin's theme runs Alpine.js, which compiles its directives with the Function
# constructor, and sets its colour variables in one <style> element: the admin pages (staff
# only, behind sign-in) allow 'unsafe-eval' scripts and inline styles. Everything else of the
# site-wide policy (authserver.ops.middleware) stays: scripts only from this origin, no inline
# script, no framing, no plugins, no <base>.
ADMIN_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' https: data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def with_admin_csp(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", ADMIN_CONTENT_SECURITY_POLICY)
        return response

    return wrapped


# Pages that are not model lists: the permission each needs to appear.
PAGE_PERMISSIONS = {
    "admin:access_review": "authserver.view_accesstoken",
    "admin-overview": "",
    "admin:audit_stream_help": "authserver.view_auditevent",
}


def _page(url_name: str, title: str, request: HttpRequest) -> dict | None:
    needed = PAGE_PERMISSIONS.get(url_name, "")
    if needed and not request.user.has_perm(needed):
        return None
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    return {"name": title, "object_name": url_name, "admin_url": url, "view_only": True}


class OperatorsSite(UnfoldAdminSite):
    site_header = "MCP Authorization Server"
    site_title = "MCP Authorization Server"
    index_title = "Administration"
    _login_form = None

    @property
    def login_form(self):
        return self._login_form

    @login_form.setter
    def login_form(self, form) -> None:
        """Whatever form is set (authserver.urls sets the throttled one), styled by the theme."""
        self._login_form = _styled_login_form(form) if form is not None else None

    def admin_view(self, view, cacheable: bool = False):
        return with_admin_csp(super().admin_view(view, cacheable))

    def login(self, request, extra_context=None):
        return with_admin_csp(super().login)(request, extra_context)

    def logout(self, request, extra_context=None):
        return with_admin_csp(super().logout)(request, extra_context)

    def register_pages(self, routes) -> None:
        """authserver.admin adds its pages (access review, audit stream) when the admin
        autodiscovers it; this module loads before models and cannot import them."""
        self._page_routes = routes

    def extra_urls(self) -> list:
        routes = getattr(self, "_page_routes", None)
        return routes(self) if routes else []

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        if app_label is not None:  # an app's own index page keeps Django's grouping
            return super().get_app_list(request, app_label)
        by_label = {
            f"{app['app_label']}.{model['object_name'].lower()}": model
            for app in super().get_app_list(request)
            for model in app["models"]
        }
        sections, placed = [], set()
        for title, entries in SECTIONS:
            models = []
            for label, name in entries:
                if label.startswith("page:"):
                    entry = _page(label.removeprefix("page:"), name, request)
                elif label in by_label and label not in placed:
                    entry = {**by_label[label], "name": name}
                    placed.add(label)
                else:
                    entry = None
                if entry:
                    models.append(entry)
            if models:
                sections.append(_section(title, models))
        rest = [model for label, model in by_label.items() if label not in placed]
        if rest:
            sections.append(_section("Other", rest))
        return sections

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        # The theme reads its titles from an UNFOLD setting; this site keeps Django's own.
        context["site_header"] = self.site_header
        context["site_title"] = self.site_title
        context["site_symbol"] = context.get("site_symbol") or "shield_lock"
        # Our additions to the theme, on every admin page (login included).
        context["styles"] = [*context.get("styles", []), static("authserver/admin.css")]
        context["scripts"] = [*context.get("scripts", []), static("authserver/admin.js")]
        context["site_favicons"] = context.get("site_favicons") or [
            {"rel": "icon", "href": static("authserver/favicon.svg"), "type": "image/svg+xml"}
        ]
        context["server_version"] = server_version()
        return context


def server_version() -> str:
    """The running server's version for the admin's footer: ``authserver.version.current()``
    (pyproject.toml in a checkout, the wheel's metadata in an image); "" without it."""
    try:
        module = importlib.import_module("authserver.version")
    except ImportError:
        return ""
    current = getattr(module, "current", None)
    value = current() if callable(current) else getattr(module, "__version__", "")
    return value if isinstance(value, str) else ""


def _styled_login_form(form):
    from unfold.forms import AuthenticationForm as Styled

    if issubclass(form, Styled):
        return form

    class StyledLoginForm(form):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            styled = Styled(None)
            for name in ("username", "password"):
                if name in self.fields and name in styled.fields:
                    self.fields[name].widget.attrs.update(styled.fields[name].widget.attrs)

    StyledLoginForm.__name__ = f"Styled{form.__name__}"
    return StyledLoginForm


def _section(title: str, models: list[dict]) -> dict:
    slug = title.lower().replace(" ", "-")
    return {
        "name": title,
        "app_label": slug,
        "app_url": models[0]["admin_url"],
        "has_module_perms": True,
        "models": models,
    }


class OperatorsAdminConfig(AdminConfig):
    """``django.contrib.admin`` with this site as the default (``admin.site``)."""

    default_site = "authserver.admin_site.OperatorsSite"
