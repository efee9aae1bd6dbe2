"""SCIM 2.0 endpoints under /scim/v2 (RFC 7644 §3): Users, Groups, ServiceProviderConfig."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scim import errors, filters, groups, services, users
from accounts.scim.auth import IsScimClient, ScimTokenAuthentication
from accounts.scim.parsers import (
    PlainJSONParser,
    PlainJSONRenderer,
    ScimJSONParser,
    ScimJSONRenderer,
)

User = get_user_model()
ID = re.compile(r"[0-9]{1,18}", re.ASCII)
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimView(APIView):
    authentication_classes = [ScimTokenAuthentication]
    permission_classes = [IsScimClient]
    parser_classes = [ScimJSONParser, PlainJSONParser]
    renderer_classes = [ScimJSONRenderer, PlainJSONRenderer]

    def get_exception_handler(self):
        return errors.exception_handler

    @property
    def actor(self) -> str:
        return self.request.user.actor

    @property
    def token(self):
        return self.request.user.token

    def base(self) -> str:
        return self.request.build_absolute_uri(reverse("scim:root")).rstrip("/")

    def list_response(self, queryset: QuerySet, render) -> Response:
        start, count = filters.page(self.request.query_params)
        total = queryset.count()
        items = list(queryset.order_by("pk")[start - 1 : start - 1 + count])
        return Response(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(items),
                "Resources": [render(item) for item in items],
            }
        )


def _lookup(model, pk: str, kind: str):
    # Our ids are ASCII digits: "²" or "١٢" (str.isdigit() is true for both) name nothing.
    if not ID.fullmatch(pk):
        raise errors.not_found(kind)
    found = model.objects.filter(pk=int(pk)).first()
    if found is None:
        raise errors.not_found(kind)
    return found


class UsersView(ScimView):
    FILTERS = {"username": "username", "externalid": "scim_identity__external_id"}

    def render(self, user) -> dict:
        return users.render_user(user, f"{self.base()}/Users/{user.pk}")

    def get(self, request):
        # A token reads only its provider's principals (services.manageable_users).
        queryset = services.manageable_users(User.objects.all(), self.token)
        queryset = queryset.select_related("scim_identity").prefetch_related("groups")
        if "filter" in request.query_params:
            field, value = filters.parse_eq(request.query_params["filter"], self.FILTERS)
            if field == "username":
                queryset = queryset.filter(pk__in=users.same_username(queryset, value))
            else:
                queryset = queryset.filter(**{field: value})
        return self.list_response(queryset, self.render)

    def post(self, request):
        changes = users.parse_user(request.data)
        user = services.create_user(changes, token=self.token, actor=self.actor)
        return Response(
            self.render(user),
            status=201,
            headers={"Location": self.render(user)["meta"]["location"]},
        )


class UserView(ScimView):
    render = UsersView.render

    def get(self, request, pk: str):
        user = _lookup(User, pk, "User")
        if not services.manageable(user, self.token):
            raise errors.not_found("User")  # another provider's, local or staff: not its own
        return Response(self.render(user))

    def put(self, request, pk: str):
        user = _lookup(User, pk, "User")
        changes = users.parse_user(request.data)
        user = services.update_user(user, changes, token=self.token, actor=self.actor, replace=True)
        return Response(self.render(user))

    def patch(self, request, pk: str):
        user = _lookup(User, pk, "User")
        changes = users.parse_patch(request.data)
        user = services.update_user(user, changes, token=self.token, actor=self.actor)
        return Response(self.render(user))

    def delete(self, request, pk: str):
        services.delete_user(_lookup(User, pk, "User"), token=self.token, actor=self.actor)
        return Response(status=204)


class GroupsView(ScimView):
    FILTERS = {"displayname": "name__iexact"}

    def render(self, group) -> dict:
        return groups.render_group(group, f"{self.base()}/Groups/{group.pk}", self.base())

    def get(self, request):
        queryset = Group.objects.prefetch_related("user_set")
        if "filter" in request.query_params:
            field, value = filters.parse_eq(request.query_params["filter"], self.FILTERS)
            queryset = queryset.filter(**{field: value})
        return self.list_response(queryset, self.render)

    def post(self, request):
        changes = groups.parse_group(request.data)
        group = services.create_group(changes, token=self.token, actor=self.actor)
        return Response(self.render(group), status=201)


class GroupView(ScimView):
    render = GroupsView.render

    def get(self, request, pk: str):
        return Response(self.render(_lookup(Group, pk, "Group")))

    def put(self, request, pk: str):
        group = _lookup(Group, pk, "Group")
        changes = groups.parse_group(request.data)
        group = services.update_group(group, changes, token=self.token, actor=self.actor)
        return Response(self.render(group))

    def patch(self, request, pk: str):
        group = _lookup(Group, pk, "Group")
        changes = groups.parse_patch(request.data)
        group = services.update_group(group, changes, token=self.token, actor=self.actor)
        return Response(self.render(group))

    def delete(self, request, pk: str):
        services.delete_group(_lookup(Group, pk, "Group"), actor=self.actor)
        return Response(status=204)


class ServiceProviderConfigView(ScimView):
    """RFC 7643 §5: what this endpoint supports."""

    def get(self, request):
        unsupported = {"supported": False}
        return Response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": True},
                "bulk": {**unsupported, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": 200},
                "changePassword": unsupported,
                "sort": unsupported,
                "etag": unsupported,
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A token an admin created (Django admin, SCIM tokens)",
                    }
                ],
            }
        )


class RootView(ScimView):
    def get(self, request):
        raise errors.not_found("resource")
