from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from omo.models import ApiToken
from omo.services.accounts import api_token_hash


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token omo_...` (or `Bearer`). request.auth is the ApiToken, whose scopes apply."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        raw_key = header[1].decode("utf-8", "replace")
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=api_token_hash(raw_key), revoked_at__isnull=True)
            .first()
        )
        now = timezone.now()
        if token is None or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        # Cheap enough to keep: at most one write a minute per token.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "omo.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token omo_...`, created by the owner under API tokens.",
        }
