"""Hong Kong PDPO: a member's data-access export and erasure, each audited.

Export: everything held about the member, as one JSON-able dict (`member_export`) or as a zip of CSV files
(`member_export_csv`): one CSV per section (`profile.csv` as field/value rows, `consent_history.csv`,
`points_entries.csv`, `spend_entries.csv`, `coupons.csv`, `attributions.csv`, `merged_members.csv`, and the
sections other apps add through EXPORT_HOOKS, e.g. `orders.csv`); a list nested in a row (an order's lines and
payments) becomes its own file, `orders_lines.csv`, whose `parent` column names the row it belongs to.
CSV files are UTF-8 with a byte-order mark, so Excel shows Chinese names.

Erasure: the member row stays (its points, spend and orders keep the sales figures right) but holds no
personal data any more: no name, number, e-mail, birthday or tags, consent off, QR nonce rotated, the web-shop
account deactivated and renamed, sign-in codes deleted, the personal values in the member's audit-log
records replaced by "[erased]". ERASE_HOOKS blank the personal fields of the member's orders (totals stay).
Members merged into the erased one are erased with it: they are the same person.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.exceptions import MemberNotFound
from members.hooks import ERASE_HOOKS, EXPORT_HOOKS
from members.models import CONSENT_CHANNELS, ConsentRecord, Member, OtpCode, PointsStatus
from members.selectors import member_get
from members.services.members import members_lock, nonce_new, text
from omo.errors import ValidationFailed
from omo.models import AuditLog, User
from omo.services.audit import audit_record

ERASED = "[erased]"
# Keys of audit-log before/after values that hold a member's personal data.
PERSONAL_KEYS = frozenset({"name", "phone", "email", "birthday", "tags", "duplicate_phone"})


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def money(value: Any) -> str:
    amount = getattr(value, "amount", value)
    return str(amount if isinstance(amount, Decimal) else Decimal(str(amount)))


def profile_of(member: Member) -> dict[str, Any]:
    return {
        "id": member.pk,
        "phone": str(member.phone) if member.phone else None,
        "name": member.name,
        "email": member.email,
        "birthday": {"month": member.birth_month, "day": member.birth_day, "year": member.birth_year}
        if member.birth_month
        else None,
        "language": member.language,
        "tags": list(member.tags),
        "tier": member.tier,
        "tier_since": iso(member.tier_since),
        "consent": {channel: member.consent(channel) for channel in CONSENT_CHANNELS},
        "attributed_staff": member.attributed_staff.get_username() if member.attributed_staff else None,
        "attributed_at": iso(member.attributed_at),
        "joined_at": member.joined_at_location.code if member.joined_at_location else None,
        "web_account": member.user_id is not None,
        "created_at": iso(member.created_at),
        "erased_at": iso(member.erased_at),
    }


def export_build(member: Member) -> dict[str, Any]:
    """Everything held about the member (no audit: the public functions audit)."""
    points = member.points_entries.order_by("created_at", "pk")
    balance = points.filter(status=PointsStatus.AVAILABLE).aggregate(total=Sum("points"))["total"] or 0
    data: dict[str, Any] = {
        "generated_at": iso(timezone.now()),
        "member": profile_of(member),
        "merged_members": [
            {"id": m.pk, "name": m.name, "email": m.email, "created_at": iso(m.created_at)}
            for m in Member.objects.filter(merged_into=member).order_by("pk")
        ],
        "consent_history": [
            {
                "channel": r.channel,
                "granted": r.granted,
                "source": r.source,
                "by": r.actor_label,
                "at": iso(r.created_at),
            }
            for r in member.consent_records.order_by("created_at", "pk")
        ],
        "points_balance": int(balance),
        "points_entries": [
            {
                "kind": p.kind,
                "status": p.status,
                "points": p.points,
                "reference": p.reference,
                "order": p.order_reference,
                "available_at": iso(p.available_at),
                "expires_at": iso(p.expires_at),
                "note": p.note,
                "at": iso(p.created_at),
            }
            for p in points
        ],
        "spend_entries": [
            {
                "reference": s.reference,
                "order": s.order_reference,
                "channel": s.channel,
                "amount": money(s.amount),
                "currency": str(s.amount.currency),
                "at": iso(s.at),
            }
            for s in member.spend_entries.order_by("at", "pk")
        ],
        "coupons": [
            {
                "code": c.code,
                "template": c.template.code,
                "name": c.template.name_en,
                "source": c.source,
                "status": c.status,
                "issued_at": iso(c.issued_at),
                "expires_at": iso(c.expires_at),
                "redeemed_at": iso(c.redeemed_at),
                "redeemed_reference": c.redeemed_reference,
            }
            for c in member.coupons.select_related("template").order_by("issued_at", "pk")
        ],
        "attributions": [
            {
                "staff": a.staff.get_username(),
                "reason": a.reason,
                "by": a.actor_label,
                "at": iso(a.created_at),
            }
            for a in member.attributions.select_related("staff").order_by("created_at", "pk")
        ],
    }
    for hook in EXPORT_HOOKS:
        for section, rows in hook(member_id=member.pk).items():
            data.setdefault(section, [])
            data[section].extend(rows)
    return data


def export_member(member_id: int) -> Member:
    member = (
        Member.objects.select_related("attributed_staff", "joined_at_location").filter(pk=member_id).first()
    )
    if member is None:
        raise MemberNotFound(member_id=member_id)
    if member.merged_into_id is not None:  # a merged duplicate's data now lives on the survivor
        member = export_member(member_get(member.pk).pk)
    if member.erased_at is not None:
        raise MemberNotFound(member_id=member_id)
    return member


@transaction.atomic
def member_export(*, member_id: int, actor: Any) -> dict[str, Any]:
    """Everything held about a member (data-access request), JSON-able: profile, consent history, points,
    spend, coupons, attributions, members merged into it, and the sections of EXPORT_HOOKS (orders with their
    lines, payments and returns). A merged duplicate's id exports the member it was merged into.
    Audited ("member.export"). Raises MemberNotFound (also for an erased member)."""
    member = export_member(member_id)
    data = export_build(member)
    audit_record(
        actor=actor, action="member.export", obj=member, after={"format": "json", "sections": sorted(data)}
    )
    return data


def flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = "; ".join(str(v) for v in value)
        else:
            out[name] = "" if value is None else value
    return out


def csv_tables(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The export as tables: one per section, nested lists of rows split out with a `parent` column."""
    tables: dict[str, list[dict[str, Any]]] = {"export": [], "profile": []}

    def add(section: str, rows: Iterable[dict[str, Any]], parent: Any = None) -> None:
        table = tables.setdefault(section, [])
        for index, row in enumerate(rows, start=1):
            ref = row.get("number") or row.get("reference") or row.get("code") or row.get("id") or index
            scalars = {
                k: v for k, v in row.items() if not (isinstance(v, list) and v and isinstance(v[0], dict))
            }
            table.append({**({"parent": parent} if parent is not None else {}), **flat(scalars)})
            for key, value in row.items():
                if key not in scalars:
                    add(f"{section}_{key}", value, parent=ref)

    for section, value in data.items():
        if section == "member":
            tables["profile"] = [{"field": k, "value": v} for k, v in flat(value).items()]
        elif isinstance(value, list):
            add(section, value)
        else:
            tables["export"].append({"field": section, "value": value})
    return tables


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["empty"], restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


