"""Demo orders for a Hong Kong shop, made through the real services so stock, money and events add up.

Each story once (found again by the marker in its note): a split-tender sale at Causeway Bay (one item
returned in Mong Kok), an Instagram order waiting for pickup in Mong Kok, an endless-aisle delivery from the
Kwai Chung warehouse, and a phone order sent to an SF Locker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from catalog.models import Variant
from members.models import Member
from members.services.tiers import tier_benefits
from omo.demo import DemoPlaces
from orders.demo_members import members_seed
from orders.models import Order, PickupPoint
from orders.pricing import Discount, cents
from orders.services import (
    LineInput,
    ReturnItem,
    ShipTo,
    order_place,
    order_ready,
    order_return,
    order_ship,
)
from orders.services.pickup_points import pickup_points_import
from orders.tenders import PaymentInput

SKUS = ("DRS-001-M-NV", "DRS-001-M-BL", "SUN-SPF50-50", "KNT-002-M-CH", "SER-HYD-30")
PICKUP_POINTS_CSV = Path(__file__).resolve().parent / "fixtures" / "pickup_points_sample.csv"


@dataclass(frozen=True)
class DemoOrders:
    members: int
    orders: int
    pickup_points: int


def line(variants: dict[str, Variant], sku: str, qty: int = 1, **extra: object) -> LineInput:
    return LineInput(variant_id=variants[sku].pk, qty=qty, **extra)  # type: ignore[arg-type]


def story_done(marker: str) -> bool:
    return Order.objects.filter(note__startswith=marker).exists()


def orders_seed(*, places: DemoPlaces, variants: dict[str, Variant], members: dict[str, Member]) -> None:
    loc, staff = places.locations, places.staff
    chan = members["+85291234567"]
    if not story_done("DEMO-1"):
        sale = order_place(
            actor=staff["cwb-cashier"],
            channel="pos",
            location_id=loc["CWB"].pk,
            member_id=chan.pk,
            lines=[
                line(variants, "DRS-001-M-NV"),
                line(
                    variants,
                    "SUN-SPF50-50",
                    2,
                    discount=Discount(percent=Decimal(10), reason="2 件9折 / 10% off two"),
                ),
            ],
            payments=[
                PaymentInput(tender="fps", amount=Decimal("300.00"), reference="FPS20261129001"),
                PaymentInput(tender="cash", tendered=Decimal("500")),
            ],
            note="DEMO-1 split tender at the counter",
        )
        first = sale.lines.order_by("position").first()
        assert first is not None
        order_return(
            order_id=sale.pk,
            actor=staff["mk-cashier"],
            location_id=loc["MK"].pk,
            reason="尺碼不合 / wrong size",
            items=[ReturnItem(line_id=first.pk, qty=1)],
        )
    if not story_done("DEMO-2"):
        pickup = order_place(
            actor=staff["mk-cashier"],
            channel="social",
            location_id=loc["MK"].pk,
            fulfilment="pickup",
            pickup_location_id=loc["MK"].pk,
            customer_name="Wong Ka Yan",
            customer_phone="62345678",
            lines=[line(variants, "KNT-002-M-CH")],
            payments=[
                PaymentInput(
                    tender="payme", amount=variants["KNT-002-M-CH"].price.amount, reference="PAYME-IG-0042"
                )
            ],
            note="DEMO-2 Instagram DM, collect in Mong Kok",
        )
        order_ready(order_id=pickup.pk, actor=staff["mk-cashier"])
    if not story_done("DEMO-3"):
        price = variants["DRS-001-M-BL"].price.amount
        # Paid on the terminal at the counter: her Platinum member price, as the till works it out.
        _multiplier, percent = tier_benefits(chan.tier)
        order_place(
            actor=staff["cwb-cashier"],
            channel="pos",
            location_id=loc["CWB"].pk,
            fulfilment="ship",
            fulfil_from_id=loc["KC"].pk,
            member_id=chan.pk,
            ship_to=ShipTo(
                name="陳美玲",
                phone="91234567",
                address="香港銅鑼灣軒尼詩道500號 希慎廣場 12樓A室",
                district="wan_chai",
            ),
            lines=[line(variants, "DRS-001-M-BL")],
            payments=[
                PaymentInput(
                    tender="card", amount=price - cents(price * percent / 100), reference="VISA-558812"
                )
            ],
            note="DEMO-3 endless aisle: size not in store, sent from the warehouse",
        )
    if not story_done("DEMO-4"):
        locker = order_place(
            actor=staff["owner"],
            channel="phone",
            location_id=loc["KC"].pk,
            fulfilment="locker",
            pickup_point_code="H852FL01",
            customer_name="李志明",
            customer_phone="53456789",
            member_id=members["+85253456789"].pk,
            lines=[line(variants, "SER-HYD-30")],
            payments=[
                PaymentInput(
                    tender="alipayhk", amount=variants["SER-HYD-30"].price.amount, reference="ALIPAYHK-77120"
                )
            ],
            note="DEMO-4 phone order to an SF Locker",
        )
        order_ship(order_id=locker.pk, actor=staff["kc-staff"], tracking_number="SF1234567890")


@transaction.atomic
def demo_orders_seed(*, places: DemoPlaces) -> DemoOrders:
    """Adds members, the locker directory and the demo orders. Idempotent."""
    variants = {
        variant.sku: variant for variant in Variant.objects.select_related("product").filter(sku__in=SKUS)
    }
    members = members_seed(places=places)
    if not PickupPoint.objects.exists():  # once: an import is audited, and a second run must change nothing
        with PICKUP_POINTS_CSV.open("rb") as file:
            pickup_points_import(file=file, actor="seed_demo")
    orders_seed(places=places, variants=variants, members=members)
    return DemoOrders(
        members=Member.objects.count(),
        orders=Order.objects.filter(note__startswith="DEMO-").count(),
        pickup_points=PickupPoint.objects.count(),
    )
