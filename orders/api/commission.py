"""The commission statement of a member of staff for a period: GET /api/v1/commission/statement/.

Scope "orders" (tokens need orders:read). A cashier sees only their own statement; a manager the statements
of the staff of their branches; an owner (and a token not limited to branches) everybody's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omo.api.serializers import ErrorOutput
from omo.errors import PermissionDenied, ValidationFailed
from omo.models import ApiToken, Role, User
from omo.scoping import ALL_BRANCHES, branch_ids_for
from orders.members_link import commission_statement


class StatementInput(serializers.Serializer[Any]):
    staff = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    date_from = serializers.DateField()
    date_to = serializers.DateField()


def plain(value: Any) -> Any:
    """Decimals as strings (to the cent, never floats), dates as ISO text, at any depth."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def statement_access(request: Request, staff_id: int) -> None:
    """Raises PermissionDenied unless the caller may read this staff member's statement."""
    user = request.user if not isinstance(request.auth, ApiToken) else request.auth.user
    if user.pk == staff_id or user.is_superuser or getattr(user, "role", None) == Role.OWNER:
        return
    if getattr(user, "role", None) not in (Role.MANAGER, Role.API_CLIENT):
        raise PermissionDenied(_("You can see only your own commission statement."))
    ids = branch_ids_for(user)
    if ids is ALL_BRANCHES:
        return
    staff = User.objects.filter(pk=staff_id).first()
    if staff is None or not staff.branches.filter(pk__in=ids).exists():
        raise PermissionDenied(_("You can see the statements of your branches' staff only."))


class CommissionStatementApi(APIView):
    """What a member of staff earned: orders credited to them paid in the period, less refunds made in it."""

    scope = "orders"

    @extend_schema(
        parameters=[
            OpenApiParameter("staff", int, description="Default: yourself"),
            OpenApiParameter("date_from", date, required=True),
            OpenApiParameter("date_to", date, required=True, description="Included"),
        ],
        responses={200: dict, 400: ErrorOutput, 403: ErrorOutput},
    )
    def get(self, request: Request) -> Response:
        data = StatementInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        staff_id = p.get("staff")
        if staff_id is None:
            if isinstance(request.auth, ApiToken):
                raise ValidationFailed(fields={"staff": _("Name the member of staff.")})
            staff_id = request.user.pk
        statement_access(request, staff_id)
        statement = commission_statement(staff_id=staff_id, date_from=p["date_from"], date_to=p["date_to"])
        return Response(plain(statement))
