"""Demo members: one in every tier, with a year of purchases in store and online, points, staff attribution,
consent given at the counter or on the web, and coupons. Made through the members services; idempotent (each
member by phone, each past purchase by its reference, each coupon by its issue key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from members.models import CouponTemplate, Member
from members.services.coupons import coupon_issue, coupon_template_create
from members.services.members import member_create
from members.services.points import points_mature, purchase_record
from omo.demo import DemoPlaces


@dataclass(frozen=True)
class DemoMember:
    phone: str
    name: str
    email: str
    birthday: tuple[int, int, int | None] | None
    consents: dict[str, bool]
    staff: str  # username credited with the member's orders
    branch: str
    # (days ago, channel, branch code, HK$): a year of net spend that puts the member in their tier
    history: tuple[tuple[int, str, str, str], ...]
    tags: tuple[str, ...] = ()


MEMBERS = (
    DemoMember(
        "+85291234567",
        "陳美玲",
        "mei.chan@example.com",
        (timezone.localdate().month, 18, 1990),
        {"sms": True, "email": True},
        "cwb-cashier",
        "CWB",
        (
            (330, "pos", "CWB", "6800"),
            (200, "web", "KC", "5200"),
            (120, "social", "MK", "4300"),
            (45, "pos", "TST", "3900"),
            (20, "web", "KC", "2100"),
        ),
        ("VIP", "連身裙"),
    ),
    DemoMember(
        "+85262345678",
        "Wong Ka Yan",
        "",
        (3, 8, None),
        {"whatsapp": True},
        "mk-cashier",
        "MK",
        ((250, "pos", "MK", "2600"), (90, "web", "KC", "1800"), (30, "pos", "MK", "1100")),
        ("IG",),
    ),
    DemoMember(
        "+85253456789",
        "李志明",
        "",
        None,
        {},
        "tst-cashier",
        "TST",
        ((60, "pos", "TST", "480"), (15, "phone", "KC", "320")),
    ),
    DemoMember(
        "+85298765432",
        "何太",
        "ho.family@example.com",
        (7, 2, None),
        {"email": True},
        "cwb-cashier",
        "CWB",
        (),
    ),
)

TEMPLATES = (
    ("WELCOME50", "Welcome HK$50 off", "新會員 HK$50 優惠", "amount", "50", "300", False),
    ("BDAY10", "Birthday 10% off", "生日月 9 折", "percent", "10", "0", False),
    ("VIP100", "VIP HK$100 off", "VIP HK$100 優惠", "amount", "100", "1000", True),
)


def templates_seed(*, actor: object) -> dict[str, CouponTemplate]:
    # Codes are kept as the service cleans them (its case), so they are matched whatever the case.
    found = {t.code.upper(): t for t in CouponTemplate.objects.all()}
    for code, name_en, name_zh, kind, value, min_spend, claimable in TEMPLATES:
        if code not in found:
            found[code] = coupon_template_create(
                actor=actor,
                code=code,
                name_en=name_en,
                name_zh_hant=name_zh,
                kind=kind,
                value=Decimal(value),
                min_spend=Decimal(min_spend),
                valid_days=60,
                claimable=claimable,
                limit_per_member=0,
            )
    return found


def members_seed(*, places: DemoPlaces) -> dict[str, Member]:
    """The demo members with their history; returns them by phone."""
    owner = places.staff["owner"]
    templates = templates_seed(actor=owner)
    now = timezone.now()
    members: dict[str, Member] = {}
    for demo in MEMBERS:
        member = Member.objects.filter(phone=demo.phone).first()
        if member is None:
            member = member_create(
                phone=demo.phone,
                name=demo.name,
                email=demo.email,
                birthday=demo.birthday,
                tags=demo.tags,
                consents=demo.consents,
                source=f"pos:{demo.branch}",
                actor=places.staff[demo.staff],
                attributed_staff_id=places.staff[demo.staff].pk,
                location_id=places.locations[demo.branch].pk,
            )
        for index, (days_ago, channel, branch, amount) in enumerate(demo.history, start=1):
            purchase_record(
                member_id=member.pk,
                reference=f"HIST-{demo.phone[-4:]}-{index}",
                lines=[(None, Decimal(amount))],
                channel=channel,
                at=now - timedelta(days=days_ago),
                location_id=places.locations[branch].pk,
            )
        coupon_issue(
            template_id=templates["WELCOME50"].pk,
            member_id=member.pk,
            source="welcome",
            issue_key="welcome",
            actor=owner,
        )
        if demo.birthday and demo.birthday[0] == timezone.localdate().month:
            coupon_issue(
                template_id=templates["BDAY10"].pk,
                member_id=member.pk,
                source="birthday",
                issue_key=f"birthday-{timezone.localdate().year}",
                actor=owner,
            )
        if "VIP" in demo.tags:
            coupon_issue(
                template_id=templates["VIP100"].pk,
                member_id=member.pk,
                source="campaign",
                issue_key="campaign-vip-demo",
                actor=owner,
            )
        members[demo.phone] = member
    points_mature(now=now)  # the purchases are past their return window: their points are spendable
    return {phone: Member.objects.get(pk=member.pk) for phone, member in members.items()}
