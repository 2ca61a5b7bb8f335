"""One stock ledger for every location: stock levels, immutable movements, reservations, transfers, counts.

`StockLevel.on_hand` changes only through `inventory.ledger.stock_apply`, which writes the movement in the
same SQL statement: the movements of a (SKU, location) always sum to its on-hand (`stock_verify` proves it).
`reserved` counts every reservation still marked active, including ones whose time ran out but that the expiry
task has not swept yet: those units stay held in the row until swept, while the availability selectors already
count them as free (and a seller who needs them sweeps them first).
"""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from catalog.models import Variant
from omo.models import Location
from omo.scoping import ALL_BRANCHES, BranchScopedQuerySet, branch_ids_for


class StockLevel(models.Model):
    """On-hand and reserved units of one SKU at one location."""

    BRANCH_FIELD = "location"

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    reorder_point = models.PositiveIntegerField(
        _("reorder point"), null=True, blank=True, help_text=_("Alert when available falls to this.")
    )
    reorder_qty = models.PositiveIntegerField(_("reorder quantity"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BranchScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["variant", "location"], name="stock_unique_per_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reorder_qty__isnull=True) | Q(reorder_qty__gt=0),
                name="stock_reorder_qty_positive",
            ),
        ]
        indexes = [models.Index(fields=["location", "variant"], name="stock_by_location")]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.location_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class MovementKind(models.TextChoices):
    RECEIVE = "receive", _("Receive")
    SALE = "sale", _("Sale")
    RETURN = "return", _("Return")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    COUNT_ADJUSTMENT = "count_adjustment", _("Count adjustment")
    DAMAGE = "damage", _("Damage")


class StockMovement(models.Model):
    """One change of on-hand: immutable (a database trigger refuses UPDATE and DELETE)."""

    BRANCH_FIELD = "location"

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(_("kind"), max_length=20, choices=MovementKind.choices)
    quantity = models.IntegerField(_("quantity"), help_text=_("Signed: negative leaves the location."))
    on_hand_after = models.IntegerField(_("on hand after"))
    unit_cost = MoneyField(
        _("unit cost"), max_digits=12, decimal_places=2, default_currency="HKD", null=True, blank=True
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    objects = BranchScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_not_zero"),
            models.CheckConstraint(condition=Q(on_hand_after__gte=0), name="movement_on_hand_not_negative"),
        ]
        indexes = [models.Index(fields=["variant", "location", "id"], name="movement_by_stock")]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d} {self.variant_id}@{self.location_id}"


class ReservationSource(models.TextChoices):
    WEB_CHECKOUT = "web_checkout", _("Web checkout")
    STAFF_HOLD = "staff_hold", _("Staff hold")
    CLICK_COLLECT = "click_collect", _("Click and collect")
    ENDLESS_AISLE = "endless_aisle", _("Endless aisle")


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CONSUMED = "consumed", _("Sold")
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")


