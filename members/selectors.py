"""Reads of members used by other apps (orders looks the customer up here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from django.db.models import BooleanField, DecimalField, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.exceptions import MemberNotFound
from members.models import CONSENT_CHANNELS, ConsentChannel, ConsentRecord, Member, Segment, SpendEntry
from omo.errors import NotFound, ValidationFailed
from omo.models import Role


def phone_normalise(raw: str, *, region: str = "HK") -> str | None:
    """E.164 form of a typed number (`9123 4567`, `+852 9123-4567`), or None when it is not a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def member_get(member_id: int) -> Member:
    """The member, or the one it was merged into; an erased member is gone (MemberNotFound)."""
    member = Member.objects.filter(pk=member_id).first()
    for _hop in range(5):  # a merged member points at the survivor (chains are short)
        if member is None or member.merged_into_id is None:
            break
        member = Member.objects.filter(pk=member.merged_into_id).first()
    if member is None or member.erased_at is not None or member.merged_into_id is not None:
        raise MemberNotFound(member_id=member_id)
    return member


def member_by_phone(raw: str) -> Member | None:
    phone = phone_normalise(raw)
    return Member.objects.filter(phone=phone).first() if phone else None


def members_with_phone_ending(digits: str) -> QuerySet[Member]:
    return Member.objects.filter(phone__endswith=digits)


# --- Look-ups at the POS and in the back office (active members only: erased and merged ones never show) ---

LOOKUP_LIMIT = 10


def param(value: str | None) -> str:
    """A typed search term as PostgreSQL can compare it (text cannot hold NUL: the query would fail)."""
    return (value or "").replace("\x00", "")


def member_lookup_phone(raw: str) -> Member:
    """The member with this number, typed in any format (`9123 4567`, `+852-9123-4567`, `85291234567`).

    Raises ValidationFailed when it is not a phone number, MemberNotFound when nobody has it."""
    phone = phone_normalise(param(raw))
    if phone is None:
        raise ValidationFailed(fields={"phone": _("Enter a mobile number, e.g. 9123 4567.")})
    member = Member.objects.active().filter(phone=phone).first()
    if member is None:
        raise MemberNotFound(phone=phone)
    return member


def members_lookup_last4(*, last4: str, name: str) -> list[Member]:
    """At most LOOKUP_LIMIT (10) members whose number ends in these four digits and whose name contains
    `name` (any case). Both parts are required, so a counter cannot list members by four digits alone.

    Raises ValidationFailed."""
    last4, name = param(last4).strip(), param(name).strip()
    errors = {}
    if len(last4) != 4 or not last4.isascii() or not last4.isdigit():
        errors["last4"] = _("Enter the last four digits of the mobile number.")
    if not name:
        errors["name"] = _("Enter part of the member's name.")
    if errors:
        raise ValidationFailed(fields=errors)
    return list(
        Member.objects.active()
        .filter(phone__endswith=last4, name__icontains=name)
        .order_by("name", "pk")[:LOOKUP_LIMIT]
    )


def member_list(*, q: str = "") -> QuerySet[Member]:
    """Active members for the back office, searched by `q`: a full number (any format), the last four
    digits, or part of a name or e-mail."""
    queryset = Member.objects.active().select_related("attributed_staff")
    q = param(q).strip()[:100]
    if not q:
        return queryset
    if len(q) == 4 and q.isdigit():
        return queryset.filter(phone__endswith=q)
    phone = phone_normalise(q)
    if phone is not None:
        return queryset.filter(phone=phone)
    digits = "".join(ch for ch in q if ch.isdigit())
    match = Q(name__icontains=q) | Q(email__icontains=q)
    if len(digits) >= 4 and len(digits) == len(q.replace(" ", "").replace("-", "").lstrip("+")):
        match |= Q(phone__contains=digits)
    return queryset.filter(match)


def member_active_get(member_id: int) -> Member:
    """This very member (no following of merges), if it is neither erased nor merged; else MemberNotFound."""
    member = Member.objects.active().filter(pk=member_id).first()
    if member is None:
        raise MemberNotFound(member_id=member_id)
    return member


def consent_history(member_id: int) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(member_id=member_id).order_by("-created_at", "-pk")


# --- Segments: always a live query, so an opt-out or an erasure takes effect in the very next list ---

