"""The one placing service: the POS, the web shop, chat and phone orders all come through `order_place`."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import ChannelPrice, ProductStatus, SalesChannel, Variant
from inventory.models import ReservationSource
from inventory.services import StockLine, stock_reserve, stock_sell
from members.models import Member
from members.selectors import member_get, phone_normalise
from omo.errors import ValidationFailed
from omo.models import Location, User
from omo.scoping import access_branch
from orders.exceptions import ManagerApprovalRequired
from orders.loyalty import attributed_staff_id, loyalty_order_paid, member_prices
from orders.models import (
    HK_DISTRICTS,
    Channel,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PickupPoint,
    Tender,
)
from orders.pricing import ZERO, Discount, PricedLine, cents, line_price
from orders.providers import provider_for
from orders.services.common import after_commit, is_manager, order_number_next, stock_changed
from orders.status import walk
from orders.tenders import (
    TENDER_HOOKS,
    PaymentInput,
    Settled,
    card_number_refuse,
    payments_settle,
    tender_hooks_check,
)


@dataclass(frozen=True)
class LineInput:
    qty: int
    variant_id: int | None = None
    code: str = ""  # a SKU or barcode, when the client has no id
    unit_price: Decimal | None = None  # a price override (staff only)
    discount: Discount = field(default_factory=Discount)


@dataclass(frozen=True)
class ShipTo:
    name: str
    phone: str
    address: str
    district: str


@dataclass
class Plan:
    """Everything order_place has checked and priced, before it writes."""

    location: Location
    fulfil_from: Location
    variants: dict[int, Variant]
    priced: list[tuple[LineInput, Variant, PricedLine, Decimal]]
    subtotal: Decimal
    discount: Decimal
    shipping_fee: Decimal
    member: Member | None
    settled: Settled


def catalog_channel(channel: str) -> str:
    """The catalogue's price list for an order channel: the POS's, or the web's for every remote order."""
    return SalesChannel.POS if channel == Channel.POS else SalesChannel.WEB


def staff_actor(actor: Any) -> bool:
    return isinstance(actor, User) and actor.is_staff_member


def variants_load(lines: Sequence[LineInput], *, channel: str) -> tuple[list[Variant], dict[int, Decimal]]:
    """Each line's SKU (by id, or by SKU or barcode) with its product, and each SKU's list price in the
    channel, in a constant number of queries for any number of lines. Raises ValidationFailed naming every
    unknown one."""
    from catalog.selectors import variants_by_code

    codes = [line.code for line in lines if line.variant_id is None]
    by_code = variants_by_code(codes) if codes else {}
    missing = sorted({code for code in codes if code.strip() not in by_code})
    if missing:
        raise ValidationFailed(_("Unknown SKU or barcode."), codes=missing)
    ids = {line.variant_id for line in lines if line.variant_id is not None}
    ids |= {variant.pk for variant in by_code.values()}
    # The channel's price override comes along in the same query (`channel_price`, None when there is none).
    override = ChannelPrice.objects.filter(variant=OuterRef("pk"), channel=catalog_channel(channel))
    queryset = (
        Variant.objects.select_related("product")
        .annotate(channel_price=Subquery(override.values("price")[:1]))
        .filter(pk__in=ids)
    )
    variants: dict[int, Variant] = {}
    prices: dict[int, Decimal] = {}
    for variant in queryset:
        variants[variant.pk] = variant
        override_price = getattr(variant, "channel_price", None)
        prices[variant.pk] = variant.price.amount if override_price is None else override_price
    unknown = sorted(ids - variants.keys())
    if unknown:
        raise ValidationFailed(_("Unknown SKU."), variant_ids=unknown)
    ordered = [
        variants[line.variant_id if line.variant_id is not None else by_code[line.code.strip()].pk]
        for line in lines
    ]
    return ordered, prices