class ReservationQuerySet(BranchScopedQuerySet):
    def for_user(self, user: Any) -> Self:
        """The holds at the user's branches, and the ones they made elsewhere (an endless-aisle hold made at
        Causeway Bay for stock in Mong Kok stays in the hands of the cashier who made it)."""
        ids = branch_ids_for(user)
        if ids is ALL_BRANCHES:
            return self
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(Q(location__in=ids) | Q(created_by=user))

    def live(self) -> Self:
        """Active and not yet past its time: the holds that really keep stock away from others."""
        return self.filter(status=ReservationStatus.ACTIVE).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class Reservation(models.Model):
    """Units of a SKU held at a location until sold (consumed), released, or expired."""

    BRANCH_FIELD = "location"

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="reservations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="reservations")
    qty = models.PositiveIntegerField(_("quantity"))
    source = models.CharField(_("source"), max_length=20, choices=ReservationSource.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    # A member of the members app, by id: members sits beside inventory, so this is a reference, not a key.
    member_id = models.BigIntegerField(_("member"), null=True, blank=True)
    customer_name = models.CharField(_("customer name"), max_length=100, blank=True)
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    objects = ReservationQuerySet.as_manager()

    class Meta:
        ordering = ["expires_at", "id"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [models.CheckConstraint(condition=Q(qty__gt=0), name="reservation_qty_positive")]
        indexes = [
            models.Index(
                fields=["variant", "location"],
                name="reservation_active_stock",
                condition=Q(status="active"),
            ),
            models.Index(
                fields=["expires_at"], name="reservation_active_expiry", condition=Q(status="active")
            ),
            models.Index(fields=["location", "source", "status"], name="reservation_by_location"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.qty} x {self.variant_id}@{self.location_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status == ReservationStatus.ACTIVE and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class TransferQuerySet(models.QuerySet["Transfer"]):
    def for_user(self, user: Any) -> Self:
        """A transfer belongs to both ends: staff of the source and of the destination see it."""
        ids = branch_ids_for(user)
        if ids is ALL_BRANCHES:
            return self
        return self.filter(Q(source__in=ids) | Q(destination__in=ids))


class Transfer(models.Model):
    """Stock moving between locations: requested, approved, shipped (in transit), received, or cancelled."""

    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(
        _("status"), max_length=12, choices=TransferStatus.choices, default=TransferStatus.REQUESTED
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=255, blank=True)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_between_two_places")
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"TR-{self.pk:06d}" if self.pk else "TR-new"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    qty_requested = models.PositiveIntegerField(_("requested"))
    qty_shipped = models.PositiveIntegerField(_("shipped"), default=0)
    qty_received = models.PositiveIntegerField(_("received"), default=0)
    discrepancy_note = models.CharField(_("discrepancy"), max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "variant"], name="transfer_line_unique"),
            models.CheckConstraint(condition=Q(qty_requested__gt=0), name="transfer_line_qty_positive"),
            models.CheckConstraint(
                condition=Q(qty_received__lte=F("qty_shipped")), name="transfer_line_received_le_shipped"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} x {self.qty_requested}"

    @property
    def qty_missing(self) -> int:
        return self.qty_shipped - self.qty_received


class CountStatus(models.TextChoices):
    OPEN = "open", _("Open")
    POSTED = "posted", _("Posted")
    CANCELLED = "cancelled", _("Cancelled")


class StockCount(models.Model):
    """A count sheet for one location: staff scan or type counts (several at once), a manager posts it."""

    BRANCH_FIELD = "location"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_counts")
    status = models.CharField(
        _("status"), max_length=10, choices=CountStatus.choices, default=CountStatus.OPEN
    )
    full = models.BooleanField(
        _("full count"),
        default=False,
        help_text=_("SKUs in stock here but not counted are counted as zero when posted."),
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)

    objects = BranchScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stock count")
        verbose_name_plural = _("stock counts")

    def __str__(self) -> str:
        return f"SC-{self.pk:06d}" if self.pk else "SC-new"


class StockCountLine(models.Model):
    count = models.ForeignKey(StockCount, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    counted = models.PositiveIntegerField(_("counted"), default=0)
    # Filled in when posted: what the ledger said at that moment, so the variance stays on record.
    expected = models.IntegerField(_("expected"), null=True, blank=True)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["count", "variant"], name="count_line_unique")]

    def __str__(self) -> str:
        return f"{self.variant_id}: {self.counted}"


class LowStockAlert(models.Model):
    """Raised once when available falls to the reorder point; resolved when it rises above again."""

    BRANCH_FIELD = "stock__location"

    stock = models.ForeignKey(StockLevel, on_delete=models.CASCADE, related_name="low_stock_alerts")
    raised_at = models.DateTimeField(default=timezone.now)
    available_at_raise = models.IntegerField()
    reorder_point = models.PositiveIntegerField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = BranchScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("low-stock alert")
        verbose_name_plural = _("low-stock alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["stock"], condition=Q(resolved_at__isnull=True), name="low_stock_one_open_alert"
            )
        ]

    def __str__(self) -> str:
        return f"low stock {self.stock_id} at {self.raised_at:%Y-%m-%d %H:%M}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """An uploaded catalogue file: checked (dry run) first, then committed; progress kept for the screen."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(_("format"), max_length=20)
    data = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    options = models.JSONField(default=dict)
    commit = models.BooleanField(_("commit"), default=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"