STORE_CHANNELS = ("pos",)
TAGS_ANY_SQL = "EXISTS (SELECT 1 FROM unnest(members_member.tags) AS tag WHERE lower(tag) = ANY(%s))"
ONLINE_CHANNELS = ("web", "social", "phone")


def spend_since_subquery(since: datetime) -> Subquery:
    spend = (
        SpendEntry.objects.filter(member=OuterRef("pk"), at__gte=since)
        .order_by()
        .values("member")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Subquery(spend, output_field=DecimalField(max_digits=14, decimal_places=2))


def members_contactable(channel: str) -> QuerySet[Member]:
    """Active members who consented to marketing on this channel and can be reached on it."""
    if channel not in CONSENT_CHANNELS:
        raise ValidationFailed(fields={"channel": _("Choose SMS, WhatsApp or e-mail.")})
    queryset = Member.objects.active().filter(**{f"consent_{channel}": True})
    if channel == ConsentChannel.EMAIL:
        return queryset.exclude(email="")
    return queryset.filter(phone__isnull=False)


def segment_members(segment: Segment, *, channel: str) -> QuerySet[Member]:
    """The segment's members who may be contacted on `channel` ("sms", "whatsapp", "email").

    Leaves out, always: members without consent for that channel (or without a number / e-mail for it),
    erased and merged members. Filters: tiers (any of); tags (any of, in any case); net spend over the
    last 12 months (SpendEntry, returns deducted; min and max inclusive); a purchase within the last N
    days; no purchase within the last N days (members who never bought count as not having bought);
    channel behaviour over all purchases: store (POS) only, online (web, social, phone) only, or both.
    Raises ValidationFailed for an unknown channel.
    """
    queryset = members_contactable(channel)
    now = timezone.now()
    if segment.tiers:
        queryset = queryset.filter(tier__in=segment.tiers)
    if segment.tags:
        # Any of the tags, in any case ("VIP" finds "vip"), as tags_clean keeps them unique without case.
        # The SQL is a constant; the tags are bound as a parameter.
        lowered = [tag.lower() for tag in segment.tags]
        queryset = queryset.filter(RawSQL(TAGS_ANY_SQL, (lowered,), output_field=BooleanField()))  # noqa: S611
    if segment.min_spend_12m is not None or segment.max_spend_12m is not None:
        queryset = queryset.annotate(
            spend_12m=Coalesce(spend_since_subquery(now - timedelta(days=365)), Decimal("0"))
        )
        if segment.min_spend_12m is not None:
            queryset = queryset.filter(spend_12m__gte=segment.min_spend_12m)
        if segment.max_spend_12m is not None:
            queryset = queryset.filter(spend_12m__lte=segment.max_spend_12m)
    purchases = SpendEntry.objects.filter(member=OuterRef("pk"), amount__gt=0)
    if segment.purchased_within_days is not None:
        since = now - timedelta(days=segment.purchased_within_days)
        queryset = queryset.filter(Exists(purchases.filter(at__gte=since)))
    if segment.not_purchased_within_days is not None:
        since = now - timedelta(days=segment.not_purchased_within_days)
        queryset = queryset.exclude(Exists(purchases.filter(at__gte=since)))
    in_store = Exists(purchases.filter(channel__in=STORE_CHANNELS))
    online = Exists(purchases.filter(channel__in=ONLINE_CHANNELS))
    if segment.channel_behaviour == "store_only":
        queryset = queryset.filter(in_store).exclude(online)
    elif segment.channel_behaviour == "online_only":
        queryset = queryset.filter(online).exclude(in_store)
    elif segment.channel_behaviour == "both":
        queryset = queryset.filter(in_store, online)
    return queryset.order_by("pk")


def segment_get(segment_id: int) -> Segment:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(segment_id=segment_id)
    return segment


def signed_in_member(user: Any) -> Member | None:
    """The member of a signed-in customer (the survivor if it was merged), or None: staff, an API client, an
    anonymous caller, a customer without a member, an erased member."""
    if (
        not (user and user.is_authenticated)
        or user.is_superuser
        or getattr(user, "role", None) != Role.CUSTOMER
    ):
        return None
    member = Member.objects.filter(user=user).first()
    if member is None:
        return None
    try:
        return member_get(member.pk)
    except MemberNotFound:
        return None