@transaction.atomic
def member_export_csv(*, member_id: int, actor: Any) -> bytes:
    """The data-access export as a zip of CSV files (see the module's docstring for the layout).
    Audited ("member.export", format csv). Raises MemberNotFound."""
    member = export_member(member_id)
    tables = csv_tables(export_build(member))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in tables.items():
            archive.writestr(f"{name}.csv", csv_bytes(rows))
    audit_record(
        actor=actor, action="member.export", obj=member, after={"format": "csv", "sections": sorted(tables)}
    )
    return buffer.getvalue()


def redact(value: Any) -> tuple[Any, bool]:
    """The value with personal data under PERSONAL_KEYS replaced by ERASED (at any depth)."""
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in PERSONAL_KEYS and item not in (None, "", []):
                out[key], changed = ERASED, True
            else:
                out[key], item_changed = redact(item)
                changed = changed or item_changed
        return out, changed
    if isinstance(value, list):
        items = [redact(item) for item in value]
        return [item for item, _c in items], any(c for _i, c in items)
    return value, False


def audit_redact(member_ids: list[int]) -> int:
    rows = AuditLog.objects.filter(object_type=Member._meta.label, object_id__in=[str(i) for i in member_ids])
    count = 0
    for row in rows:
        before, before_changed = redact(row.before)
        after, after_changed = redact(row.after)
        if before_changed or after_changed:
            row.before, row.after = before, after
            row.save(update_fields=["before", "after"])
            count += 1
    return count


