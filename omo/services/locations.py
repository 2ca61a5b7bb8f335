import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from omo.errors import NotFound, ValidationFailed
from omo.models import Location, LocationKind
from omo.services.audit import audit_record

EDITABLE = (
    "name_en",
    "name_zh_hant",
    "kind",
    "address_en",
    "address_zh_hant",
    "phone",
    "opening_hours",
    "is_pickup_point",
    "ships_orders",
    "is_active",
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])$")


def day_hours_clean(text: str) -> str:
    """'11:00-14:00, 15:00-21:00' -> '11:00-14:00,15:00-21:00'; '' is closed. Raises ValueError."""
    text = text.replace(" ", "")
    if not text:
        return ""
    previous_end = -1
    for part in text.split(","):
        match = TIME_RANGE.match(part)
        if match is None:
            raise ValueError(part)
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if end > 24 * 60 or start >= end or start < previous_end:
            raise ValueError(part)
        previous_end = end
    return text


def opening_hours_clean(value: Any) -> dict[str, str]:
    """{"mon": "11:00-21:00", ..., "sun": ""} with every day listed ("" or missing: closed).

    Raises ValidationFailed naming each bad day.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValidationFailed(
            fields={"opening_hours": str(_('Give opening hours per day, e.g. {"mon": "11:00-21:00"}.'))}
        )
    errors: dict[str, str] = {}
    for day in value:
        if day not in DAYS:
            errors[str(day)] = str(_("Unknown day; use mon, tue, wed, thu, fri, sat or sun."))
    clean: dict[str, str] = {}
    for day in DAYS:
        hours = value.get(day)
        if hours is None:
            clean[day] = ""
            continue
        try:
            if not isinstance(hours, str):
                raise ValueError(hours)
            clean[day] = day_hours_clean(hours)
        except ValueError:
            errors[day] = str(
                _(
                    "Use HH:MM-HH:MM, e.g. 11:00-21:00, several times separated by commas "
                    "(11:00-14:00,15:00-21:00), or leave it empty when closed."
                )
            )
    if errors:
        raise ValidationFailed(fields={"opening_hours": errors})
    return clean


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
    """Creates a branch or warehouse. Raises ValidationFailed (bad or duplicate code, bad opening hours).
    Audited."""
    code = code.strip().upper()
    location_validate(code=code, name_en=name_en, name_zh_hant=name_zh_hant, kind=kind)
    if Location.objects.filter(code=code).exists():
        raise ValidationFailed(fields={"code": str(_("A location with this code exists."))})
    if "opening_hours" in fields:
        fields["opening_hours"] = opening_hours_clean(fields["opening_hours"])
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
    """Changes a location's names, address, kind, opening hours, pickup and shipping flags or active flag (the
    code is fixed). Raises ValidationFailed (blank name, bad opening hours). Audited."""
    location = Location.objects.select_for_update().filter(pk=location_id).first()
    if location is None:
        raise NotFound()
    before = location_snapshot(location)
    if "opening_hours" in changes:
        changes["opening_hours"] = opening_hours_clean(changes["opening_hours"])
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