def lines_price(
    lines: Sequence[LineInput],
    variants: list[Variant],
    prices: dict[int, Decimal],
    *,
    channel: str,
    staff: bool,
) -> list[tuple[LineInput, Variant, PricedLine, Decimal]]:
    if not lines:
        raise ValidationFailed(fields={"lines": _("An order has at least one line.")})
    if len(lines) > 200:
        raise ValidationFailed(fields={"lines": _("An order has at most 200 lines.")})
    priced = []
    for index, (line, variant) in enumerate(zip(lines, variants, strict=True)):
        name = f"lines[{index}]"
        if isinstance(line.qty, bool) or not isinstance(line.qty, int) or not 0 < line.qty <= 9999:
            raise ValidationFailed(fields={f"{name}.qty": _("Quantities are whole numbers from 1 to 9999.")})
        if not variant.is_active or variant.product.status != ProductStatus.ACTIVE:
            raise ValidationFailed(fields={name: _("This SKU is not for sale.")}, sku=variant.sku)
        if channel == Channel.WEB and not variant.product.visible_web:
            raise ValidationFailed(fields={name: _("This SKU is not sold online.")}, sku=variant.sku)
        list_price = prices[variant.pk]
        if not staff and (line.unit_price is not None or line.discount.amount or line.discount.percent):
            raise ValidationFailed(fields={name: _("Only staff may change prices or give discounts.")})
        unit = list_price if line.unit_price is None else line.unit_price
        priced.append(
            (
                line,
                variant,
                line_price(qty=line.qty, unit_price=unit, discount=line.discount, field=name),
                list_price,
            )
        )
    return priced


def approval_check(
    priced: list[tuple[LineInput, Variant, PricedLine, Decimal]],
    discount: Decimal,
    *,
    actor: Any,
    approver: User | None,
) -> User | None:
    """Discounts and price overrides above the threshold (a share of the list price) need a manager."""
    listed = sum((list_price * p.qty for _l, _v, p, list_price in priced), ZERO)
    charged = sum((p.total for _l, _v, p, _lp in priced), ZERO) - discount
    limit = Decimal(str(getattr(settings, "DISCOUNT_MANAGER_PERCENT", 20)))
    if listed and (listed - charged) * 100 > listed * limit:
        if is_manager(actor):
            return actor if isinstance(actor, User) else None
        if approver is not None and is_manager(approver):
            return approver
        raise ManagerApprovalRequired(
            _("Discounts above %(limit)s%% of the price need a manager.") % {"limit": limit},
            discount=str(listed - charged),
        )
    return None


def ship_check(ship_to: ShipTo | None) -> None:
    if ship_to is None:
        raise ValidationFailed(fields={"ship_to": _("A delivery needs an address.")})
    errors = {}
    if not ship_to.name.strip():
        errors["ship_to.name"] = _("Who receives it?")
    if not phone_normalise(ship_to.phone):
        errors["ship_to.phone"] = _("Enter a phone number the courier can call.")
    if len(ship_to.address.strip()) < 5 or len(ship_to.address) > 255:
        errors["ship_to.address"] = _("Enter the full address: flat, floor, building and street.")
    if ship_to.district not in HK_DISTRICTS:
        errors["ship_to.district"] = _("Choose one of Hong Kong's 18 districts.")
    if errors:
        raise ValidationFailed(fields=errors)


