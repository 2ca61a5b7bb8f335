"""Coupons: templates, issuing (staff, claim, welcome, birthday, campaign), the quote, redeeming once as a
tender at the POS, getting it back on a full refund, and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import include, path
from django.utils import timezone

from catalog.models import Category, Variant
from inventory.models import StockLevel
from members.models import Coupon, CouponSource, CouponStatus, CouponTemplate, Member
from members.selectors_coupons import coupon_code_clean
from members.services.coupons import (
    CODE_ALPHABET,
    CODE_LENGTH,
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
    coupon_campaign_issue,
    coupon_claim,
    coupon_issue,
    coupon_quote,
    coupon_redeem,
    coupon_template_create,
    coupon_template_update,
    coupon_unredeem,
    coupon_void,
    coupons_birthday_issue,
    coupons_welcome_issue,
)
from omo.errors import PermissionDenied, ValidationFailed
from omo.models import AuditLog, Location, Role, User
from orders.coupons import coupon_hook_register
from orders.models import Order, OrderStatus, Payment, Refund, Tender
from orders.services import ReturnItem, order_cancel, order_place, order_return
from orders.tenders import TENDER_HOOKS
from tests.factories.catalog import CategoryFactory
from tests.factories.inventory import receive, sized_product
from tests.factories.omo import UserFactory
from tests.orders.conftest import cash, lines, pay

D = Decimal

# The API tests mount the coupon URLs themselves (the project's urls include them once the lead adds them).
urlpatterns = [
    path("api/v1/", include("members.api.urls_coupons")),
    path("", include("omo.urls")),
]


@pytest.fixture
def coupon_hook() -> Iterator[None]:
    before = TENDER_HOOKS.get(Tender.COUPON)
    coupon_hook_register()
    yield
    if before is None:
        TENDER_HOOKS.pop(Tender.COUPON, None)
    else:
        TENDER_HOOKS[Tender.COUPON] = before


@pytest.fixture
def shop(cwb: Location, mk: Location) -> dict[str, Location]:
    Location.objects.filter(pk__in=[cwb.pk, mk.pk]).update(is_pickup_point=True)
    cwb.refresh_from_db()
    return {"cwb": cwb, "mk": mk}


@pytest.fixture
def dress(shop: dict[str, Location]) -> list[Variant]:
    """DRESS-S/M/L at HK$199.00, 5 of each at CWB."""
    sizes = sized_product(("S", "M", "L"), prefix="DRESS", name_zh_hant="碎花連身裙", name_en="Floral dress")
    for variant in sizes:
        receive(variant, shop["cwb"], 5)
    return sizes


@pytest.fixture
def member(db: None) -> Member:
    return Member.objects.create(phone="+85291234567", name="陳小姐")


@pytest.fixture
def other(db: None) -> Member:
    return Member.objects.create(phone="+85298765432", name="李先生")


def template(**kw: Any) -> CouponTemplate:
    values: dict[str, Any] = {
        "code": "ten-off",
        "name_en": "HK$10 off",
        "name_zh_hant": "減$10",
        "kind": "amount",
        "value": D("10"),
    }
    return coupon_template_create(actor="test", **{**values, **kw})


def issue(tpl: CouponTemplate, member: Member | None, **kw: Any) -> Coupon:
    return coupon_issue(
        template_id=tpl.pk, member_id=member.pk if member else None, source="manual", actor="test", **kw
    )


def quote(
    coupon: Coupon, member: Member | None, subtotal: str, *, channel: str = "pos", lines=None
) -> Decimal:
    return coupon_quote(
        code=coupon.code,
        member_id=member.pk if member else None,
        channel=channel,
        lines=lines if lines is not None else [(None, D(subtotal))],
        subtotal=D(subtotal),
    )


# --- templates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "percent", "value": D("150")}, "value"),
        ({"value": D("-5")}, "value"),
        ({"value": D("0")}, "value"),
        ({"value": D("1.005")}, "value"),
        ({"scope": "category"}, "category_id"),
        ({"channels": ["pos", "fax"]}, "channels"),
        ({"min_spend": D("-1")}, "min_spend"),
        ({"valid_days": 0}, "valid_days"),
        ({"code": "has space"}, "code"),
        ({"valid_from": timezone.now(), "valid_until": timezone.now() - timedelta(days=1)}, "valid_until"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field(db, changes, field):
    with pytest.raises(ValidationFailed) as caught:
        template(**changes)
    assert field in caught.value.extra["fields"]
    assert not CouponTemplate.objects.exists()


def test_a_manager_creates_and_changes_a_template_audited_and_a_cashier_may_not(cwb_manager, cwb_cashier):
    made = coupon_template_create(
        actor=cwb_manager,
        code="Dress-20",
        name_en="20% off dresses",
        name_zh_hant="連身裙八折",
        kind="percent",
        value=D("20"),
        scope="category",
        category_id=7,
        min_spend=D("300"),
        channels=["pos", "web", "pos"],
        valid_days=30,
    )
    assert (made.code, made.category_id, made.channels, made.min_spend.amount) == (
        "dress-20",
        7,
        ["pos", "web"],
        300,
    )
    changed = coupon_template_update(template_id=made.pk, actor=cwb_manager, value=D("25"), claimable=True)
    assert (changed.value, changed.claimable) == (D("25"), True)
    log = AuditLog.objects.get(action="coupon_template.update")
    assert (log.before["value"], log.after["value"]) == ("20.00", "25.00")
    assert AuditLog.objects.filter(action="coupon_template.create", actor=cwb_manager).exists()
    with pytest.raises(PermissionDenied):
        coupon_template_update(template_id=made.pk, actor=cwb_cashier, value=D("90"))
    with pytest.raises(PermissionDenied):
        coupon_template_create(
            actor=cwb_cashier, code="mine", name_en="x", name_zh_hant="x", kind="amount", value=D("5")
        )
    with pytest.raises(ValidationFailed):  # a percent template may not go above 100 by an update either
        coupon_template_update(template_id=made.pk, actor=cwb_manager, value=D("101"))


def test_template_codes_are_unique(db):
    template()
    with pytest.raises(ValidationFailed) as caught:
        template(code="TEN-OFF")
    assert "code" in caught.value.extra["fields"]


# --- issuing ------------------------------------------------------------------------------------------------


def test_an_issued_coupon_has_an_unguessable_code_and_its_expiry_from_the_template(member):
    until = timezone.now() + timedelta(days=10)
    tpl = template(valid_days=30, valid_until=until, limit_per_member=0)
    first, second = issue(tpl, member), issue(tpl, member)
    assert len(first.code) == CODE_LENGTH and set(first.code) <= set(CODE_ALPHABET)
    assert first.code != second.code
    assert first.expires_at == until  # the earlier of the two
    assert first.status == CouponStatus.ISSUED and first.member == member
    short = template(code="short", valid_days=3)
    assert issue(short, member).expires_at.date() == (timezone.now() + timedelta(days=3)).date()


def test_the_same_issue_key_twice_gives_one_coupon(member):
    tpl = template(limit_per_member=5)
    first = issue(tpl, member, issue_key="goodwill-1")
    again = issue(tpl, member, issue_key="goodwill-1")
    assert again.pk == first.pk
    assert Coupon.objects.count() == 1


def test_the_limit_per_member_counts_coupons_not_void(member, other):
    tpl = template(limit_per_member=2)
    one, _two = issue(tpl, member), issue(tpl, member)
    with pytest.raises(CouponUnavailable) as caught:
        issue(tpl, member)
    assert caught.value.extra["limit"] == 2
    issue(tpl, other)  # the limit is per member
    coupon_void(code=one.code, actor="test", reason="given by mistake")
    issue(tpl, member)
    assert Coupon.objects.filter(member=member).exclude(status="void").count() == 2


def test_an_inactive_or_ended_template_issues_nothing(member):
    with pytest.raises(CouponUnavailable):
        issue(template(is_active=False), member)
    with pytest.raises(CouponUnavailable):
        issue(template(code="ended", valid_until=timezone.now() - timedelta(minutes=1)), member)
    assert not Coupon.objects.exists()


def test_a_cashier_cannot_hand_out_coupons(cwb_cashier, member):
    tpl = template()
    with pytest.raises(PermissionDenied):
        coupon_issue(template_id=tpl.pk, member_id=member.pk, source="manual", actor=cwb_cashier)


def test_a_customer_claims_a_claimable_offer_once(member):
    template(code="spring", claimable=True)
    coupon = coupon_claim(template_code="SPRING", member_id=member.pk)
    assert (coupon.source, coupon.member_id) == (CouponSource.CLAIM, member.pk)
    with pytest.raises(CouponUnavailable):
        coupon_claim(template_code="spring", member_id=member.pk)
    template(code="staff-only")
    with pytest.raises(CouponTemplateNotFound):
        coupon_claim(template_code="staff-only", member_id=member.pk)
    template(code="later", claimable=True, valid_from=timezone.now() + timedelta(days=2))
    with pytest.raises(CouponUnavailable):
        coupon_claim(template_code="later", member_id=member.pk)
    template(code="off", claimable=True, is_active=False)
    with pytest.raises(CouponUnavailable):
        coupon_claim(template_code="off", member_id=member.pk)
    assert Coupon.objects.count() == 1


def test_the_welcome_coupon_is_given_once_and_only_when_configured(member, settings):
    settings.MEMBER_WELCOME_COUPON = ""
    assert coupons_welcome_issue(member.pk) is None
    template(code="welcome-50", value=D("50"))
    settings.MEMBER_WELCOME_COUPON = "welcome-50"
    first = coupons_welcome_issue(member.pk)
    assert first is not None and first.source == CouponSource.WELCOME and first.issue_key == "welcome"
    assert coupons_welcome_issue(member.pk) == first
    settings.MEMBER_WELCOME_COUPON = "no-such-template"
    assert coupons_welcome_issue(member.pk) is None
    assert Coupon.objects.count() == 1


def test_birthday_coupons_go_once_a_year_to_active_members_of_the_month(db, settings):
    template(code="birthday", value=D("100"), valid_days=31, limit_per_member=1)
    settings.MEMBER_BIRTHDAY_COUPON = "birthday"
    march = [Member.objects.create(phone=f"+8529100000{i}", birth_month=3) for i in range(5)]
    Member.objects.create(phone="+85291000010", birth_month=4)
    Member.objects.create(phone="+85291000011")
    erased = Member.objects.create(birth_month=3, erased_at=timezone.now())
    Member.objects.create(phone="+85291000012", birth_month=3, merged_into=march[0])
    assert coupons_birthday_issue(today=date(2026, 3, 2), batch_size=2) == 5
    assert coupons_birthday_issue(today=date(2026, 3, 3), batch_size=2) == 0  # the daily run again
    coupons = Coupon.objects.filter(issue_key="birthday-2026")
    assert sorted(c.member_id for c in coupons) == sorted(m.pk for m in march)
    assert {c.source for c in coupons} == {CouponSource.BIRTHDAY}
    assert not Coupon.objects.filter(member=erased).exists()
    # Next year, again, whatever the template's limit.
    assert coupons_birthday_issue(today=date(2027, 3, 1)) == 5
    assert Coupon.objects.count() == 10


def test_no_birthday_template_issues_nothing(member, settings):
    settings.MEMBER_BIRTHDAY_COUPON = ""
    Member.objects.filter(pk=member.pk).update(birth_month=timezone.localdate().month)
    assert coupons_birthday_issue() == 0


def test_a_campaign_issues_once_per_member_skipping_the_gone_and_those_at_the_limit(
    member, other, cwb_manager
):
    tpl = template(code="autumn", limit_per_member=1)
    gone = Member.objects.create(phone="+85291110000", erased_at=timezone.now())
    full = Member.objects.create(phone="+85291110001")
    issue(tpl, full)
    ids = [member.pk, other.pk, member.pk, gone.pk, full.pk]
    assert (
        coupon_campaign_issue(template_id=tpl.pk, member_ids=ids, campaign_key="a1", actor=cwb_manager) == 2
    )
    assert (
        coupon_campaign_issue(template_id=tpl.pk, member_ids=ids, campaign_key="a1", actor=cwb_manager) == 0
    )
    assert set(Coupon.objects.filter(issue_key="campaign-a1").values_list("member_id", flat=True)) == {
        member.pk,
        other.pk,
    }
    assert AuditLog.objects.filter(action="coupon.campaign").count() == 2


# --- the quote ----------------------------------------------------------------------------------------------


def test_percent_off_the_order_and_amount_off_capped(member):
    pct = issue(template(code="p15", kind="percent", value=D("15")), member)
    assert quote(pct, member, "199.90") == D("29.99")  # 29.985 rounds half up
    amt = issue(template(code="a50", value=D("50")), member)
    assert quote(amt, member, "30.00") == D("30.00")  # never more than the goods
    assert quote(amt, member, "300.00") == D("50.00")


def test_a_category_coupon_discounts_only_that_category(member):
    cat = issue(template(code="c20", kind="percent", value=D("20"), scope="category", category_id=5), member)
    assert quote(cat, member, "300", lines=[(5, D("100")), (6, D("150")), (5, D("50"))]) == D("30.00")
    amt = issue(template(code="c100", value=D("100"), scope="category", category_id=5), member)
    assert quote(amt, member, "300", lines=[(5, D("60")), (6, D("240"))]) == D("60.00")
    with pytest.raises(CouponNothingToDiscount):
        quote(cat, member, "300", lines=[(6, D("300"))])


def test_the_minimum_spend_is_told_with_the_minimum(member):
    coupon = issue(template(min_spend=D("300")), member)
    with pytest.raises(CouponMinimumSpend) as caught:
        quote(coupon, member, "299.99")
    assert caught.value.http_status == 409
    assert caught.value.extra["minimum"] == "300.00"
    assert "300" in str(caught.value.message)
    assert quote(coupon, member, "300") == D("10.00")


def test_a_coupon_only_in_its_channels(member):
    coupon = issue(template(channels=["web"]), member)
    with pytest.raises(CouponNotValidHere) as caught:
        quote(coupon, member, "100", channel="pos")
    assert caught.value.extra["channels"] == ["web"]
    assert quote(coupon, member, "100", channel="web") == D("10.00")


def test_expired_not_yet_valid_unknown(member):
    coupon = issue(template(valid_days=1), member)
    with pytest.raises(CouponExpired):
        coupon_quote(
            code=coupon.code,
            member_id=member.pk,
            channel="pos",
            lines=[],
            subtotal=D(100),
            at=timezone.now() + timedelta(days=2),
        )
    later = issue(template(code="later", valid_from=timezone.now() + timedelta(days=1)), member)
    with pytest.raises(CouponNotYetValid):
        quote(later, member, "100")
    with pytest.raises(CouponNotFound) as caught:
        coupon_quote(code="NOPE234567", member_id=None, channel="pos", lines=[], subtotal=D(1))
    assert caught.value.http_status == 404


def test_a_members_coupon_is_only_theirs_and_an_unassigned_one_is_anyones(member, other):
    tpl = template(limit_per_member=0)
    mine = issue(tpl, member)
    with pytest.raises(CouponNotYours) as caught:
        quote(mine, other, "100")
    assert caught.value.http_status == 403
    with pytest.raises(CouponNotYours):
        quote(mine, None, "100")  # a walk-in sale
    flyer = issue(tpl, None)
    assert quote(flyer, other, "100") == quote(flyer, None, "100") == D("10.00")


def test_codes_are_read_as_typed(member):
    coupon = issue(template(), member)
    typed = f" {coupon.code[:5].lower()}-{coupon.code[5:]} "
    assert coupon_code_clean(typed) == coupon.code
    assert coupon_quote(code=typed, member_id=member.pk, channel="pos", lines=[], subtotal=D(50)) == D(
        "10.00"
    )


# --- redeeming ----------------------------------------------------------------------------------------------


def test_redeem_once_then_used_and_unredeem_gives_it_back(member):
    coupon = issue(template(), member)
    spent = coupon_redeem(
        code=coupon.code, reference="CWB-000001", member_id=member.pk, amount=D(10), actor="t"
    )
    assert (spent.status, spent.redeemed_reference) == (CouponStatus.REDEEMED, "CWB-000001")
    assert spent.redeemed_at is not None
    with pytest.raises(CouponUsed):
        coupon_redeem(code=coupon.code, reference="CWB-000002", member_id=member.pk, amount=D(10), actor="t")
    assert coupon_unredeem(code=coupon.code, reference="CWB-000009", actor="t") is None  # not spent there
    back = coupon_unredeem(code=coupon.code, reference="CWB-000001", actor="t")
    assert back is not None and back.status == CouponStatus.ISSUED and back.redeemed_reference == ""
    assert coupon_unredeem(code=coupon.code, reference="CWB-000001", actor="t") is None  # twice: nothing
    assert AuditLog.objects.filter(action__in=["coupon.redeem", "coupon.unredeem"]).count() == 2


def test_redeem_refuses_another_members_or_an_expired_coupon(member, other):
    coupon = issue(template(valid_days=1), member)
    with pytest.raises(CouponNotYours):
        coupon_redeem(code=coupon.code, reference="X-1", member_id=other.pk, amount=D(1), actor="t")
    with pytest.raises(CouponExpired):
        coupon_redeem(
            code=coupon.code,
            reference="X-1",
            member_id=member.pk,
            amount=D(1),
            actor="t",
            at=timezone.now() + timedelta(days=2),
        )
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ISSUED


def test_an_expired_coupon_is_not_given_back_and_the_policy_can_keep_it_spent(member, settings):
    coupon = issue(template(valid_days=1), member)
    coupon_redeem(code=coupon.code, reference="X-1", member_id=member.pk, amount=D(1), actor="t")
    later = timezone.now() + timedelta(days=2)
    assert coupon_unredeem(code=coupon.code, reference="X-1", actor="t", at=later) is None
    settings.MEMBER_COUPON_RESTORE_ON_REFUND = False
    assert coupon_unredeem(code=coupon.code, reference="X-1", actor="t") is None
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED


# --- as a tender at the POS ---------------------------------------------------------------------------------


def sale(cashier: User, branch: Location, *pairs: tuple[Variant, int], payments: list, **kw: Any) -> Order:
    return order_place(
        actor=cashier, channel="pos", location_id=branch.pk, lines=lines(*pairs), payments=payments, **kw
    )


def on_hand(variant: Variant, branch: Location) -> int:
    return StockLevel.objects.get(variant=variant, location=branch).on_hand


def test_a_pos_sale_paid_partly_with_a_coupon_redeems_it_on_the_order(
    coupon_hook, cwb_cashier, shop, dress, member
):
    coupon = issue(template(kind="percent", value=D("20"), min_spend=D("300")), member)
    off = quote(coupon, member, "398.00")
    assert off == D("79.60")
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 2),
        payments=[pay("coupon", str(off), coupon.code.lower()), cash("400")],
        member_id=member.pk,
    )
    assert order.status == OrderStatus.COMPLETED
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redeemed_reference) == (CouponStatus.REDEEMED, order.number)
    assert Payment.objects.get(order=order, tender="coupon").amount.amount == off

    # The same coupon again, on another sale: refused, and the sale writes nothing.
    orders, stock = Order.objects.count(), on_hand(dress[1], shop["cwb"])
    with pytest.raises(CouponUsed):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[1], 2),
            payments=[pay("coupon", str(off), coupon.code), cash("400")],
            member_id=member.pk,
        )
    assert (Order.objects.count(), on_hand(dress[1], shop["cwb"])) == (orders, stock)
    coupon.refresh_from_db()
    assert coupon.redeemed_reference == order.number


def test_more_than_the_coupon_gives_is_refused(coupon_hook, cwb_cashier, shop, dress, member):
    coupon = issue(template(value=D("50")), member)
    with pytest.raises(ValidationFailed) as caught:
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            payments=[pay("coupon", "60", coupon.code), cash("200")],
            member_id=member.pk,
        )
    assert caught.value.extra["quote"] == "50.00"
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ISSUED
    assert not Order.objects.exists()


def test_the_coupon_rules_apply_at_the_till(coupon_hook, cwb_cashier, shop, dress, member, other):
    web_only = issue(template(code="web", channels=["web"]), member)
    with pytest.raises(CouponNotValidHere):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            payments=[pay("coupon", "10", web_only.code), cash("200")],
            member_id=member.pk,
        )
    theirs = issue(template(code="theirs"), other)
    with pytest.raises(CouponNotYours):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            payments=[pay("coupon", "10", theirs.code), cash("200")],
            member_id=member.pk,
        )
    with pytest.raises(ValidationFailed):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("coupon", "10"), cash("200")])
    assert not Order.objects.exists()


def test_a_category_coupon_counts_sub_categories_at_the_till(coupon_hook, cwb_cashier, shop, dress, member):
    clothing = CategoryFactory(name_en="Clothing")
    dresses: Category = CategoryFactory(name_en="Dresses", parent=clothing)
    dress[0].product.category = dresses
    dress[0].product.save()
    coupon = issue(
        template(code="clothing", kind="percent", value=D("10"), scope="category", category_id=clothing.pk),
        member,
    )
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        payments=[pay("coupon", "19.90", coupon.code), cash("200")],
        member_id=member.pk,
    )
    coupon.refresh_from_db()
    assert coupon.redeemed_reference == order.number


def test_a_full_refund_gives_the_coupon_back(coupon_hook, cwb_cashier, cwb_manager, shop, dress, member):
    coupon = issue(template(value=D("50")), member)
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        payments=[pay("coupon", "50", coupon.code), cash("150")],
        member_id=member.pk,
    )
    line = order.lines.get()
    order_return(
        order_id=order.pk,
        actor=cwb_manager,
        location_id=shop["cwb"].pk,
        items=[ReturnItem(line_id=line.pk, qty=1)],
        reason="does not fit",
    )
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redeemed_reference, coupon.redeemed_at) == (CouponStatus.ISSUED, "", None)
    assert Refund.objects.filter(order=order, tender="coupon").get().amount.amount == D(50)


def test_a_part_refund_keeps_the_coupon_spent_until_all_it_paid_is_back(
    coupon_hook, cwb_cashier, cwb_manager, shop, dress, member
):
    coupon = issue(template(value=D("300")), member)
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        (dress[1], 1),
        payments=[pay("coupon", "300", coupon.code), cash("100")],
        member_id=member.pk,
    )
    first, second = order.lines.order_by("position")
    back = {
        "actor": cwb_manager,
        "location_id": shop["cwb"].pk,
        "reason": "does not fit",
        "order_id": order.pk,
    }
    order_return(items=[ReturnItem(line_id=first.pk, qty=1)], **back)
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED  # HK$199 of its HK$300 came back: a coupon is not split
    order_return(items=[ReturnItem(line_id=second.pk, qty=1)], **back)
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ISSUED


def test_a_cancelled_order_gives_its_coupons_back(coupon_hook, cwb_cashier, cwb_manager, shop, dress, member):
    tpl = template(value=D("20"), limit_per_member=0)
    one, two = issue(tpl, member), issue(tpl, member)
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        fulfilment="pickup",
        pickup_location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        payments=[pay("coupon", "20", one.code), pay("coupon", "20", two.code)],
        member_id=member.pk,
    )
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.REDEEMED}
    order_cancel(order_id=order.pk, actor=cwb_manager, reason="changed mind")
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.ISSUED}


# --- API ----------------------------------------------------------------------------------------------------

api_urls = pytest.mark.urls(__name__)


@pytest.fixture
def signed_in_customer(customer: User, member: Member) -> User:
    member.user = customer
    member.save(update_fields=["user"])
    return customer


@api_urls
def test_api_templates_managers_write_staff_read(api_as, cwb_manager, cwb_cashier):
    body = {"code": "api-10", "name_en": "10 off", "name_zh_hant": "減10", "kind": "amount", "value": "10"}
    made = api_as(cwb_manager).post("/api/v1/coupon-templates/", body, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["min_spend"] == "0.00"
    assert (
        api_as(cwb_cashier)
        .post("/api/v1/coupon-templates/", {**body, "code": "x"}, format="json")
        .status_code
        == 403
    )
    listed = api_as(cwb_cashier).get("/api/v1/coupon-templates/")
    assert [t["code"] for t in listed.json()["results"]] == ["api-10"]
    bad = api_as(cwb_manager).patch(
        f"/api/v1/coupon-templates/{made.json()['id']}/", {"kind": "percent", "value": "120"}, format="json"
    )
    assert bad.status_code == 400 and "value" in bad.json()["extra"]["fields"]
    ok = api_as(cwb_manager).patch(
        f"/api/v1/coupon-templates/{made.json()['id']}/", {"value": "12"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["value"] == "12.00"
    assert api_as(cwb_manager).patch("/api/v1/coupon-templates/999999/", {}, format="json").status_code == 404


@api_urls
def test_api_issue_list_and_check(api_as, cwb_manager, cwb_cashier, member, other):
    tpl = template(min_spend=D("100"))
    issued = api_as(cwb_manager).post("/api/v1/coupons/issue/", {"template": tpl.pk, "member": member.pk})
    assert issued.status_code == 201
    code = issued.json()["code"]
    assert api_as(cwb_cashier).post("/api/v1/coupons/issue/", {"template": tpl.pk}).status_code == 403
    listed = api_as(cwb_cashier).get(f"/api/v1/coupons/?member={member.pk}")
    assert [c["code"] for c in listed.json()["results"]] == [code]
    client = api_as(cwb_cashier)
    checked = client.get(f"/api/v1/coupons/check/?code={code}&member={member.pk}&subtotal=150")
    assert checked.status_code == 200
    assert checked.json()["discount"] == "10.00" and checked.json()["coupon"]["template"]["code"] == "ten-off"
    low = client.get(f"/api/v1/coupons/check/?code={code}&member={member.pk}&subtotal=50")
    assert (low.status_code, low.json()["code"], low.json()["extra"]["minimum"]) == (
        409,
        "coupon_minimum_spend",
        "100.00",
    )
    theirs = client.get(f"/api/v1/coupons/check/?code={code}&member={other.pk}&subtotal=150")
    assert (theirs.status_code, theirs.json()["code"]) == (403, "coupon_not_yours")
    unknown = client.get("/api/v1/coupons/check/?code=ZZZZZZZZZZ&subtotal=150")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "coupon_not_found")
    coupon_redeem(code=code, reference="CWB-1", member_id=member.pk, amount=D(10), actor="t")
    used = client.get(f"/api/v1/coupons/check/?code={code}&member={member.pk}&subtotal=150")
    assert (used.status_code, used.json()["code"]) == (409, "coupon_used")
    assert client.get("/api/v1/coupons/check/?subtotal=1").status_code == 400


@api_urls
def test_api_customer_claims_sees_and_shows_their_coupons(api_as, signed_in_customer, other, cwb_cashier):
    template(code="spring", claimable=True)
    client = api_as(signed_in_customer)
    assert [t["code"] for t in client.get("/api/v1/coupons/offers/").json()["results"]] == ["spring"]
    claimed = client.post("/api/v1/coupons/claim/", {"template": "spring"})
    assert claimed.status_code == 201
    code = claimed.json()["code"]
    again = client.post("/api/v1/coupons/claim/", {"template": "spring"})
    assert (again.status_code, again.json()["code"]) == (409, "coupon_unavailable")
    assert client.post("/api/v1/coupons/claim/", {"template": "nope"}).status_code == 404
    mine = client.get("/api/v1/my-coupons/")
    assert [c["code"] for c in mine.json()["results"]] == [code]
    qr = client.get(f"/api/v1/coupons/{code}/qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    theirs = issue(template(code="theirs"), other)
    assert client.get(f"/api/v1/coupons/{theirs.code}/qr.svg").status_code == 404
    # Staff are not customers here, and customers are not staff there.
    assert api_as(cwb_cashier).get("/api/v1/my-coupons/").status_code == 403
    assert api_as(cwb_cashier).post("/api/v1/coupons/claim/", {"template": "spring"}).status_code == 403
    assert client.get("/api/v1/coupon-templates/").status_code == 403
    assert client.get("/api/v1/coupons/check/?code=X&subtotal=1").status_code == 403


@api_urls
def test_api_customer_without_a_member_is_refused(api_as, api, db):
    stranger = UserFactory(username="stranger", role=Role.CUSTOMER)
    assert api_as(stranger).get("/api/v1/my-coupons/").status_code == 403
    assert api.get("/api/v1/my-coupons/").status_code in (401, 403)
