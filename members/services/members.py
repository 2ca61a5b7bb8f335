"""The member record: sign-up, changes, marketing consent, staff attribution, QR nonce, merging duplicates.

A member is known by one mobile number, E.164 (`+85291234567`): typed numbers without a country code are Hong
Kong ones; other countries are given with `+`. Landlines are refused (the number receives the sign-in code).
Marketing consent is off until given, per channel, and every change is a ConsentRecord (when, where, by whom):
the flags on Member are the current state that segments query, the records are the evidence (PDPO).
Every write here is audited in its own transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from enum import Enum
from typing import Any, Final

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.exceptions import MemberNotFound
from members.hooks import MERGE_HOOKS
from members.models import (
    CONSENT_CHANNELS,
    ConsentRecord,
    Coupon,
    Member,
    PointsEntry,
    SpendEntry,
    StaffAttribution,
    Tier,
)
from members.selectors import member_get
from omo.errors import Conflict, ValidationFailed
from omo.models import STAFF_ROLES, Location, User
from omo.scoping import access_branch
from omo.services.audit import audit_record
from omo.services.outbox import outbox_enqueue

Birthday = tuple[int, int, int | None]  # (month, day, year or None)

WELCOME_TASK = "members.tasks.coupons_welcome_issue_task"
SIGN_UP_REASON = "sign-up"
MAX_TAGS = 30
NOT_MOBILE = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.VOICEMAIL,
    }
)
TIER_RANK = {tier: rank for rank, tier in enumerate(Tier.values)}


class MemberPhoneTaken(Conflict):
    code = "member_phone_taken"
    default_message = _("This mobile number already belongs to a member.")


class MemberMergeRefused(Conflict):
    code = "member_merge_refused"
    default_message = _("These members cannot be merged.")


class Unset(Enum):
    UNSET = "unset"


UNSET: Final = Unset.UNSET


# --- checks ---------------------------------------------------------------------------------------------


def member_phone_clean(raw: str, *, field: str = "phone") -> str:
    """E.164 of a typed mobile number (`9123 4567`, `852-9123-4567`, `+86 138 0013 8000`).
    Raises ValidationFailed for anything else, landlines included."""
    message = _("Enter a mobile number, e.g. 9123 4567, or +86 138 0013 8000 for another country.")
    try:
        number = phonenumbers.parse(str(raw or "").strip(), "HK")
    except phonenumbers.NumberParseException:
        raise ValidationFailed(fields={field: message}) from None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) in NOT_MOBILE:
        raise ValidationFailed(fields={field: message})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def birthday_clean(birthday: Sequence[int | None] | None) -> tuple[int | None, int | None, int | None]:
    """(month, day, year) of a birthday given as (month, day, year or None); year is optional; a 29 February
    without a year is allowed. Raises ValidationFailed."""
    if birthday is None:
        return None, None, None
    message = _("Enter a real date: month and day, and the year if the member wants to give it.")
    try:
        month, day, year = birthday
        if isinstance(month, bool) or isinstance(day, bool) or isinstance(year, bool):
            raise TypeError
        checked_year = 2000 if year is None else int(year)  # 2000 is a leap year: 29 February is valid
        date(checked_year, int(month), int(day))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(fields={"birthday": message}) from None
    if year is not None and not 1900 <= int(year) <= timezone.localdate().year:
        raise ValidationFailed(fields={"birthday": message})
    return int(month), int(day), None if year is None else int(year)  # type: ignore[arg-type]


def text(value: Any) -> str:
    """A string PostgreSQL can store (text cannot hold NUL)."""
    return str(value or "").replace("\x00", "")


def name_clean(name: str) -> str:
    name = " ".join(text(name).split())
    if len(name) > 100:
        raise ValidationFailed(fields={"name": _("A name is at most 100 characters.")})
    return name


def email_clean(email: str) -> str:
    email = text(email).strip().lower()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(fields={"email": _("Enter a valid e-mail address.")}) from None
    if len(email) > 254:
        raise ValidationFailed(fields={"email": _("Enter a valid e-mail address.")})
    return email


def language_clean(language: str) -> str:
    codes = [code for code, _name in getattr(settings, "LANGUAGES", [("zh-hant", ""), ("en", "")])]
    if language not in codes:
        raise ValidationFailed(fields={"language": _("Choose Traditional Chinese or English.")})
    return language


def tags_clean(tags: Sequence[str]) -> list[str]:
    """Tags trimmed, each kept once (first spelling wins, compared without case), in the order given."""
    if isinstance(tags, str):
        tags = [tags]
    cleaned: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        tag = " ".join(text(tag).split())
        if not tag or tag.casefold() in seen:
            continue
        if len(tag) > 40:
            raise ValidationFailed(fields={"tags": _("A tag is at most 40 characters.")})
        seen.add(tag.casefold())
        cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(fields={"tags": _("A member has at most 30 tags.")})
    return cleaned


def source_clean(source: str) -> str:
    source = text(source).strip()
    if not source or len(source) > 40:
        raise ValidationFailed(fields={"source": _("Say where this happened, e.g. pos:CWB or web.")})
    return source


def channel_clean(channel: str) -> str:
    if channel not in CONSENT_CHANNELS:
        raise ValidationFailed(fields={"channel": _("Choose SMS, WhatsApp or e-mail.")})
    return channel


def staff_clean(staff_id: int, *, field: str = "staff") -> User:
    staff = User.objects.filter(pk=staff_id, is_active=True).first()
    if staff is None or not (staff.role in STAFF_ROLES or staff.is_superuser):
        raise ValidationFailed(fields={field: _("Choose an active member of staff.")})
    return staff


def actor_label(actor: Any) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return str(actor.get_username())[:150]
    return str(actor or "system")[:150]


def is_user(actor: Any) -> bool:
    return isinstance(actor, User) and actor.is_authenticated


def nonce_new() -> str:
    return secrets.token_urlsafe(9)[:12]


def member_snapshot(member: Member) -> dict[str, Any]:
    """What the audit log says about a member (before and after a change)."""
    return {
        "name": member.name,
        "phone": str(member.phone) if member.phone else None,
        "email": member.email,
        "birthday": [member.birth_month, member.birth_day, member.birth_year] if member.birth_month else None,
        "language": member.language,
        "tags": list(member.tags),
        "tier": member.tier,
        "consent": {channel: member.consent(channel) for channel in CONSENT_CHANNELS},
        "attributed_staff": member.attributed_staff_id,
    }


def members_lock(*member_ids: int) -> dict[int, Member]:
    """Locks the members' rows, in primary-key order (so two merges never deadlock)."""
    rows = Member.objects.select_for_update().filter(pk__in=member_ids).order_by("pk")
    return {member.pk: member for member in rows}


