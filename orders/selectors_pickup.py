"""Reads of the pickup point directory: the list a customer picks from, and the point an order names."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from orders.models import PickupPoint
from orders.services.pickup_points import PickupPointNotFound

__all__ = ["PickupPointNotFound", "pickup_point_get_active", "pickup_points_list"]


def pickup_points_list(
    *,
    district: str | None = None,
    kind: str | None = None,
    q: str = "",
    active_only: bool = True,
) -> QuerySet[PickupPoint]:
    """Pickup points by district and code; `district` and `kind` are our codes, `q` searches codes, names and
    addresses in both languages."""
    points = PickupPoint.objects.all()
    if active_only:
        points = points.filter(is_active=True)
    if district:
        points = points.filter(district=district)
    if kind:
        points = points.filter(kind=kind)
    q = q.strip()
    if q:
        points = points.filter(
            Q(code__icontains=q)
            | Q(name_en__icontains=q)
            | Q(name_zh_hant__icontains=q)
            | Q(address_en__icontains=q)
            | Q(address_zh_hant__icontains=q)
        )
    return points.order_by("district", "code")


def pickup_point_get_active(code_or_id: str | int) -> PickupPoint:
    """The active pickup point with this code (any case) or id, for an order to name.

    Raises PickupPointNotFound when there is none, or when the carrier has dropped it (inactive).
    """
    code = ""
    if isinstance(code_or_id, int) and not isinstance(code_or_id, bool):
        lookup = Q(pk=code_or_id)
    else:
        code = str(code_or_id).strip().upper()
        lookup = Q(code=code)
        if code.isdigit() and len(code) < 19:  # an id sent as text (bigint has at most 19 digits)
            lookup |= Q(pk=int(code))
    # A code of digits can equal another point's id: the point with that code comes first.
    matches = sorted(PickupPoint.objects.filter(lookup), key=lambda point: point.code != code)
    if not matches:
        raise PickupPointNotFound(pickup_point=str(code_or_id))
    point = matches[0]
    if not point.is_active:
        raise PickupPointNotFound(
            _("This pickup point is no longer in service; please choose another."), pickup_point=point.code
        )
    return point
