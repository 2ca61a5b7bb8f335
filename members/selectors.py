"""Reads of members used by other apps (orders looks the customer up here)."""

from __future__ import annotations

import phonenumbers
from django.db.models import QuerySet

from members.exceptions import MemberNotFound
from members.models import Member


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