def member_lock_resolved(member_id: int) -> Member:
    """The member (or the one it was merged into), locked. Raises MemberNotFound (also when erased)."""
    resolved = member_get(member_id)
    locked = members_lock(resolved.pk).get(resolved.pk)
    if locked is None or locked.erased_at is not None or locked.merged_into_id is not None:
        raise MemberNotFound(member_id=member_id)
    return locked


def phone_owner(phone: str) -> Member | None:
    return Member.objects.filter(phone=phone).only("pk").first()


# --- writes ---------------------------------------------------------------------------------------------


@transaction.atomic
def member_create(
    *,
    phone: str,
    source: str,
    actor: Any,
    name: str = "",
    email: str = "",
    birthday: Birthday | None = None,
    language: str = "zh-hant",
    tags: Sequence[str] = (),
    consents: Mapping[str, bool] | None = None,
    attributed_staff_id: int | None = None,
    location_id: int | None = None,
) -> Member:
    """Signs a customer up. Consent is off unless given here (each given one is a ConsentRecord from
    `source`, by `actor`). A member signed up in store is attributed ("sign-up") to `attributed_staff_id`, or,
    when that is not given and `source` is a POS ("pos:CWB"), to the staff member signing them up.
    The welcome coupon is issued after commit (outbox: members.tasks.coupons_welcome_issue_task).

    No lock is taken: the unique phone index decides between two tills signing the same number up at once.
    Raises ValidationFailed, BranchAccessDenied (a cashier signing up at another branch), MemberPhoneTaken
    (409, naming the member who has the number).
    """
    phone = member_phone_clean(phone)
    source = source_clean(source)
    consents = dict(consents or {})
    for channel in consents:
        channel_clean(channel)
    month, day, year = birthday_clean(birthday)
    if location_id is not None:
        if not Location.objects.filter(pk=location_id).exists():
            raise ValidationFailed(fields={"location": _("No such location.")})
        if is_user(actor):
            access_branch(actor, location_id)
    staff: User | None = None
    if attributed_staff_id is not None:
        staff = staff_clean(attributed_staff_id, field="attributed_staff")
    elif source.startswith("pos") and is_user(actor) and actor.role in STAFF_ROLES:
        staff = actor
    existing = phone_owner(phone)
    if existing is not None:
        raise MemberPhoneTaken(member_id=existing.pk)
    now = timezone.now()
    member = Member(
        phone=phone,
        name=name_clean(name),
        email=email_clean(email),
        birth_month=month,
        birth_day=day,
        birth_year=year,
        language=language_clean(language),
        tags=tags_clean(tags),
        attributed_staff=staff,
        attributed_at=now if staff else None,
        joined_at_location_id=location_id,
        qr_nonce=nonce_new(),
        created_at=now,
    )
    for channel, granted in consents.items():
        setattr(member, f"consent_{channel}", bool(granted))
    try:
        with transaction.atomic():  # a savepoint: the other till's insert won, this one can still answer
            member.save(force_insert=True)
    except IntegrityError:
        existing = phone_owner(phone)
        if existing is None:
            raise
        raise MemberPhoneTaken(member_id=existing.pk) from None
    label = actor_label(actor)
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                member=member, channel=channel, granted=True, source=source, actor_label=label, created_at=now
            )
            for channel, granted in consents.items()
            if granted
        ]
    )
    if staff is not None:
        StaffAttribution.objects.create(
            member=member, staff=staff, reason=SIGN_UP_REASON, actor_label=label, created_at=now
        )
    audit_record(
        actor=actor,
        action="member.create",
        branch=location_id,
        obj=member,
        after={**member_snapshot(member), "source": source},
    )
    outbox_enqueue(task=WELCOME_TASK, kwargs={"member_id": member.pk})
    return member


