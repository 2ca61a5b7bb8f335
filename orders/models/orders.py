from typing import Any, Self

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from catalog.models import Variant
from members.models import Member
from omo.models import Location
from omo.scoping import ALL_BRANCHES, BranchScopedQuerySet, branch_ids_for
from orders.models.fulfilment import District, PickupPoint

MONEY = {"max_digits": 12, "decimal_places": 2, "default_currency": "HKD"}


class Channel(models.TextChoices):
    POS = "pos", _("In store (POS)")
    WEB = "web", _("Web shop")
    SOCIAL = "social", _("Social (Instagram, WhatsApp)")
    PHONE = "phone", _("Phone")


class Fulfilment(models.TextChoices):
    IN_STORE = "in_store", _("Taken in store")
    SHIP = "ship", _("Home delivery")
    PICKUP = "pickup", _("Pickup at a branch")
    LOCKER = "locker", _("Locker or pickup point")


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    PAID = "paid", _("Paid")
    READY = "ready", _("Ready")
    FULFILLED = "fulfilled", _("Fulfilled")
    PICKED_UP = "picked_up", _("Picked up")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
    REFUNDED = "refunded", _("Refunded")


class OrderQuerySet(BranchScopedQuerySet):
    def for_user(self, user: Any) -> Self:
        """Staff see the orders sold at, sent from or collected at their branches; a customer sees none here
        (their own orders have their own selector)."""
        ids = branch_ids_for(user)
        if ids is ALL_BRANCHES:
            return self
        return self.filter(Q(location__in=ids) | Q(fulfil_from__in=ids) | Q(pickup_location__in=ids))


class Order(models.Model):
    """One order of any channel. Money on the order is derived from its lines and payments by the services.

    `location` is the branch that sold it (or the shop location of a web order) and owns its number;
    `fulfil_from` is where the goods come from (another branch or the warehouse for an endless-aisle order);
    `pickup_location` is the branch where a pickup order is collected.
    """

    BRANCH_FIELD = "location"

    number = models.CharField(_("number"), max_length=20, unique=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    fulfilment = models.CharField(_("fulfilment"), max_length=10, choices=Fulfilment.choices)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, db_index=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="orders")
    fulfil_from = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="orders_fulfilled", verbose_name=_("fulfilled from")
    )
    pickup_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="orders_for_pickup"
    )
    pickup_point = models.ForeignKey(PickupPoint, null=True, blank=True, on_delete=models.PROTECT)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    customer_name = models.CharField(_("customer name"), max_length=100, blank=True)
    customer_phone = models.CharField(_("customer phone"), max_length=20, blank=True, db_index=True)
    customer_email = models.EmailField(_("customer e-mail"), blank=True)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("attributed staff"),
    )
    language = models.CharField(_("language"), max_length=10, default="zh-hant")

    subtotal = MoneyField(_("subtotal"), **MONEY)  # sum of line totals, after line discounts
    discount = MoneyField(_("order discount"), **MONEY)
    discount_reason = models.CharField(_("discount reason"), max_length=200, blank=True)
    shipping_fee = MoneyField(_("shipping fee"), **MONEY)
    rounding = MoneyField(_("cash rounding"), **MONEY)
    total = MoneyField(_("total"), **MONEY)  # subtotal - discount + shipping_fee + rounding
    paid = MoneyField(_("paid"), **MONEY)
    refunded = MoneyField(_("refunded"), **MONEY)

    ship_name = models.CharField(_("recipient"), max_length=100, blank=True)
    ship_phone = models.CharField(_("recipient phone"), max_length=20, blank=True)
    ship_address = models.CharField(_("address"), max_length=255, blank=True)
    ship_district = models.CharField(_("district"), max_length=24, choices=District.choices, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    pickup_code = models.CharField(_("pickup code"), max_length=8, blank=True, db_index=True)
    pickup_deadline = models.DateTimeField(_("collect by"), null=True, blank=True)
    exchange_of = models.ForeignKey(
        "orders.Return", null=True, blank=True, on_delete=models.PROTECT, related_name="exchange_orders"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    placed_at = models.DateTimeField(_("placed at"), default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(condition=Q(refunded__lte=F("paid")), name="order_refund_within_paid"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(paid__gte=0), name="order_money_positive"
            ),
        ]
        indexes = [models.Index(fields=["location", "placed_at"], name="order_branch_day")]

    def __str__(self) -> str:
        return self.number

    @property
    def balance(self) -> Any:
        return self.total - self.paid


class OrderLine(models.Model):
    """A snapshot of what was sold: the SKU, its names and its price at the time, whatever the catalogue says
    later. `total` = qty × unit_price − discount."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    name_en = models.CharField(max_length=255)
    name_zh_hant = models.CharField(max_length=255)
    options = models.JSONField(default=dict, blank=True)
    category_id = models.BigIntegerField(null=True, blank=True)  # kept for reports and points rules
    qty = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"), **MONEY)
    list_price = MoneyField(_("list price"), **MONEY)  # differs from unit_price after a price override
    discount = MoneyField(_("discount"), **MONEY)
    discount_reason = models.CharField(_("discount reason"), max_length=200, blank=True)
    total = MoneyField(_("line total"), **MONEY)
    returned_qty = models.PositiveIntegerField(_("returned"), default=0)
    # The hold this line's goods wait under until fulfilment (ship, pickup, locker), by id.
    reservation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="order_line_qty_positive"),
            models.CheckConstraint(
                condition=Q(returned_qty__lte=F("qty")), name="order_line_return_within_qty"
            ),
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.qty}"

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name_zh_hant


class OrderCounter(models.Model):
    """The last order number used per branch; taken and bumped in one statement by the placing service."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.location_id}: {self.last}"
