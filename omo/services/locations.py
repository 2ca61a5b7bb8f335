from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from omo.errors import NotFound, ValidationFailed
from omo.models import Location, LocationKind
from omo.services.audit import audit_record

EDITABLE = ("name_en", "name_zh_hant", "kind", "address_en", "address_zh_hant", "phone", "is_active")


def location_snapshot(location: Location) -> dict[str, Any]:
    return {"code": location.code, **{field: getattr(location, field) for field in EDITABLE}}


def location_validate(*, code: str, name_en: str, name_zh_hant: str, kind: str) -> None:
    errors: dict[str, str] = {}
    if not (code.isascii() and code.isalnum() and 2 <= len(code) <= 8):
        errors["code"] = str(_("A code is 2 to 8 letters or digits, e.g. CWB."))
    if not name_en.strip():
        errors["name_en"] = str(_("An English name is required."))
    if not name_zh_hant.strip():
        errors["name_zh_hant"] = str(_("A Chinese name is required."))
    if kind not in LocationKind.values:
        errors["kind"] = str(_("Choose branch or warehouse."))
    if errors:
        raise ValidationFailed(fields=errors)


@transaction.atomic
def location_create(
    *, actor: Any, code: str, name_en: str, name_zh_hant: str, kind: str = LocationKind.BRANCH, **fields: Any
) -> Location:
    """Creates a branch or warehouse. Raises ValidationFailed (bad or duplicate code). Audited."""
    code = code.strip().upper()
    location_validate(code=code, name_en=name_en, name_zh_hant=name_zh_hant, kind=kind)
    if Location.objects.filter(code=code).exists():
        raise ValidationFailed(fields={"code": str(_("A location with this code exists."))})
    location = Location.objects.create(
        code=code, name_en=name_en.strip(), name_zh_hant=name_zh_hant.strip(), kind=kind, **fields
    )
    audit_record(
        actor=actor,
        action="location.create",
        branch=location,
        obj=location,
        after=location_snapshot(location),
    )
    return location


@transaction.atomic
def location_update(*, actor: Any, location_id: int, **changes: Any) -> Location:
    """Changes a location's names, address, kind or active flag (the code is fixed). Audited."""
    location = Location.objects.select_for_update().filter(pk=location_id).first()
    if location is None:
        raise NotFound()
    before = location_snapshot(location)
    for field, value in changes.items():
        if field in EDITABLE:
            setattr(location, field, value)
    location_validate(
        code=location.code, name_en=location.name_en, name_zh_hant=location.name_zh_hant, kind=location.kind
    )
    location.save()
    audit_record(
        actor=actor,
        action="location.update",
        branch=location,
        obj=location,
        before=before,
        after=location_snapshot(location),
    )
    return location