def places_resolve(
    *,
    fulfilment: str,
    location_id: int,
    fulfil_from_id: int | None,
    pickup_location_id: int | None,
    pickup_point_code: str,
) -> tuple[Location, Location, Location | None, PickupPoint | None]:
    """The selling location, where the goods come from, and where they are collected: one query."""
    wanted = {location_id, fulfil_from_id or location_id, pickup_location_id or location_id}
    found = {loc.pk: loc for loc in Location.objects.filter(pk__in=wanted, is_active=True)}
    missing = sorted(wanted - found.keys())
    if missing:
        raise ValidationFailed(fields={"location": _("No such active location.")}, location_ids=missing)
    location = found[location_id]
    pickup_location = pickup_point = None
    if fulfilment == Fulfilment.PICKUP:
        pickup_location = found[pickup_location_id or location_id]
        if not pickup_location.is_pickup_point:
            raise ValidationFailed(
                fields={"pickup_location": _("Orders cannot be collected at this location.")}
            )
        fulfil_from = found[fulfil_from_id or pickup_location.pk]
    else:
        fulfil_from = found[fulfil_from_id or location_id]
    if fulfilment == Fulfilment.LOCKER:
        pickup_point = PickupPoint.objects.filter(code=pickup_point_code.strip(), is_active=True).first()
        if pickup_point is None:
            raise ValidationFailed(
                fields={"pickup_point": _("Choose a locker or pickup point from the list.")}
            )
    if fulfilment == Fulfilment.IN_STORE and fulfil_from.pk != location.pk:
        raise ValidationFailed(fields={"fulfil_from": _("Goods taken in store come from this branch.")})
    return location, fulfil_from, pickup_location, pickup_point


def hold_source(
    *, channel: str, fulfilment: str, location: Location, fulfil_from: Location, paid: bool
) -> str:
    if not paid:
        return ReservationSource.WEB_CHECKOUT if channel == Channel.WEB else ReservationSource.STAFF_HOLD
    if fulfilment == Fulfilment.PICKUP:
        return ReservationSource.CLICK_COLLECT
    if channel == Channel.POS and fulfil_from.pk != location.pk:
        return ReservationSource.ENDLESS_AISLE
    return ReservationSource.WEB_CHECKOUT