@transaction.atomic
def member_update(
    *,
    member_id: int,
    actor: Any,
    name: str | Unset = UNSET,
    email: str | Unset = UNSET,
    birthday: Birthday | Unset | None = UNSET,
    language: str | Unset = UNSET,
    tags: Sequence[str] | Unset = UNSET,
) -> Member:
    """Changes what is given (a birthday of None clears it). Locks the member row.
    Raises ValidationFailed, MemberNotFound."""
    member = member_lock_resolved(member_id)
    before = member_snapshot(member)
    if name is not UNSET:
        member.name = name_clean(name)
    if email is not UNSET:
        member.email = email_clean(email)
    if birthday is not UNSET:
        member.birth_month, member.birth_day, member.birth_year = birthday_clean(birthday)
    if language is not UNSET:
        member.language = language_clean(language)
    if tags is not UNSET:
        member.tags = tags_clean(tags)
    after = member_snapshot(member)
    if after != before:
        member.save(
            update_fields=["name", "email", "birth_month", "birth_day", "birth_year", "language", "tags"]
        )
        changed = [key for key in after if after[key] != before[key]]
        audit_record(
            actor=actor,
            action="member.update",
            obj=member,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    return member


@transaction.atomic
def consent_set(*, member_id: int, channel: str, granted: bool, source: str, actor: Any) -> Member:
    """Gives or withdraws marketing consent on one channel. It takes effect at once: segments and exports
    query the flag. Every call is a ConsentRecord (a repeated "yes" is evidence too). Locks the member row.
    Raises ValidationFailed, MemberNotFound."""
    channel = channel_clean(channel)
    source = source_clean(source)
    member = member_lock_resolved(member_id)
    before = member.consent(channel)
    setattr(member, f"consent_{channel}", bool(granted))
    member.save(update_fields=[f"consent_{channel}"])
    ConsentRecord.objects.create(
        member=member, channel=channel, granted=bool(granted), source=source, actor_label=actor_label(actor)
    )
    audit_record(
        actor=actor,
        action="member.consent",
        obj=member,
        before={"channel": channel, "granted": before},
        after={"channel": channel, "granted": bool(granted), "source": source},
    )
    return member


@transaction.atomic
def attribution_set(*, member_id: int, staff_id: int, reason: str, actor: Any) -> Member:
    """Attributes the member to a member of staff, who is credited with the member's orders (any channel)
    for the attribution window from now. Locks the member row.
    Raises ValidationFailed (no reason, not staff), MemberNotFound."""
    reason = " ".join(text(reason).split())
    if not reason:
        raise ValidationFailed(fields={"reason": _("Say why the member is attributed to this staff member.")})
    if len(reason) > 200:
        raise ValidationFailed(fields={"reason": _("A reason is at most 200 characters.")})
    staff = staff_clean(staff_id)
    member = member_lock_resolved(member_id)
    before = member.attributed_staff_id
    member.attributed_staff = staff
    member.attributed_at = timezone.now()
    member.save(update_fields=["attributed_staff", "attributed_at"])
    StaffAttribution.objects.create(member=member, staff=staff, reason=reason, actor_label=actor_label(actor))
    audit_record(
        actor=actor,
        action="member.attribution",
        obj=member,
        before={"attributed_staff": before},
        after={"attributed_staff": staff.pk, "staff": staff.get_username()},
        reason=reason,
    )
    return member


@transaction.atomic
def member_qr_rotate(*, member_id: int, actor: Any = "system") -> Member:
    """A new QR nonce: every QR token shown before stops working (a lost phone). Locks the member row.
    Raises MemberNotFound."""
    member = member_lock_resolved(member_id)
    member.qr_nonce = nonce_new()
    member.save(update_fields=["qr_nonce"])
    audit_record(actor=actor, action="member.qr_rotate", obj=member)
    return member


# --- merging duplicates ---------------------------------------------------------------------------------


def consent_combined(member: Member) -> dict[str, bool]:
    """Per channel, the most recent ConsentRecord of the (merged) member wins; no record keeps the flag."""
    latest: dict[str, bool] = {}
    for channel, granted in (
        ConsentRecord.objects.filter(member=member)
        .order_by("channel", "-created_at", "-pk")
        .distinct("channel")
        .values_list("channel", "granted")
    ):
        latest[channel] = granted
    return {channel: latest.get(channel, member.consent(channel)) for channel in CONSENT_CHANNELS}


def coupon_keys_free(*, survivor: Member, duplicate: Member) -> None:
    """A coupon issued once per member and key (the welcome coupon, this year's birthday coupon) may exist on
    both: the duplicate's keeps its own key with a suffix, so both coupons stay valid and the unique
    constraint holds."""
    taken = set(
        Coupon.objects.filter(member=survivor).exclude(issue_key="").values_list("issue_key", flat=True)
    )
    for coupon in Coupon.objects.filter(member=duplicate, issue_key__in=taken):
        coupon.issue_key = f"{coupon.issue_key}:m{duplicate.pk}"[-60:]
        coupon.save(update_fields=["issue_key"])


@transaction.atomic
def member_merge(*, survivor_id: int, duplicate_id: int, actor: Any, reason: str) -> Member:
    """Merges a duplicate member into the survivor.

    Moves to the survivor: points and spend entries, coupons, consent records and attributions, the
    duplicate's orders (and whatever else MERGE_HOOKS move), the sign-in account when the survivor has none.
    Consent per channel: the most recent record of either wins. Tags: the union. Name, e-mail, birthday,
    number: the survivor's, or the duplicate's where the survivor has none. Tier: the higher (the nightly
    recomputation settles it from the combined spend). Attribution: the more recent. Member since: the
    earlier.
    The duplicate keeps its row with `merged_into` set and no number (its number is in the audit record), so
    look-ups by its old id lead to the survivor.

    Locks both rows in primary-key order. Raises ValidationFailed (no reason), MemberNotFound,
    MemberMergeRefused (409: the same member, or one of them erased or already merged).
    """
    reason = " ".join(text(reason).split())
    if not reason:
        raise ValidationFailed(fields={"reason": _("Say why these members are the same person.")})
    if survivor_id == duplicate_id:
        raise MemberMergeRefused(_("A member cannot be merged into itself."))
    locked = members_lock(survivor_id, duplicate_id)
    survivor, duplicate = locked.get(survivor_id), locked.get(duplicate_id)
    if survivor is None or duplicate is None:
        raise MemberNotFound(member_id=survivor_id if survivor is None else duplicate_id)
    for member in (survivor, duplicate):
        if member.erased_at is not None:
            raise MemberMergeRefused(_("An erased member cannot be merged."), member_id=member.pk)
        if member.merged_into_id is not None:
            raise MemberMergeRefused(
                _("This member was already merged into another one."),
                member_id=member.pk,
                merged_into=member.merged_into_id,
            )
    before = {"survivor": member_snapshot(survivor), "duplicate": member_snapshot(duplicate)}

    coupon_keys_free(survivor=survivor, duplicate=duplicate)
    moved = {
        "points_entries": PointsEntry.objects.filter(member=duplicate).update(member=survivor),
        "spend_entries": SpendEntry.objects.filter(member=duplicate).update(member=survivor),
        "coupons": Coupon.objects.filter(member=duplicate).update(member=survivor),
        "consent_records": ConsentRecord.objects.filter(member=duplicate).update(member=survivor),
        "attributions": StaffAttribution.objects.filter(member=duplicate).update(member=survivor),
    }
    # Members merged into the duplicate before now point straight at the survivor (chains stay short).
    Member.objects.filter(merged_into=duplicate).update(merged_into=survivor)

    for channel, granted in consent_combined(survivor).items():
        setattr(survivor, f"consent_{channel}", granted)
    survivor.tags = tags_clean([*survivor.tags, *duplicate.tags])
    survivor.name = survivor.name or duplicate.name
    survivor.email = survivor.email or duplicate.email
    if survivor.birth_month is None and duplicate.birth_month is not None:
        survivor.birth_month, survivor.birth_day = duplicate.birth_month, duplicate.birth_day
        survivor.birth_year = duplicate.birth_year
    elif survivor.birth_year is None and (survivor.birth_month, survivor.birth_day) == (
        duplicate.birth_month,
        duplicate.birth_day,
    ):
        survivor.birth_year = duplicate.birth_year
    if TIER_RANK.get(duplicate.tier, 0) > TIER_RANK.get(survivor.tier, 0):
        survivor.tier, survivor.tier_since = duplicate.tier, duplicate.tier_since
    if duplicate.attributed_at and (
        survivor.attributed_at is None or duplicate.attributed_at > survivor.attributed_at
    ):
        survivor.attributed_staff_id, survivor.attributed_at = (
            duplicate.attributed_staff_id,
            duplicate.attributed_at,
        )
    survivor.joined_at_location_id = survivor.joined_at_location_id or duplicate.joined_at_location_id
    survivor.created_at = min(survivor.created_at, duplicate.created_at)
    user_moves = survivor.user_id is None and duplicate.user_id is not None
    phone_moves = survivor.phone is None and duplicate.phone is not None
    duplicate_user_id, duplicate_phone = duplicate.user_id, duplicate.phone

    # The duplicate gives up its unique number and account first, so the survivor can take them.
    duplicate.merged_into = survivor
    duplicate.phone = None
    duplicate.qr_nonce = nonce_new()
    for channel in CONSENT_CHANNELS:
        setattr(duplicate, f"consent_{channel}", False)
    if user_moves:
        duplicate.user = None
    duplicate.save()
    if user_moves:
        survivor.user_id = duplicate_user_id
    if phone_moves:
        survivor.phone = duplicate_phone
    survivor.save()

    for hook in MERGE_HOOKS:
        hook(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=actor)
    audit_record(
        actor=actor,
        action="member.merge",
        obj=survivor,
        before=before,
        after={
            "survivor": member_snapshot(survivor),
            "duplicate_id": duplicate.pk,
            "moved": moved,
            "user_moved": user_moves,
        },
        reason=reason[:255],
    )
    audit_record(
        actor=actor,
        action="member.merged_into",
        obj=duplicate,
        before={"phone": str(duplicate_phone) if duplicate_phone else None},
        after={"merged_into": survivor.pk},
        reason=reason[:255],
    )
    return survivor
