"""FPS (Faster Payment System) QR codes: the payload a customer's banking app scans to pay the shop.

The payload follows EMVCo's Merchant-Presented Mode (EMV QRCPS MPM): a string of data objects, each an ID (two
digits), a length (two digits) and a value, ending with a CRC. Hong Kong's Common QR Code Specification gives
ID 26 to FPS, and HKMA/HKICL's "Payee-presented QR Code Specification for FPS" fills that template:

    26  merchant account information (FPS)
        00  globally unique identifier "hk.com.hkicl"
        01  clearing code of the payee's bank or SVF (3 digits), optional
        02  FPS ID | 03 mobile number "+852-XXXXXXXX" | 04 e-mail address   (exactly one)

With an amount the code is dynamic ("12": one code per sale, the app shows the amount and the customer only
confirms); without one it is static ("11": the customer types the amount). Fields FPS does not use carry the
spec's placeholders: merchant category "0000", merchant name "NA", merchant city "HK".

Pure functions: no models, no database. The settings are read only by `fps_merchant_from_settings`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from omo.errors import ValidationFailed
from omo.qr import DEFAULT_BOX_SIZE, qr_png, qr_svg

# EMV QRCPS MPM data object IDs (top level).
PAYLOAD_FORMAT_INDICATOR = "00"
POINT_OF_INITIATION = "01"
MERCHANT_ACCOUNT_FPS = "26"
MERCHANT_CATEGORY_CODE = "52"
TRANSACTION_CURRENCY = "53"
TRANSACTION_AMOUNT = "54"
COUNTRY_CODE = "58"
MERCHANT_NAME = "59"
MERCHANT_CITY = "60"
ADDITIONAL_DATA = "62"
CRC = "63"

STATIC = "11"
DYNAMIC = "12"
HKD = "344"  # ISO 4217 numeric
HONG_KONG = "HK"  # ISO 3166-1 alpha-2

# Sub-IDs of the FPS template (ID 26).
FPS_GUI = "00"
FPS_CLEARING_CODE = "01"
HKICL_GUI = "hk.com.hkicl"

# Sub-IDs of the additional data template (ID 62).
BILL_NUMBER = "01"
REFERENCE_LABEL = "05"

# Data object IDs whose value is itself a list of data objects: merchant account information (26-51),
# additional data (62) and merchant information in another language (64).
TEMPLATE_IDS = frozenset({*(f"{i:02d}" for i in range(26, 52)), "62", "64"})

MAX_VALUE_LENGTH = 99  # a two-digit length
MAX_AMOUNT_LENGTH = 13
MAX_MERCHANT_NAME_LENGTH = 25
MAX_MERCHANT_CITY_LENGTH = 15
MAX_REFERENCE_LENGTH = 25
NO_MERCHANT_NAME = "NA"
DEFAULT_MERCHANT_CITY = "HK"
DEFAULT_MERCHANT_CATEGORY = "0000"

_CENT = Decimal("0.01")
# [0-9], not \d: \d also matches full-width and other Unicode digits.
_FPS_ID_RE = re.compile(r"[0-9]{7,9}")
_HK_MOBILE_RE = re.compile(r"(?:\+?852)?([0-9]{8})")
_MOBILE_SEPARATORS_RE = re.compile(r"[\s\-()]")
_CLEARING_CODE_RE = re.compile(r"[0-9]{3}")
_MERCHANT_CATEGORY_RE = re.compile(r"[0-9]{4}")
_PRINTABLE_ASCII_RE = re.compile(r"[\x20-\x7e]*")


class FpsProxyKind(StrEnum):
    """How the payee is addressed; the value of each is its sub-ID in the FPS template (ID 26)."""

    FPS_ID = "02"
    MOBILE = "03"
    EMAIL = "04"


@dataclass(frozen=True, kw_only=True)
class FpsMerchant:
    """The payee of an FPS QR code. Validated and normalised on creation, so every instance can be encoded.

    `proxy` is the FPS ID (7-9 digits), the Hong Kong mobile number (any of 91234567, +85291234567,
    +852 9123 4567; kept as +852-91234567) or the e-mail address registered with FPS. `clearing_code` is the
    3-digit code of the bank or SVF holding the account (e.g. 004), optional.
    `name` and `city` are English (printable ASCII): a blank name becomes "NA".

    Raises ValidationFailed (with `field`) on any invalid value.
    """

    proxy_kind: FpsProxyKind
    proxy: str
    clearing_code: str = ""
    name: str = ""
    city: str = DEFAULT_MERCHANT_CITY
    category_code: str = DEFAULT_MERCHANT_CATEGORY

    def __post_init__(self) -> None:
        # A frozen dataclass can only set its normalised values through object.__setattr__.
        object.__setattr__(self, "proxy_kind", FpsProxyKind(self.proxy_kind))
        object.__setattr__(self, "proxy", _normalise_proxy(self.proxy_kind, self.proxy))
        clearing_code = self.clearing_code.strip()
        if clearing_code and not _CLEARING_CODE_RE.fullmatch(clearing_code):
            raise ValidationFailed(
                _("The FPS bank code has 3 digits, for example 004."), field="clearing_code"
            )
        object.__setattr__(self, "clearing_code", clearing_code)
        object.__setattr__(
            self,
            "name",
            _ascii_text(
                self.name,
                max_length=MAX_MERCHANT_NAME_LENGTH,
                field="name",
                message=_(
                    "The merchant name must be at most 25 English letters, digits or punctuation marks."
                ),
            )
            or NO_MERCHANT_NAME,
        )
        object.__setattr__(
            self,
            "city",
            _ascii_text(
                self.city,
                max_length=MAX_MERCHANT_CITY_LENGTH,
                field="city",
                message=_(
                    "The merchant city must be at most 15 English letters, digits or punctuation marks."
                ),
            )
            or DEFAULT_MERCHANT_CITY,
        )
        if not _MERCHANT_CATEGORY_RE.fullmatch(self.category_code):
            raise ValidationFailed(
                _("The merchant category code has 4 digits; use 0000 if there is none."),
                field="category_code",
            )
        if sum(4 + len(value) for value in self.account_template().values()) > MAX_VALUE_LENGTH:
            # Only a long e-mail address can get here: every other part has a fixed or small length.
            raise ValidationFailed(_("This e-mail address is too long for an FPS QR code."), field="proxy")

    def account_template(self) -> dict[str, str]:
        """The sub-fields of the FPS merchant account information template (ID 26), in order."""
        template = {FPS_GUI: HKICL_GUI}
        if self.clearing_code:
            template[FPS_CLEARING_CODE] = self.clearing_code
        template[self.proxy_kind.value] = self.proxy
        return template


def fps_merchant_from_settings() -> FpsMerchant:
    """The shop's FPS payee from settings.

    Uses the first proxy set, in the order FPS_ID, FPS_MOBILE, FPS_EMAIL: an FPS ID is preferred because a
    code on a counter or a receipt then shows neither a phone number nor an e-mail address.
    Raises ValidationFailed if none is set or a value is invalid.
    """
    proxies = (
        (FpsProxyKind.FPS_ID, _setting("FPS_ID")),
        (FpsProxyKind.MOBILE, _setting("FPS_MOBILE")),
        (FpsProxyKind.EMAIL, _setting("FPS_EMAIL")),
    )
    for kind, proxy in proxies:
        if proxy:
            return FpsMerchant(
                proxy_kind=kind,
                proxy=proxy,
                clearing_code=_setting("FPS_CLEARING_CODE"),
                name=_setting("FPS_MERCHANT_NAME"),
                city=_setting("FPS_MERCHANT_CITY") or DEFAULT_MERCHANT_CITY,
            )
    raise ValidationFailed(
        _("FPS is not set up: set an FPS ID, mobile number or e-mail address to receive FPS payments."),
        field="proxy",
    )


def fps_payload(*, merchant: FpsMerchant, amount: Decimal | None, reference: str = "") -> str:
    """The EMV QR payload for paying `merchant` by FPS, CRC included.

    With `amount` (HKD, at most 2 decimal places) the code is dynamic, for one sale; without it, static.
    `reference` (an order or bill number) is reduced to ASCII letters and digits and cut to 25 characters;
    it goes in both the bill number and the reference label of the additional data template, because FPS
    codes in use carry it in one or the other, and we do not know which one every banking app reads.
    Raises ValidationFailed for a zero, negative, over-precise or too large amount.
    """
    fields: dict[str, str | dict[str, str]] = {
        PAYLOAD_FORMAT_INDICATOR: "01",
        POINT_OF_INITIATION: STATIC if amount is None else DYNAMIC,
        MERCHANT_ACCOUNT_FPS: merchant.account_template(),
        MERCHANT_CATEGORY_CODE: merchant.category_code,
        TRANSACTION_CURRENCY: HKD,
    }
    if amount is not None:
        fields[TRANSACTION_AMOUNT] = fps_amount(amount)
    fields[COUNTRY_CODE] = HONG_KONG
    fields[MERCHANT_NAME] = merchant.name
    fields[MERCHANT_CITY] = merchant.city
    label = fps_reference(reference)
    if label:
        fields[ADDITIONAL_DATA] = {BILL_NUMBER: label, REFERENCE_LABEL: label}
    # The CRC covers everything before its value, its own ID and length included.
    body = emv_serialize(fields) + CRC + "04"
    return f"{body}{crc16_ccitt(body.encode()):04X}"


def fps_amount(amount: Decimal) -> str:
    """`amount` as the transaction amount value (ID 54): digits, "." and 2 decimals, at most 13 characters."""
    if not amount.is_finite():
        raise ValidationFailed(_("Enter a valid amount."), field="amount")
    if amount <= 0:
        raise ValidationFailed(_("The amount must be greater than zero."), field="amount")
    # adjusted() is the exponent of the leading digit: 9 means 10 digits before the point, and 10 digits,
    # the point and 2 decimals are the 13 characters ID 54 allows. Checked before quantize(), which
    # fails on very large numbers.
    if amount.adjusted() >= MAX_AMOUNT_LENGTH - 3:
        raise ValidationFailed(_("The amount is too large for an FPS QR code."), field="amount")
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise ValidationFailed(_("The amount can have at most 2 decimal places."), field="amount")
    return f"{cents:.2f}"


def fps_reference(reference: str) -> str:
    """`reference` reduced to a safe subset of EMV text: ASCII letters and digits, at most 25 of them."""
    return "".join(ch for ch in reference if ch.isascii() and ch.isalnum())[:MAX_REFERENCE_LENGTH]


def fps_qr_svg(payload: str) -> str:
    """The FPS QR code as an inline <svg>, for the POS and web shop payment screens."""
    return qr_svg(payload)


def fps_qr_png(payload: str, *, box_size: int = DEFAULT_BOX_SIZE) -> bytes:
    """The FPS QR code as PNG bytes, for receipts and PDFs."""
    return qr_png(payload, box_size=box_size)


def emv_serialize(fields: Mapping[str, str | Mapping[str, str]]) -> str:
    """Data objects as an EMV QR string, in the mapping's order; a nested mapping becomes a template.

    Adds no CRC: `fields` is serialised as given. Values are expected to be validated already, so a
    malformed ID or a value over 99 characters is a programming error (ValueError).
    """
    parts = []
    for data_id, value in fields.items():
        text = value if isinstance(value, str) else emv_serialize(value)
        if len(data_id) != 2 or not data_id.isdigit() or len(text) > MAX_VALUE_LENGTH:
            raise ValueError(f"cannot encode data object {data_id!r} with {len(text)} characters")
        parts.append(f"{data_id}{len(text):02d}{text}")
    return "".join(parts)


def emv_parse(payload: str) -> dict[str, str | dict[str, str]]:
    """An EMV QR string as {ID: value}, templates (26-51, 62, 64) as nested {sub-ID: value}, in order.

    Checks the structure only, not the CRC. Raises ValidationFailed if the string is not well formed.
    """
    result: dict[str, str | dict[str, str]] = {}
    for data_id, value in _parse_data_objects(payload).items():
        result[data_id] = _parse_data_objects(value) if data_id in TEMPLATE_IDS else value
    return result


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, as EMV QR requires (ISO/IEC 13239): polynomial 0x1021, initial value 0xFFFF,
    no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def _parse_data_objects(text: str) -> dict[str, str]:
    objects: dict[str, str] = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if len(header) < 4 or not header.isascii() or not header.isdigit():
            raise _malformed()
        data_id, length = header[:2], int(header[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length or data_id in objects:
            raise _malformed()
        objects[data_id] = value
        position += 4 + length
    return objects


def _malformed() -> ValidationFailed:
    return ValidationFailed(_("This is not a valid EMV QR code."), field="payload")


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "").strip()


def _normalise_proxy(kind: FpsProxyKind, proxy: str) -> str:
    proxy = proxy.strip()
    if kind is FpsProxyKind.FPS_ID:
        if not _FPS_ID_RE.fullmatch(proxy):
            raise ValidationFailed(_("An FPS ID has 7 to 9 digits."), field="proxy")
        return proxy
    if kind is FpsProxyKind.MOBILE:
        match = _HK_MOBILE_RE.fullmatch(_MOBILE_SEPARATORS_RE.sub("", proxy))
        if match is None:
            raise ValidationFailed(
                _("Enter a Hong Kong mobile number of 8 digits, for example +852-91234567."), field="proxy"
            )
        # The FPS specification writes a mobile number as country code, hyphen, number.
        return f"+852-{match.group(1)}"
    try:
        validate_email(proxy)
    except DjangoValidationError:
        raise ValidationFailed(_("Enter a valid e-mail address."), field="proxy") from None
    if not proxy.isascii():
        raise ValidationFailed(_("Enter a valid e-mail address."), field="proxy")
    return proxy


def _ascii_text(value: str, *, max_length: int, field: str, message: Promise) -> str:
    # Names and cities are EMV "alphanumeric special" (printable ASCII); Chinese would need template 64.
    value = value.strip()
    if len(value) > max_length or not _PRINTABLE_ASCII_RE.fullmatch(value):
        raise ValidationFailed(message, field=field)
    return value