@transaction.atomic
def order_place(
    *,
    actor: Any,
    channel: str,
    location_id: int,
    lines: Sequence[LineInput],
    payments: Sequence[PaymentInput] = (),
    fulfilment: str = Fulfilment.IN_STORE,
    member_id: int | None = None,
    customer_name: str = "",
    customer_phone: str = "",
    customer_email: str = "",
    staff_id: int | None = None,
    discount: Discount | None = None,
    shipping_fee: Decimal | None = None,
    ship_to: ShipTo | None = None,
    fulfil_from_id: int | None = None,
    pickup_location_id: int | None = None,
    pickup_point_code: str = "",
    approver: User | None = None,
    note: str = "",
    language: str = "zh-hant",
    exchange_of: Any = None,
    credit: Decimal = ZERO,
) -> Order:
    """Validates, prices and records an order with its payments, and takes or holds its stock: one
    transaction, and the same number of queries for 1 line or 20.

    In store: the sale is paid in full and its goods leave the shelf now (`completed`). Ship, pickup and
    locker: the goods are held at `fulfil_from` until fulfilment; the order is `paid` once nothing is due,
    else `placed` (its hold then runs out like a checkout's). Locks the branch's order counter, then the stock
    rows (primary-key order), last, so they are held only until the commit.

    Raises ValidationFailed, BranchAccessDenied, MemberNotFound, ManagerApprovalRequired, PaymentMismatch,
    TenderUnavailable, InsufficientStock (409, naming every short SKU); then nothing is written.
    """
    staff = staff_actor(actor)
    if channel not in Channel.values:
        raise ValidationFailed(fields={"channel": _("Unknown channel.")})
    if fulfilment not in Fulfilment.values:
        raise ValidationFailed(fields={"fulfilment": _("Unknown fulfilment.")})
    if not staff and channel != Channel.WEB:
        raise ValidationFailed(fields={"channel": _("Customers order through the web shop.")})
    if fulfilment == Fulfilment.IN_STORE and channel != Channel.POS:
        raise ValidationFailed(fields={"fulfilment": _("Only a POS sale is taken in store.")})
    if staff:
        access_branch(actor, location_id)
    if fulfilment == Fulfilment.SHIP:
        ship_check(ship_to)
    location, fulfil_from, pickup_location, pickup_point = places_resolve(
        fulfilment=fulfilment,
        location_id=location_id,
        fulfil_from_id=fulfil_from_id,
        pickup_location_id=pickup_location_id,
        pickup_point_code=pickup_point_code,
    )
    member = member_get(member_id) if member_id is not None else None
    card_number_refuse(note, field="note")
    if customer_phone.strip() and phone_normalise(customer_phone) is None:
        raise ValidationFailed(fields={"customer_phone": _("Enter a phone number, e.g. 9123 4567.")})
    line_variants, prices = variants_load(lines, channel=channel)
    priced = lines_price(lines, line_variants, prices, channel=channel, staff=staff)
    own_prices, priced = priced, member_prices(priced, member)  # the tier's price needs no manager
    subtotal = sum((p.total for _l, _v, p, _lp in priced), ZERO)
    order_discount = (discount or Discount()).off(subtotal, field="discount")
    if order_discount and not staff:
        raise ValidationFailed(fields={"discount": _("Only staff may give discounts.")})
    fee = shipping_fee if shipping_fee is not None else ZERO
    if fee < 0 or fee != cents(fee) or (fee and fulfilment != Fulfilment.SHIP):
        raise ValidationFailed(
            fields={"shipping_fee": _("A shipping fee is for deliveries, positive, to the cent.")}
        )
    approved_by = (
        approval_check(own_prices, order_discount, actor=actor, approver=approver) if staff else None
    )
    due = subtotal - order_discount + fee
    if not staff and payments:
        raise ValidationFailed(fields={"payments": _("Pay after placing the order.")})
    # Exchange credit (the value of goods returned for this order) is spent first; never given out in cash.
    credit = min(credit, due)
    settled = payments_settle(payments, due=due - credit, full=fulfilment == Fulfilment.IN_STORE)
    if credit:
        settled.payments.insert(
            0,
            {"tender": Tender.EXCHANGE, "amount": credit, "tendered": ZERO, "change": ZERO, "reference": ""},
        )
        settled.paid += credit
    tender_hooks_check(settled.payments)

    total = due + settled.rounding
    paid_in_full = settled.paid >= total
    now = timezone.now()
    order = Order(
        number=order_number_next(location),
        channel=channel,
        fulfilment=fulfilment,
        status=OrderStatus.PLACED,
        location=location,
        fulfil_from=fulfil_from,
        pickup_location=pickup_location,
        pickup_point=pickup_point,
        member=member,
        customer_name=(customer_name or (member.name if member else "")).strip()[:100],
        customer_phone=phone_normalise(customer_phone)
        or (str(member.phone) if member and member.phone else ""),
        customer_email=customer_email.strip()[:254],
        cashier=actor if staff else None,
        staff_id=staff_id
        if staff_id is not None
        else (
            actor.pk
            if staff and channel == Channel.POS
            else attributed_staff_id(member, channel=channel, at=now)
        ),
        language=language,
        subtotal=subtotal,
        discount=order_discount,
        discount_reason=(discount.reason.strip()[:200] if discount and order_discount else ""),
        shipping_fee=fee,
        rounding=settled.rounding,
        total=total,
        paid=settled.paid,
        refunded=ZERO,
        placed_at=now,
        note=note.strip()[:500],
        exchange_of=exchange_of,
    )
    if ship_to is not None and fulfilment == Fulfilment.SHIP:
        order.ship_name, order.ship_phone = ship_to.name.strip()[:100], phone_normalise(ship_to.phone) or ""
        order.ship_address, order.ship_district = ship_to.address.strip()[:255], ship_to.district
    if fulfilment == Fulfilment.PICKUP:
        order.pickup_code = f"{secrets.randbelow(10**6):06d}"
    if paid_in_full:
        walk(order, OrderStatus.PAID)
        if fulfilment == Fulfilment.IN_STORE:
            walk(order, OrderStatus.FULFILLED, OrderStatus.COMPLETED)
    order.save(force_insert=True)

    stock_lines = [StockLine(variant, fulfil_from.pk, line.qty) for line, variant, _p, _lp in priced]
    reservation_ids: dict[int, int] = {}
    if fulfilment != Fulfilment.IN_STORE:
        holds = stock_reserve(
            lines=stock_lines,
            source=hold_source(
                channel=channel,
                fulfilment=fulfilment,
                location=location,
                fulfil_from=fulfil_from,
                paid=paid_in_full,
            ),
            actor=actor if staff else "web",
            member_id=member.pk if member else None,
            customer_name=order.customer_name or order.ship_name,
            customer_phone=order.customer_phone or order.ship_phone,
            reference=order.number,
            lasting=paid_in_full,
        )
        reservation_ids = {hold.variant_id: hold.pk for hold in holds}
    saved_lines = lines_save(order, priced, reservation_ids)
    saved_payments = payments_save(order, settled, actor=actor if staff else None, now=now)
    prefetched_set(order, lines=saved_lines, payments=saved_payments)
    tenders_redeem(order, settled, actor=actor)
    stock_event = None
    if fulfilment == Fulfilment.IN_STORE:
        # Last: the stock rows stay locked only from here to the commit.
        stock_sell(lines=stock_lines, actor=actor, reference=order.number, reason="sale")
        stock_event = stock_changed(
            [(v.sku, fulfil_from.pk, -line.qty) for line, v, _p, _lp in priced],
            kind="sale",
            reference=order.number,
        )
    topics = ["order.placed"] + (["order.paid"] if paid_in_full else [])
    after_commit(
        order,
        topics,
        extra=[stock_event] if stock_event else None,
        receipt=paid_in_full,
        extra_items=loyalty_order_paid(order) if paid_in_full else None,
    )
    order.approved_by = approved_by  # type: ignore[attr-defined]
    return order


