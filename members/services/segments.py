"""Saved segments of members for marketing, and their exports.

A segment is a saved filter, never a saved list: `segment_members` (members.selectors) runs the query every
time, so an opt-out or an erasure takes effect in the very next list or export. Every list and export is for
one channel and leaves out whoever did not consent to it (see members.selectors.segment_members).

The CSV export: UTF-8 with a byte-order mark (Excel shows Chinese names), columns `phone` (E.164, for SMS and
WhatsApp) or `email`, then `name`, `tier`, `language`.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from members.models import ConsentChannel, Member, Segment, Tier
from members.selectors import segment_members
from members.services.members import Unset, actor_label, tags_clean, text
from omo.errors import Conflict, NotFound, ValidationFailed
from omo.services.audit import audit_record

__all__ = [
    "CHANNEL_BEHAVIOURS",
    "SegmentNameTaken",
    "segment_create",
    "segment_delete",
    "segment_export_csv",
    "segment_members",
    "segment_update",
]

CHANNEL_BEHAVIOURS = ("", "online_only", "store_only", "both")
FILTER_FIELDS = (
    "tiers",
    "tags",
    "min_spend_12m",
    "max_spend_12m",
    "purchased_within_days",
    "not_purchased_within_days",
    "channel_behaviour",
)


class SegmentNameTaken(Conflict):
    code = "segment_name_taken"
    default_message = _("A segment with this name already exists.")


def amount_clean(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(fields={field: _("Enter an amount in HK$.")}) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(fields={field: _("Enter an amount in HK$.")})
    return amount


def days_clean(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise ValidationFailed(fields={field: _("Enter a number of days from 1 to 3650.")})
    return value


def filters_apply(segment: Segment, filters: dict[str, Any]) -> None:
    """Checks the given filters and sets them on the segment. Raises ValidationFailed."""
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: _("Unknown filter.") for name in unknown})
    if "tiers" in filters:
        tiers = list(dict.fromkeys(filters["tiers"] or []))
        if any(tier not in Tier.values for tier in tiers):
            raise ValidationFailed(fields={"tiers": _("Choose from Silver, Gold and Platinum.")})
        segment.tiers = tiers
    if "tags" in filters:
        segment.tags = tags_clean(filters["tags"] or [])
    for field in ("min_spend_12m", "max_spend_12m"):
        if field in filters:
            setattr(segment, field, amount_clean(filters[field], field))
    for field in ("purchased_within_days", "not_purchased_within_days"):
        if field in filters:
            setattr(segment, field, days_clean(filters[field], field))
    if "channel_behaviour" in filters:
        behaviour = filters["channel_behaviour"] or ""
        if behaviour not in CHANNEL_BEHAVIOURS:
            raise ValidationFailed(
                fields={"channel_behaviour": _("Choose online only, store only, both, or any.")}
            )
        segment.channel_behaviour = behaviour
    low, high = segment.min_spend_12m, segment.max_spend_12m
    if low is not None and high is not None and low > high:
        raise ValidationFailed(fields={"max_spend_12m": _("The maximum is below the minimum.")})
    within, not_within = segment.purchased_within_days, segment.not_purchased_within_days
    if within is not None and not_within is not None and within >= not_within:
        # "bought in the last 30 days but not in the last 90" can match nobody.
        raise ValidationFailed(
            fields={
                "not_purchased_within_days": _("This leaves nobody: it covers the whole purchase window.")
            }
        )


def name_clean(name: str) -> str:
    name = " ".join(text(name).split())
    if not name or len(name) > 100:
        raise ValidationFailed(fields={"name": _("Give the segment a name of at most 100 characters.")})
    return name


def segment_payload(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        **{
            field: str(value) if isinstance(value := getattr(segment, field), Decimal) else value
            for field in FILTER_FIELDS
        },
    }


def segment_save(segment: Segment) -> None:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise SegmentNameTaken(name=segment.name) from None


@transaction.atomic
def segment_create(*, name: str, actor: Any, **filters: Any) -> Segment:
    """Saves a segment: `tiers`, `tags` (any of them), `min_spend_12m` / `max_spend_12m` (HK$, net spend
    over the last 12 months), `purchased_within_days`, `not_purchased_within_days`, `channel_behaviour`
    ("online_only", "store_only", "both", "" for any). Audited.
    Raises ValidationFailed, SegmentNameTaken (409)."""
    segment = Segment(name=name_clean(name), created_by_label=actor_label(actor))
    filters_apply(segment, filters)
    segment_save(segment)
    audit_record(actor=actor, action="segment.create", obj=segment, after=segment_payload(segment))
    return segment


@transaction.atomic
def segment_update(
    *, segment_id: int, actor: Any, name: str | Unset = Unset.UNSET, **filters: Any
) -> Segment:
    """Changes a segment's name or filters (only those given). Locks the segment row. Audited.
    Raises ValidationFailed, SegmentNameTaken, NotFound."""
    segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(segment_id=segment_id)
    before = segment_payload(segment)
    if name is not Unset.UNSET:
        segment.name = name_clean(name)
    filters_apply(segment, filters)
    segment_save(segment)
    audit_record(
        actor=actor, action="segment.update", obj=segment, before=before, after=segment_payload(segment)
    )
    return segment


@transaction.atomic
def segment_delete(*, segment_id: int, actor: Any) -> None:
    """Deletes a saved segment (no member is touched). Audited. Raises NotFound."""
    segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(segment_id=segment_id)
    audit_record(actor=actor, action="segment.delete", obj=segment, before=segment_payload(segment))
    segment.delete()


def export_rows(members: QuerySet[Member], channel: str) -> list[list[str]]:
    contact = "email" if channel == ConsentChannel.EMAIL else "phone"
    rows = [[contact, "name", "tier", "language"]]
    for member in members.only("phone", "email", "name", "tier", "language").iterator(chunk_size=2000):
        address = member.email if contact == "email" else str(member.phone)
        rows.append([address, member.name, member.tier, member.language])
    return rows


@transaction.atomic
def segment_export_csv(segment: Segment, *, channel: str, actor: Any) -> bytes:
    """The segment's contactable members for `channel` as CSV (see the module's docstring), read at this
    moment: whoever opted out a second ago is not in it. Audited ("segment.export", with the row count).
    Raises ValidationFailed for an unknown channel."""
    rows = export_rows(segment_members(segment, channel=channel), channel)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    audit_record(
        actor=actor,
        action="segment.export",
        obj=segment,
        after={"channel": channel, "rows": len(rows) - 1, **segment_payload(segment)},
    )
    return buffer.getvalue().encode("utf-8-sig")
