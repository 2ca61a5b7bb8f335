"""Coupons: templates, issuing (by staff, claimed online, welcome, birthday, campaigns), redeeming once.

A coupon is spent by ONE conditional UPDATE (`... WHERE code = %s AND status = 'issued' ... RETURNING`):
two tills scanning the same coupon at once, PostgreSQL lets exactly one row change and the other till is told
CouponUsed. Issuing locks the member's row, so the limit per member and the (member, issue_key) constraint
hold against a double click, a retried request or a beat task that runs twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.exceptions import MemberNotFound
from members.models import Coupon, CouponKind, CouponScope, CouponSource, CouponStatus, CouponTemplate, Member
from members.selectors import member_get
from members.selectors_coupons import (
    COUPON_CHANNELS,
    CouponExpired,
    CouponMinimumSpend,
    CouponNotFound,
    CouponNothingToDiscount,
    CouponNotValidHere,
    CouponNotYetValid,
    CouponNotYours,
    CouponTemplateNotFound,
    CouponUnavailable,
    CouponUsed,
    CouponVoid,
    coupon_code_clean,
    coupon_get,
    coupon_quote,
    coupon_template_get,
    coupon_usable_check,
)
from omo.errors import PermissionDenied, ValidationFailed
from omo.models import Role
from omo.services.audit import audit_record

__all__ = [
    "CouponExpired",
    "CouponMinimumSpend",
    "CouponNotFound",
    "CouponNotValidHere",
    "CouponNotYetValid",
    "CouponNotYours",
    "CouponNothingToDiscount",
    "CouponTemplateNotFound",
    "CouponUnavailable",
    "CouponUsed",
    "CouponVoid",
    "coupon_campaign_issue",
    "coupon_claim",
    "coupon_issue",
    "coupon_quote",
    "coupon_redeem",
    "coupon_template_create",
    "coupon_template_update",
    "coupon_unredeem",
    "coupon_void",
    "coupons_birthday_issue",
    "coupons_welcome_issue",
]

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L: a code read out over the counter or typed from a screenshot is not misread.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31**10, about 2**49: not guessable, short enough to type
CODE_TRIES = 5
BATCH_SIZE = 500
CENT = Decimal("0.01")
TEMPLATE_WRITERS = frozenset({Role.OWNER, Role.MANAGER, Role.API_CLIENT})
TEMPLATE_FIELDS = (
    "code",
    "name_en",
    "name_zh_hant",
    "kind",
    "value",
    "scope",
    "category_id",
    "min_spend",
    "valid_from",
    "valid_until",
    "valid_days",
    "channels",
    "limit_per_member",
    "claimable",
    "is_active",
)


def coupon_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def is_user(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_authenticated", False))


def manager_check(actor: Any) -> None:
    """Templates and hand-given coupons are a manager's (or the owner's, or a scoped API client's) call.
    System work (an actor label such as "system" or "seed") may do them."""
    if is_user(actor) and not (actor.is_superuser or actor.role in TEMPLATE_WRITERS):
        raise PermissionDenied(_("Only a manager or the owner can do this."))


# --- templates ----------------------------------------------------------------------------------------------


def template_values_check(values: dict[str, Any]) -> dict[str, Any]:
    """Cleans a template's values; raises ValidationFailed naming every bad field at once."""
    errors: dict[str, Any] = {}
    clean = dict(values)
    code = str(clean.get("code") or "").strip().lower()
    clean["code"] = code
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_" for c in code) or not code.isascii():
        errors["code"] = _("A code is 1 to 40 letters, digits, dashes or underscores.")
    for name in ("name_en", "name_zh_hant"):
        clean[name] = str(clean.get(name) or "").strip()
        if not clean[name] or len(clean[name]) > 100:
            errors[name] = _("A name is 1 to 100 characters.")
    if clean.get("kind") not in CouponKind.values:
        errors["kind"] = _("Percent or amount off.")
    try:
        value = Decimal(str(clean.get("value")))
    except (InvalidOperation, ValueError):
        value = Decimal(0)
    clean["value"] = value
    if value <= 0 or value != value.quantize(CENT) or value >= Decimal("100000000"):
        errors["value"] = _("The value is above zero, with at most two decimals.")
    elif clean.get("kind") == CouponKind.PERCENT and value > 100:
        errors["value"] = _("A percentage is at most 100.")
    scope = clean.get("scope") or CouponScope.ORDER
    clean["scope"] = scope
    if scope not in CouponScope.values:
        errors["scope"] = _("The whole order or one category.")
    elif scope == CouponScope.CATEGORY and not clean.get("category_id"):
        errors["category_id"] = _("Choose the category the coupon applies to.")
    elif scope == CouponScope.ORDER:
        clean["category_id"] = None
    minimum = clean.get("min_spend")
    minimum = Decimal(str(getattr(minimum, "amount", minimum) or 0))
    clean["min_spend"] = minimum
    if minimum < 0 or minimum != minimum.quantize(CENT):
        errors["min_spend"] = _("The minimum spend is zero or more, to the cent.")
    valid_from, valid_until = clean.get("valid_from"), clean.get("valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        errors["valid_until"] = _("The end is after the start.")
    days = clean.get("valid_days")
    if days is not None and int(days) < 1:
        errors["valid_days"] = _("At least one day.")
    channels = list(dict.fromkeys(clean.get("channels") or []))
    clean["channels"] = channels
    if any(channel not in COUPON_CHANNELS for channel in channels):
        errors["channels"] = _("Channels are pos, web, social and phone (none: all of them).")
    limit = clean.get("limit_per_member")
    clean["limit_per_member"] = 1 if limit is None else limit
    if int(clean["limit_per_member"]) < 0:
        errors["limit_per_member"] = _("Zero (no limit) or more.")
    if errors:
        raise ValidationFailed(fields=errors)
    clean["value"], clean["min_spend"] = value.quantize(CENT), minimum.quantize(CENT)
    return clean


def template_payload(template: CouponTemplate) -> dict[str, Any]:
    return {
        "code": template.code,
        "kind": template.kind,
        "value": str(template.value),
        "scope": template.scope,
        "category_id": template.category_id,
        "min_spend": str(template.min_spend.amount),
        "valid_from": template.valid_from.isoformat() if template.valid_from else None,
        "valid_until": template.valid_until.isoformat() if template.valid_until else None,
        "valid_days": template.valid_days,
        "channels": list(template.channels),
        "limit_per_member": template.limit_per_member,
        "claimable": template.claimable,
        "is_active": template.is_active,
    }


def code_taken_check(code: str, *, exclude_pk: int | None = None) -> None:
    others = CouponTemplate.objects.filter(code=code)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise ValidationFailed(fields={"code": _("Another template has this code.")})


@transaction.atomic
def coupon_template_create(
    *,
    actor: Any,
    code: str,
    name_en: str,
    name_zh_hant: str,
    kind: str,
    value: Decimal,
    scope: str = CouponScope.ORDER,
    category_id: int | None = None,
    min_spend: Decimal = Decimal(0),
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    valid_days: int | None = None,
    channels: Sequence[str] = (),
    limit_per_member: int = 1,
    claimable: bool = False,
    is_active: bool = True,
) -> CouponTemplate:
    """Creates a template (what its coupons give, where and until when). Managers and owners only; audited.

    `limit_per_member` 0 means no limit. Raises PermissionDenied, ValidationFailed (every bad field at once).
    """
    manager_check(actor)
    values = template_values_check(
        {
            "code": code,
            "name_en": name_en,
            "name_zh_hant": name_zh_hant,
            "kind": kind,
            "value": value,
            "scope": scope,
            "category_id": category_id,
            "min_spend": min_spend,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "valid_days": valid_days,
            "channels": list(channels),
            "limit_per_member": limit_per_member,
            "claimable": claimable,
            "is_active": is_active,
        }
    )
    code_taken_check(values["code"])
    template = CouponTemplate.objects.create(**values)
    audit_record(actor=actor, action="coupon_template.create", obj=template, after=template_payload(template))
    return template


@transaction.atomic
def coupon_template_update(*, template_id: int, actor: Any, **changes: Any) -> CouponTemplate:
    """Changes a template (any of the create arguments). Coupons already issued keep their expiry; the
    other rules (channels, minimum spend, value) apply to them from now on. Managers and owners; audited.
    Locks the template row. Raises PermissionDenied, CouponTemplateNotFound, ValidationFailed."""
    manager_check(actor)
    unknown = sorted(set(changes) - set(TEMPLATE_FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: _("Unknown field.") for name in unknown})
    template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
    if template is None:
        raise CouponTemplateNotFound(template_id=template_id)
    before = template_payload(template)
    current = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
    values = template_values_check({**current, **changes})
    code_taken_check(values["code"], exclude_pk=template.pk)
    for name, value in values.items():
        setattr(template, name, value)
    template.save()
    audit_record(
        actor=actor,
        action="coupon_template.update",
        obj=template,
        before=before,
        after=template_payload(template),
    )
    return template


# --- issuing ------------------------------------------------------------------------------------------------


def expiry_of(template: CouponTemplate, issued_at: datetime) -> datetime | None:
    """The earlier of the template's end and `valid_days` after issue (None: never expires)."""
    ends = [template.valid_until] if template.valid_until else []
    if template.valid_days:
        ends.append(issued_at + timedelta(days=template.valid_days))
    return min(ends) if ends else None


def issuable_check(template: CouponTemplate, *, now: datetime) -> datetime | None:
    """Raises CouponUnavailable when no coupon of this template can be issued now; returns the expiry."""
    if not template.is_active:
        raise CouponUnavailable(_("This coupon offer has ended."), template=template.code)
    expires_at = expiry_of(template, now)
    if expires_at is not None and expires_at <= now:
        raise CouponUnavailable(_("This coupon offer has ended."), template=template.code)
    return expires_at


def member_lock(member_id: int) -> Member:
    """The member (or the one it was merged into), its row locked: issues to one member run one at a time."""
    member = member_get(member_id)
    locked = Member.objects.active().select_for_update(of=("self",)).filter(pk=member.pk).first()
    if locked is None:
        raise MemberNotFound(member_id=member_id)
    return locked


def member_count_of(template: CouponTemplate, member_id: int) -> int:
    return (
        Coupon.objects.filter(template=template, member_id=member_id)
        .exclude(status=CouponStatus.VOID)
        .count()
    )


def coupon_insert(
    *, template: CouponTemplate, member: Member | None, source: str, issue_key: str, now: datetime
) -> Coupon:
    """Inserts one coupon with a fresh code; a code collision (one in 2**49) tries another code."""
    expires_at = expiry_of(template, now)
    for attempt in range(CODE_TRIES):
        try:
            with transaction.atomic():
                return Coupon.objects.create(
                    template=template,
                    member=member,
                    code=coupon_code_new(),
                    source=source,
                    issued_at=now,
                    expires_at=expires_at,
                    issue_key=issue_key,
                )
        except IntegrityError:
            if issue_key and member is not None:
                existing = Coupon.objects.filter(member=member, issue_key=issue_key).first()
                if existing is not None:
                    return existing
            if attempt == CODE_TRIES - 1:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def coupon_issue(
    *,
    template_id: int,
    member_id: int | None,
    source: str,
    issue_key: str = "",
    actor: Any,
    at: datetime | None = None,
) -> Coupon:
    """Issues a coupon of the template, to a member or unassigned (a printed flyer: anyone may use it).

    With an `issue_key` (welcome, birthday-2026, campaign-X) the same (member, key) returns the coupon issued
    before: a task run twice or a retried request issues one coupon. The member's non-void coupons of the
    template may not exceed `limit_per_member` (0: no limit); a birthday coupon is limited by its yearly key
    instead. Given by staff (`source` manual) needs a manager; audited. Locks the member row.

    Raises CouponTemplateNotFound, MemberNotFound, CouponUnavailable (inactive, ended, at the limit),
    PermissionDenied, ValidationFailed (unknown source, a key without a member).
    """
    if source not in CouponSource.values:
        raise ValidationFailed(fields={"source": _("Unknown source.")})
    if issue_key and member_id is None:
        raise ValidationFailed(fields={"issue_key": _("An issue key needs a member.")})
    if source == CouponSource.MANUAL:
        manager_check(actor)
    now = at or timezone.now()
    template = coupon_template_get(template_id)
    member = member_lock(member_id) if member_id is not None else None
    if member is not None and issue_key:
        existing = (
            Coupon.objects.filter(member=member, issue_key=issue_key).select_related("template").first()
        )
        if existing is not None:
            return existing
    issuable_check(template, now=now)
    limit = template.limit_per_member
    limited = member is not None and limit and source != CouponSource.BIRTHDAY
    if limited and member is not None and member_count_of(template, member.pk) >= limit:
        raise CouponUnavailable(
            _("This member already has as many of these coupons as allowed."),
            template=template.code,
            limit=limit,
        )
    coupon = coupon_insert(template=template, member=member, source=source, issue_key=issue_key, now=now)
    if source == CouponSource.MANUAL:
        audit_record(
            actor=actor,
            action="coupon.issue",
            obj=coupon,
            after={"code": coupon.code, "template": template.code, "member": member.pk if member else None},
        )
    return coupon


@transaction.atomic
def coupon_claim(*, template_code: str, member_id: int, at: datetime | None = None) -> Coupon:
    """A signed-in customer claims a coupon online: the template must be claimable, active, within its dates,
    and the member under its limit. Locks the member row (two clicks claim once when the limit is 1).

    Raises CouponTemplateNotFound (also for a template that is not claimable), CouponUnavailable,
    MemberNotFound."""
    now = at or timezone.now()
    template = CouponTemplate.objects.filter(
        code=(template_code or "").strip().lower(), claimable=True
    ).first()
    if template is None:
        raise CouponTemplateNotFound(template=template_code)
    if template.valid_from is not None and template.valid_from > now:
        raise CouponUnavailable(
            _("This coupon can be claimed from %(date)s.")
            % {"date": timezone.localtime(template.valid_from).date()},
            template=template.code,
        )
    return coupon_issue(
        template_id=template.pk, member_id=member_id, source=CouponSource.CLAIM, actor="web", at=now
    )


def template_by_setting(name: str) -> CouponTemplate | None:
    """The active template a setting names ("" = none); a missing or inactive one is logged and skipped."""
    code = getattr(settings, name, "")
    if not code:
        return None
    template = CouponTemplate.objects.filter(code=code).first()
    if template is None or not template.is_active:
        logger.warning("coupons: %s names %r, which is not an active coupon template", name, code)
        return None
    return template


@transaction.atomic
def coupons_welcome_issue(member_id: int) -> Coupon | None:
    """The welcome coupon (template MEMBER_WELCOME_COUPON, "" = none) for a new member, once (issue key
    "welcome"). Returns None when there is none to give (no template, ended, or the member's limit). Safe to
    call in the transaction that creates the member, and twice. Raises MemberNotFound."""
    template = template_by_setting("MEMBER_WELCOME_COUPON")
    if template is None:
        return None
    try:
        with transaction.atomic():
            return coupon_issue(
                template_id=template.pk,
                member_id=member_id,
                source=CouponSource.WELCOME,
                issue_key="welcome",
                actor="system",
            )
    except CouponUnavailable:
        return None


def coupons_issue_many(
    *,
    template: CouponTemplate,
    member_ids: Iterable[int],
    source: str,
    issue_key: str,
    respect_limit: bool,
    now: datetime,
) -> int:
    """Issues to each active member of `member_ids` that has no coupon with `issue_key` yet (and is under the
    limit, if asked); one transaction, member rows locked in primary-key order. Returns how many it issued."""
    expires_at = expiry_of(template, now)
    with transaction.atomic():
        ids = list(
            Member.objects.active()
            .filter(pk__in=list(member_ids))
            .select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        have = set(
            Coupon.objects.filter(member_id__in=ids, issue_key=issue_key).values_list("member_id", flat=True)
        )
        wanted = [pk for pk in ids if pk not in have]
        if respect_limit and template.limit_per_member and wanted:
            counts = dict(
                Coupon.objects.filter(template=template, member_id__in=wanted)
                .exclude(status=CouponStatus.VOID)
                .values("member_id")
                .annotate(n=Count("pk"))
                .values_list("member_id", "n")
            )
            wanted = [pk for pk in wanted if counts.get(pk, 0) < template.limit_per_member]
        if not wanted:
            return 0
        for attempt in range(CODE_TRIES):
            rows = [
                Coupon(
                    template=template,
                    member_id=pk,
                    code=coupon_code_new(),
                    source=source,
                    issued_at=now,
                    expires_at=expires_at,
                    issue_key=issue_key,
                )
                for pk in wanted
            ]
            try:
                with transaction.atomic():
                    Coupon.objects.bulk_create(rows)
                return len(rows)
            except IntegrityError:  # a code collision: the members are locked, so not a duplicate issue
                if attempt == CODE_TRIES - 1:
                    raise
    return 0


def coupons_birthday_issue(*, today: date | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Beat, daily: a birthday coupon (template MEMBER_BIRTHDAY_COUPON, "" = none) to every active member
    whose birthday is this month, once a year (issue key "birthday-<year>"). A benefit, not marketing: no
    consent is needed. Members who join during their birthday month get theirs the next day. Each batch is
    one transaction; a run twice (or two at once) issues one coupon per member. Returns how many it issued."""
    today = today or timezone.localdate()
    template = template_by_setting("MEMBER_BIRTHDAY_COUPON")
    if template is None:
        return 0
    issue_key = f"birthday-{today.year}"
    now = timezone.now()
    ends = expiry_of(template, now)
    if ends is not None and ends <= now:
        logger.warning("coupons: the birthday template %s has ended", template.code)
        return 0
    already = Coupon.objects.filter(member=OuterRef("pk"), issue_key=issue_key)
    issued, last = 0, 0
    while True:
        batch = list(
            Member.objects.active()
            .filter(birth_month=today.month, pk__gt=last)
            .exclude(Exists(already))
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return issued
        issued += coupons_issue_many(
            template=template,
            member_ids=batch,
            source=CouponSource.BIRTHDAY,
            issue_key=issue_key,
            respect_limit=False,
            now=now,
        )
        last = batch[-1]


def coupon_campaign_issue(
    *,
    template_id: int,
    member_ids: Iterable[int],
    campaign_key: str,
    actor: Any,
    batch_size: int = BATCH_SIZE,
) -> int:
    """A campaign: a coupon to each of `member_ids` (a segment's list), once per member and campaign (issue
    key "campaign-<key>"), skipping members who are gone (erased, merged) or at the template's limit. Batches
    of `batch_size`, each one transaction; run again, it issues only to members still missing theirs. A
    manager's act, audited once per run. Returns how many it issued.

    Raises PermissionDenied, CouponTemplateNotFound, CouponUnavailable (inactive, ended), ValidationFailed."""
    manager_check(actor)
    key = (campaign_key or "").strip()
    if not key or len(key) > 50:
        raise ValidationFailed(fields={"campaign_key": _("A campaign key is 1 to 50 characters.")})
    now = timezone.now()
    template = coupon_template_get(template_id)
    issuable_check(template, now=now)
    ids = sorted({int(pk) for pk in member_ids})
    issued = 0
    for start in range(0, len(ids), batch_size):
        issued += coupons_issue_many(
            template=template,
            member_ids=ids[start : start + batch_size],
            source=CouponSource.CAMPAIGN,
            issue_key=f"campaign-{key}",
            respect_limit=True,
            now=now,
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="coupon.campaign",
            obj=template,
            after={"campaign": key, "members": len(ids), "issued": issued},
        )
    return issued


# --- redeeming ----------------------------------------------------------------------------------------------

# One statement decides: of two tills, PostgreSQL lets the first UPDATE change the row; the second waits for
# it, re-reads the row (now 'redeemed'), and changes nothing.
REDEEM_SQL = """
UPDATE {coupon} AS c
SET status = 'redeemed', redeemed_at = %(now)s, redeemed_reference = %(reference)s
FROM {template} AS t
WHERE c.code = %(code)s
  AND c.status = 'issued'
  AND t.id = c.template_id
  AND (c.expires_at IS NULL OR c.expires_at > %(now)s)
  AND (t.valid_from IS NULL OR t.valid_from <= %(now)s)
  AND (c.member_id IS NULL OR c.member_id = %(member)s)
RETURNING c.*
"""
UNREDEEM_SQL = """
UPDATE {coupon} AS c
SET status = 'issued', redeemed_at = NULL, redeemed_reference = ''
WHERE c.code = %(code)s
  AND c.status = 'redeemed'
  AND c.redeemed_reference = %(reference)s
  AND (c.expires_at IS NULL OR c.expires_at > %(now)s)
RETURNING c.*
"""


def sql_of(template: str) -> str:
    return template.format(coupon=Coupon._meta.db_table, template=CouponTemplate._meta.db_table)


@transaction.atomic
def coupon_redeem(
    *,
    code: str,
    reference: str,
    member_id: int | None,
    amount: Decimal,
    actor: Any,
    at: datetime | None = None,
) -> Coupon:
    """Spends the coupon on `reference` (the order number) in one conditional UPDATE: of any number of tills
    redeeming it at once, exactly one succeeds. Records when and on what; audited with the amount.

    Checks who and when (the member, used, expiry, start); what the coupon is worth on the sale is
    coupon_quote's job, which the caller runs first. Raises CouponNotFound, CouponNotYours, CouponUsed,
    CouponVoid, CouponExpired, CouponNotYetValid; then nothing is written."""
    now = at or timezone.now()
    cleaned = coupon_code_clean(code)
    if not reference:
        raise ValidationFailed(fields={"reference": _("Say what the coupon is spent on.")})
    rows = list(
        Coupon.objects.raw(
            sql_of(REDEEM_SQL),
            {"now": now, "reference": reference[:40], "code": cleaned, "member": member_id},
        )
    )
    if not rows:
        # Nothing changed: say why (the winner of a race has committed by now, so this reads 'redeemed').
        coupon_usable_check(coupon_get(cleaned), member_id=member_id, at=now)
        raise CouponUsed(code=cleaned)  # pragma: no cover - the check above always names the reason
    coupon = rows[0]
    audit_record(
        actor=actor,
        action="coupon.redeem",
        obj=coupon,
        after={"code": coupon.code, "reference": coupon.redeemed_reference, "amount": str(amount)},
    )
    return coupon


@transaction.atomic
def coupon_unredeem(*, code: str, reference: str, actor: Any, at: datetime | None = None) -> Coupon | None:
    """Makes a coupon spent on `reference` usable again (its order was cancelled or refunded in full), unless
    it has expired meanwhile or MEMBER_COUPON_RESTORE_ON_REFUND is off. One conditional UPDATE; a second call
    (or a coupon already back, or spent elsewhere) changes nothing and returns None. Audited when restored."""
    if not getattr(settings, "MEMBER_COUPON_RESTORE_ON_REFUND", True):
        return None
    rows = list(
        Coupon.objects.raw(
            sql_of(UNREDEEM_SQL),
            {"now": at or timezone.now(), "reference": reference[:40], "code": coupon_code_clean(code)},
        )
    )
    if not rows:
        return None
    coupon = rows[0]
    audit_record(
        actor=actor, action="coupon.unredeem", obj=coupon, after={"code": coupon.code, "reference": reference}
    )
    return coupon


@transaction.atomic
def coupon_void(*, code: str, actor: Any, reason: str) -> Coupon:
    """Cancels an unused coupon (given by mistake); it no longer counts towards the member's limit. Managers
    only; audited. Locks the coupon row.

    Raises PermissionDenied, CouponNotFound, CouponUsed, ValidationFailed."""
    manager_check(actor)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the coupon is cancelled.")})
    coupon = Coupon.objects.select_for_update().filter(code=coupon_code_clean(code)).first()
    if coupon is None:
        raise CouponNotFound(code=code)
    if coupon.status == CouponStatus.REDEEMED:
        raise CouponUsed(code=coupon.code)
    if coupon.status != CouponStatus.VOID:
        coupon.status = CouponStatus.VOID
        coupon.save(update_fields=["status"])
        audit_record(actor=actor, action="coupon.void", obj=coupon, reason=reason.strip()[:200])
    return coupon