def lines_save(
    order: Order,
    priced: list[tuple[LineInput, Variant, PricedLine, Decimal]],
    reservation_ids: dict[int, int],
) -> list[OrderLine]:
    rows = [
        OrderLine(
            order=order,
            position=position,
            variant=variant,
            sku=variant.sku,
            name_en=variant.product.name_en,
            name_zh_hant=variant.product.name_zh_hant,
            options=variant.option_values,
            category_id=variant.product.category_id,
            qty=p.qty,
            unit_price=p.unit_price,
            list_price=list_price,
            discount=p.discount,
            discount_reason=line.discount.reason.strip()[:200] if p.discount else "",
            total=p.total,
            reservation_id=reservation_ids.get(variant.pk),
        )
        for position, (line, variant, p, list_price) in enumerate(priced, start=1)
    ]
    return OrderLine.objects.bulk_create(rows)


def payments_save(order: Order, settled: Settled, *, actor: Any, now: Any) -> list[Payment]:
    rows = []
    for row in settled.payments:
        captured = provider_for(row["tender"]).capture(
            tender=row["tender"], amount=row["amount"], reference=row["reference"], order_number=order.number
        )
        rows.append(
            Payment(
                order=order,
                tender=row["tender"],
                amount=row["amount"],
                tendered=row["tendered"],
                change=row["change"],
                refunded=ZERO,
                provider=captured.provider,
                reference=captured.reference,
                created_by=actor,
                created_at=now,
            )
        )
    return Payment.objects.bulk_create(rows) if rows else []


def tenders_redeem(order: Order, settled: Settled, *, actor: Any) -> None:
    """Points and coupons spent on the order, through the members app's hook (in this transaction)."""
    for row in settled.payments:
        hook = TENDER_HOOKS.get(row["tender"])
        if hook is not None:
            hook.redeem(order=order, amount=row["amount"], reference=row["reference"], actor=actor)


def prefetched_set(order: Order, **related: list[Any]) -> None:
    """Hands the rows just written to the order as if prefetched: the response reads them without queries."""
    cache = {}
    for name, rows in related.items():
        queryset = getattr(order, name).all()
        queryset._result_cache = rows
        queryset._prefetch_done = True
        cache[name] = queryset
    order._prefetched_objects_cache = cache  # type: ignore[attr-defined]