def account_erase(user_id: int | None, member_id: int) -> str | None:
    """Deactivates the member's web-shop account and clears what it holds about the person; returns its
    old user name (so consent records it signed can be relabelled)."""
    if user_id is None:
        return None
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        return None
    old_username = user.get_username()
    user.username = f"erased-{member_id}-{user.pk}"
    user.first_name = user.last_name = user.email = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["username", "first_name", "last_name", "email", "is_active", "password"])
    return old_username


@transaction.atomic
def member_erase(*, member_id: int, actor: Any, reason: str) -> Member:
    """Erases a member's personal data on request (PDPO), keeping points, spend and order totals.

    The member given by a merged duplicate's id is the survivor: the same person, erased as a whole with every
    member merged into it. Runs ERASE_HOOKS (orders blank their customer and delivery fields). Erasing an
    erased member again changes nothing. Locks the member rows (primary-key order).
    Raises ValidationFailed (no reason), MemberNotFound.
    """
    reason = " ".join(text(reason).split())
    if not reason:
        raise ValidationFailed(fields={"reason": _("Say who asked for the erasure, and how.")})
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise MemberNotFound(member_id=member_id)
    for _hop in range(5):
        if member.merged_into_id is None:
            break
        member = Member.objects.get(pk=member.merged_into_id)
    if member.erased_at is not None:
        return member
    duplicate_ids = list(Member.objects.filter(merged_into=member).values_list("pk", flat=True))
    ids = [member.pk, *duplicate_ids]
    locked = members_lock(*ids)
    now = timezone.now()
    phones = [str(m.phone) for m in locked.values() if m.phone]
    labels = set(phones)
    for row in locked.values():
        username = account_erase(row.user_id, row.pk)
        if username:
            labels.add(username)
        row.name = row.email = ""
        row.phone = None
        row.birth_month = row.birth_day = row.birth_year = None
        row.tags = []
        for channel in CONSENT_CHANNELS:
            setattr(row, f"consent_{channel}", False)
        row.qr_nonce = nonce_new()
        row.erased_at = now
        row.save()
    # Consent records are kept (when and where consent was given or withdrawn), but not who the person was.
    relabelled = ConsentRecord.objects.filter(member_id__in=ids, actor_label__in=labels).update(
        actor_label=ERASED
    )
    codes = OtpCode.objects.filter(phone__in=phones).delete()[0] if phones else 0
    for member_pk in ids:
        for hook in ERASE_HOOKS:
            hook(member_id=member_pk, actor=actor)
    redacted = audit_redact(ids)
    erased = locked[member.pk]
    audit_record(
        actor=actor,
        action="member.erase",
        obj=erased,
        after={
            "erased_at": iso(now),
            "members": ids,
            "consent_records_relabelled": relabelled,
            "sign_in_codes_deleted": codes,
            "audit_records_redacted": redacted,
        },
        reason=reason[:255],
    )
    return erased
