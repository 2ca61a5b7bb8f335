"""Stock API: inputs check the shape of a request and find its SKUs (by id, SKU or barcode) in a few queries;
the services check the meaning (enough stock, the right branch, the right role)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.fields import BIGINT_MAX, MAX_QTY, HkdField, IdField, price_field
from catalog.exceptions import VariantNotFound
from catalog.models import Variant
from catalog.selectors import variants_by_code, variants_by_id
from inventory.models import (
    LowStockAlert,
    Reservation,
    ReservationSource,
    ReservationStatus,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
)
from inventory.selectors import time_left
from inventory.services import StockLine
from omo.models import Location, LocationKind

MAX_LINES = 500
MAX_HOLD_MINUTES = 90 * 24 * 60
MAX_BATCH_VARIANTS = 200


class LocationField(serializers.PrimaryKeyRelatedField):
    """A location by id; anything but a whole number in the id range is refused before a query."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Location.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Location:
        text = str(data)
        if isinstance(data, bool) or not re.fullmatch(r"[0-9]{1,19}", text):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= int(text) <= BIGINT_MAX:
            self.fail("does_not_exist", pk_value=data)
        location: Location = super().to_internal_value(int(text))
        return location


# --- Finding the SKUs of a request --------------------------------------------------------------------------


class VariantRefInput(serializers.Serializer[dict]):
    """A SKU by its id (`variant`) or by a SKU or barcode (`sku`): exactly one of them."""

    variant = IdField(required=False, help_text="The SKU's id (or give `sku`).")
    sku = serializers.CharField(
        max_length=64, required=False, help_text="A SKU or barcode (or give `variant`)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("variant" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError(_("Give either variant (an id) or sku (a SKU or barcode)."))
        return attrs


def variants_resolve(refs: list[dict[str, Any]]) -> tuple[list[Variant | None], dict[str, dict[str, Any]]]:
    """The Variant of each reference (one query for the ids, one for the codes), and errors by index."""
    by_id = variants_by_id([ref["variant"] for ref in refs if "variant" in ref])
    by_code = variants_by_code([ref["sku"] for ref in refs if "sku" in ref])
    found: list[Variant | None] = []
    errors: dict[str, dict[str, Any]] = {}
    for index, ref in enumerate(refs):
        if "variant" in ref:
            variant = by_id.get(ref["variant"])
            field = "variant"
        else:
            variant = by_code.get(ref["sku"].strip())
            field = "sku"
        if variant is None:
            errors[str(index)] = {field: [str(VariantNotFound.default_message)]}
        found.append(variant)
    return found, errors


def lines_resolve(lines: list[dict[str, Any]], *, field: str = "lines") -> list[dict[str, Any]]:
    """Replaces each line's `variant` id or `sku` with the Variant; raises a 400 naming each unknown one."""
    variants, errors = variants_resolve(lines)
    if errors:
        raise serializers.ValidationError({field: errors})
    resolved = []
    for line, variant in zip(lines, variants, strict=True):
        line = {key: value for key, value in line.items() if key != "sku"}
        line["variant"] = variant
        resolved.append(line)
    return resolved


class SingleVariantInput(VariantRefInput):
    """One SKU; after validation `variant` is the Variant itself."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        variants, errors = variants_resolve([attrs])
        if errors:
            raise serializers.ValidationError(errors["0"])
        attrs.pop("sku", None)
        attrs["variant"] = variants[0]
        return attrs


# --- Stock --------------------------------------------------------------------------------------------------


class ReceiveLineInput(VariantRefInput):
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    unit_cost = price_field(required=False, allow_null=True, help_text="HKD per unit, e.g. 55.00.")


class StockReceiveInput(serializers.Serializer[dict]):
    location = LocationField()
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ReceiveLineInput(), min_length=1, max_length=MAX_LINES
    )
    reference = serializers.CharField(max_length=64, help_text="The delivery note or invoice number.")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["lines"] = lines_resolve(attrs["lines"])
        return attrs


class StockAdjustInput(SingleVariantInput):
    location = LocationField()
    delta = serializers.IntegerField(
        min_value=-MAX_QTY, max_value=MAX_QTY, required=False, help_text="Signed change (or give on_hand)."
    )
    on_hand = serializers.IntegerField(
        min_value=0, max_value=MAX_QTY, required=False, help_text="The counted figure (or give delta)."
    )
    reason = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("delta" in attrs) == ("on_hand" in attrs):
            raise serializers.ValidationError(_("Give either a change or the new on-hand figure."))
        if attrs.get("delta") == 0:
            raise serializers.ValidationError({"delta": _("A change of zero changes nothing.")})
        return super().validate(attrs)


class StockWriteOffInput(SingleVariantInput):
    location = LocationField()
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    reason = serializers.CharField(max_length=255, help_text="What happened to the goods.")
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        # stock_write_off itself fails on such a SKU (a KeyError, reported); refuse it clearly first.
        if not attrs["variant"].track_inventory:
            raise serializers.ValidationError(_("This SKU does not track stock."))
        return attrs


class StockReorderInput(SingleVariantInput):
    location = LocationField()
    reorder_point = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QTY,
        allow_null=True,
        help_text="Alert when available falls to this; null: never.",
    )
    reorder_qty = serializers.IntegerField(
        min_value=1, max_value=MAX_QTY, allow_null=True, required=False, default=None
    )


class StockLevelOutput(serializers.ModelSerializer[StockLevel]):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    name = serializers.CharField(source="variant.label", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    reserved = serializers.IntegerField(
        source="live_reserved", read_only=True, help_text="Held by live holds."
    )
    available = serializers.IntegerField(source="live_available", read_only=True)
    below_reorder = serializers.SerializerMethodField()

    class Meta:
        model = StockLevel
        fields = [
            "id",
            "variant",
            "sku",
            "name",
            "location",
            "location_code",
            "on_hand",
            "reserved",
            "available",
            "reorder_point",
            "reorder_qty",
            "below_reorder",
            "updated_at",
        ]

    def get_below_reorder(self, level: Any) -> bool:
        return level.reorder_point is not None and level.live_available <= level.reorder_point


class MovementOutput(serializers.ModelSerializer[StockMovement]):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    name = serializers.CharField(source="variant.label", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    unit_cost = HkdField(read_only=True, allow_null=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "variant",
            "sku",
            "name",
            "location",
            "location_code",
            "kind",
            "quantity",
            "on_hand_after",
            "unit_cost",
            "reason",
            "reference",
            "actor_label",
            "created_at",
        ]


class LowStockAlertOutput(serializers.ModelSerializer[LowStockAlert]):
    variant = serializers.IntegerField(source="stock.variant_id", read_only=True)
    sku = serializers.CharField(source="stock.variant.sku", read_only=True)
    name = serializers.CharField(source="stock.variant.label", read_only=True)
    location = serializers.IntegerField(source="stock.location_id", read_only=True)
    location_code = serializers.CharField(source="stock.location.code", read_only=True)
    is_open = serializers.SerializerMethodField()

    class Meta:
        model = LowStockAlert
        fields = [
            "id",
            "stock",
            "variant",
            "sku",
            "name",
            "location",
            "location_code",
            "raised_at",
            "available_at_raise",
            "reorder_point",
            "resolved_at",
            "is_open",
        ]

    def get_is_open(self, alert: LowStockAlert) -> bool:
        return alert.resolved_at is None


class ReplenishmentQuery(serializers.Serializer[dict]):
    location = IdField(required=False, help_text="One location; by default the branches you work at.")


class ReplenishmentOutput(serializers.Serializer[Any]):
    sku = serializers.CharField()
    variant_id = serializers.IntegerField()
    name = serializers.CharField()
    location = serializers.CharField()
    location_id = serializers.IntegerField()
    available = serializers.IntegerField()
    reorder_point = serializers.IntegerField()
    reorder_qty = serializers.IntegerField(allow_null=True)
    suggested_qty = serializers.IntegerField()
    transfer_from = serializers.CharField(allow_null=True, help_text="The warehouse with the most available.")
    transfer_qty = serializers.IntegerField()
    purchase_qty = serializers.IntegerField()


# --- Availability -------------------------------------------------------------------------------------------


class LocationAvailabilityOutput(serializers.Serializer[Any]):
    location_id = serializers.IntegerField()
    location = serializers.CharField(help_text="The location's code.")
    location_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=LocationKind.choices)
    is_pickup_point = serializers.BooleanField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text="Held by live holds.")
    available = serializers.IntegerField()


class VariantAvailabilityOutput(serializers.Serializer[Any]):
    variant = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    locations = LocationAvailabilityOutput(many=True)


class AvailabilityFiguresOutput(serializers.Serializer[Any]):
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()


class AvailabilityBatchRowOutput(serializers.Serializer[Any]):
    variant = serializers.IntegerField()
    sku = serializers.CharField()
    locations = serializers.DictField(
        child=AvailabilityFiguresOutput(), help_text="By location code, every active location listed."
    )


class AvailabilityBatchOutput(serializers.Serializer[Any]):
    results = AvailabilityBatchRowOutput(many=True)


class AvailabilityBatchQuery(serializers.Serializer[dict]):
    variants = serializers.RegexField(
        r"^[0-9]{1,19}(,[0-9]{1,19})*$",
        max_length=MAX_BATCH_VARIANTS * 20,
        help_text=f"Comma-separated SKU ids, at most {MAX_BATCH_VARIANTS}, e.g. 1,2,3.",
    )

    def validate_variants(self, value: str) -> list[int]:
        ids = list(dict.fromkeys(int(part) for part in value.split(",")))
        if len(ids) > MAX_BATCH_VARIANTS:
            raise serializers.ValidationError(
                _("At most %(count)d SKUs at once.") % {"count": MAX_BATCH_VARIANTS}
            )
        if any(not 1 <= pk <= BIGINT_MAX for pk in ids):
            raise serializers.ValidationError(_("Ids are whole numbers above zero."))
        return ids


class WhereAvailableOutput(serializers.Serializer[Any]):
    location = serializers.CharField(help_text="The location's code.")
    location_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=LocationKind.choices)
    sku = serializers.CharField()
    variant_id = serializers.IntegerField()
    option_values = serializers.DictField(child=serializers.CharField())
    available = serializers.IntegerField()


# --- Reservations -------------------------------------------------------------------------------------------


class ReservationLineInput(VariantRefInput):
    location = LocationField(required=False, help_text="Defaults to the request's `location`.")
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)


class ReservationCreateInput(serializers.Serializer[dict]):
    """Either `lines`, or one SKU (`variant` or `sku`) with `qty`; `location` applies to lines without one."""

    locations: list[Location]

    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ReservationLineInput(), required=False, min_length=1, max_length=MAX_LINES
    )
    variant = IdField(required=False)
    sku = serializers.CharField(max_length=64, required=False, help_text="A SKU or barcode.")
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY, required=False)
    location = LocationField(required=False)
    source = serializers.ChoiceField(choices=ReservationSource.choices)  # type: ignore[assignment]  # DRF's Field.source; the metaclass takes it out
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="By default the source's usual lifetime (staff hold: 24 h).",
    )
    member_id = IdField(required=False, allow_null=True)
    customer_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    customer_phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        single = {key: attrs.pop(key) for key in ("variant", "sku", "qty") if key in attrs}
        location = attrs.pop("location", None)
        if "lines" in attrs:
            if single:
                raise serializers.ValidationError(_("Give either lines or one variant with qty, not both."))
            lines = attrs.pop("lines")
            field = "lines"
        else:
            if "qty" not in single or not ({"variant", "sku"} & set(single)):
                raise serializers.ValidationError(_("Give lines, or a variant (or sku) with qty."))
            if "variant" in single and "sku" in single:
                raise serializers.ValidationError(_("Give either variant (an id) or sku (a SKU or barcode)."))
            lines = [single]
            field = "non_field_errors"
        if any(line.get("location", location) is None for line in lines):
            raise serializers.ValidationError({"location": [_("Say where to hold the goods.")]})
        variants, errors = variants_resolve(lines)
        if errors:
            raise serializers.ValidationError({field: errors} if field == "lines" else errors["0"])
        # The Location objects, kept for the reply (the holds are written out with their location's code).
        self.locations = [line.get("location", location) for line in lines]
        attrs["lines"] = [
            StockLine(variant, place.pk, line["qty"])  # type: ignore[arg-type]
            for line, variant, place in zip(lines, variants, self.locations, strict=True)
        ]
        return attrs


class ReservationReleaseInput(serializers.Serializer[dict]):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReservationConsumeInput(serializers.Serializer[dict]):
    reference = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The sale, e.g. its order number.",
    )
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReservationExtendInput(serializers.Serializer[dict]):
    minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_HOLD_MINUTES, required=False, help_text="Added to the hold's current end."
    )
    expires_at = serializers.DateTimeField(required=False, help_text="The new end (within 90 days).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("minutes" in attrs) == ("expires_at" in attrs):
            raise serializers.ValidationError(_("Give either a new end time or a number of minutes."))
        return attrs


class ReservationOutput(serializers.ModelSerializer[Reservation]):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    name = serializers.CharField(source="variant.label", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    is_live = serializers.BooleanField(read_only=True, help_text="Active and not past its time.")
    expired = serializers.SerializerMethodField()
    time_left_seconds = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Reservation
        fields = [
            "id",
            "variant",
            "sku",
            "name",
            "location",
            "location_code",
            "qty",
            "source",
            "status",
            "is_live",
            "expired",
            "expires_at",
            "time_left_seconds",
            "member_id",
            "customer_name",
            "customer_phone",
            "note",
            "reference",
            "created_by",
            "created_at",
            "closed_at",
        ]

    def get_expired(self, reservation: Reservation) -> bool:
        """Expired, or still active but past its time (the sweep has not run yet): the units are free."""
        if reservation.status == ReservationStatus.EXPIRED:
            return True
        return (
            reservation.status == ReservationStatus.ACTIVE
            and reservation.expires_at is not None
            and reservation.expires_at <= timezone.now()
        )

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0))
    def get_time_left_seconds(self, reservation: Reservation) -> int | None:
        """Seconds until an active hold runs out (0 once past); null for holds without an end or closed."""
        if reservation.status != ReservationStatus.ACTIVE:
            return None
        left = time_left(reservation)
        return None if left is None else max(int(left / timedelta(seconds=1)), 0)


class HoldQuery(serializers.Serializer[dict]):
    location = IdField(required=False)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[*ReservationSource.choices, ("all", "all")],
        default=ReservationSource.STAFF_HOLD,
        help_text="Staff holds by default; `all` for every source.",
    )


class ReservationCreatedOutput(serializers.Serializer[Any]):
    reservations = ReservationOutput(many=True, help_text="One per SKU and location held.")


# --- Transfers ----------------------------------------------------------------------------------------------


class TransferLineInput(VariantRefInput):
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)


class TransferCreateInput(serializers.Serializer[dict]):
    source = LocationField(help_text="Where the goods are.")  # type: ignore[assignment]  # DRF's Field.source; the metaclass takes it out
    destination = LocationField(help_text="Where they should go.")
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TransferLineInput(), min_length=1, max_length=MAX_LINES
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["lines"] = lines_resolve(attrs["lines"])
        return attrs


class TransferQuantityInput(VariantRefInput):
    qty = serializers.IntegerField(min_value=0, max_value=MAX_QTY)


def quantities_by_variant(lines: list[dict[str, Any]]) -> dict[int, int]:
    quantities: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line["variant"].pk in quantities:
            raise serializers.ValidationError({"lines": {str(index): [_("Each SKU once.")]}})
        quantities[line["variant"].pk] = line["qty"]
    return quantities


class TransferShipInput(serializers.Serializer[dict]):
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TransferQuantityInput(),
        required=False,
        min_length=1,
        max_length=MAX_LINES,
        help_text="Units shipped per SKU; SKUs left out ship none. Leave out to ship everything requested.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "lines" in attrs:
            attrs["quantities"] = quantities_by_variant(lines_resolve(attrs.pop("lines")))
        return attrs


class TransferReceiveLineInput(TransferQuantityInput):
    note = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Why fewer arrived, e.g. one damaged."
    )


class TransferReceiveInput(serializers.Serializer[dict]):
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TransferReceiveLineInput(),
        required=False,
        min_length=1,
        max_length=MAX_LINES,
        help_text="Units that arrived now per SKU; SKUs left out arrived none. Leave out: all arrived.",
    )
    close = serializers.BooleanField(
        default=True, help_text="Record what has not arrived as missing and close the transfer."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "lines" in attrs:
            lines = lines_resolve(attrs.pop("lines"))
            attrs["quantities"] = quantities_by_variant(lines)
            attrs["notes"] = {line["variant"].pk: line["note"] for line in lines if line.get("note")}
        return attrs


class TransferCancelInput(serializers.Serializer[dict]):
    reason = serializers.CharField(max_length=255)


class TransferLineOutput(serializers.ModelSerializer[TransferLine]):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    name = serializers.CharField(source="variant.label", read_only=True)
    requested = serializers.IntegerField(source="qty_requested", read_only=True)
    shipped = serializers.IntegerField(source="qty_shipped", read_only=True)
    received = serializers.IntegerField(source="qty_received", read_only=True)
    missing = serializers.IntegerField(
        source="qty_missing", read_only=True, help_text="Shipped, not received."
    )
    discrepancy = serializers.CharField(source="discrepancy_note", read_only=True)

    class Meta:
        model = TransferLine
        fields = [
            "id",
            "variant",
            "sku",
            "name",
            "requested",
            "shipped",
            "received",
            "missing",
            "discrepancy",
        ]


class TransferOutput(serializers.ModelSerializer[Transfer]):
    number = serializers.CharField(read_only=True)
    source_code = serializers.CharField(source="source.code", read_only=True)
    destination_code = serializers.CharField(source="destination.code", read_only=True)
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    lines = TransferLineOutput(many=True, read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "number",
            "status",
            "source",
            "source_code",
            "destination",
            "destination_code",
            "note",
            "requested_by",
            "requested_at",
            "approved_at",
            "shipped_at",
            "received_at",
            "cancelled_at",
            "cancel_reason",
            "lines",
        ]


# --- Stock counts -------------------------------------------------------------------------------------------


class StockCountCreateInput(serializers.Serializer[dict]):
    location = LocationField()
    full = serializers.BooleanField(
        default=False, help_text="SKUs in stock here that nobody counts are posted as zero."
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class StockCountRecordInput(serializers.Serializer[dict]):
    code = serializers.CharField(max_length=64, required=False, help_text="A scanned barcode or typed SKU.")
    variant = IdField(required=False, help_text="The SKU's id, instead of code.")
    qty = serializers.IntegerField(
        min_value=-MAX_QTY, max_value=MAX_QTY, default=1, help_text="add: units counted now (-1 undoes one)."
    )
    mode = serializers.ChoiceField(
        choices=[("add", "add"), ("set", "set")],
        default="add",
        help_text="add: to what is counted so far (a scan); set: the line's figure (typed).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("code" in attrs) == ("variant" in attrs):
            raise serializers.ValidationError(_("Give either a code (barcode or SKU) or a variant id."))
        if attrs["mode"] == "set" and attrs["qty"] < 0:
            raise serializers.ValidationError({"qty": _("A count is a whole number, zero or more.")})
        return attrs


class StockCountRecordOutput(serializers.Serializer[Any]):
    variant = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    counted = serializers.IntegerField(help_text="The line's count after this record.")


class StockCountLineOutput(serializers.ModelSerializer[StockCountLine]):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    name = serializers.CharField(source="variant.label", read_only=True)
    counted_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = StockCountLine
        fields = ["id", "variant", "sku", "name", "counted", "expected", "counted_by", "updated_at"]


class StockCountOutput(serializers.ModelSerializer[StockCount]):
    number = serializers.CharField(source="__str__", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    posted_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = StockCount
        fields = [
            "id",
            "number",
            "location",
            "location_code",
            "status",
            "full",
            "note",
            "created_by",
            "created_at",
            "posted_by",
            "posted_at",
        ]


class StockCountDetailOutput(StockCountOutput):
    lines = StockCountLineOutput(many=True, read_only=True)

    class Meta(StockCountOutput.Meta):
        fields = [*StockCountOutput.Meta.fields, "lines"]


class VarianceRowOutput(serializers.Serializer[Any]):
    variant_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    counted = serializers.IntegerField()
    expected = serializers.IntegerField(help_text="On hand now; once posted, on hand at posting.")
    variance = serializers.IntegerField(help_text="counted - expected")
