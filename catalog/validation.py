"""Checks shared by the catalogue services and the importers: each returns a clean value or a message.

They never touch the database, so an importer can check ten thousand rows before writing one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _
from djmoney.money import Money

from catalog.models import SalesChannel

MAX_PRICE = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")
BARCODE_PATTERN = re.compile(r"^[A-Za-z0-9\-]+$")
MAX_OPTIONS = 3


class Invalid(ValueError):
    """A value that cannot be used; its message is for the person who typed it."""


def money_parse(value: Any, *, allow_blank: bool = False) -> Decimal | None:
    """'HK$1,299.50', '1299.5', 1299.5 -> Decimal('1299.50'). Negative, NaN and >2 decimals are refused."""
    if isinstance(value, Money):
        if str(value.currency) != "HKD":
            raise Invalid(_("Prices are in HKD."))
        value = value.amount
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_blank:
            return None
        raise Invalid(_("A price is required."))
    if isinstance(value, float):
        value = repr(value)  # never binary floats in money: parse what was written
    text = str(value).strip().replace(",", "")
    for prefix in ("HK$", "HKD", "$"):
        text = text.removeprefix(prefix).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Invalid(_("“%(value)s” is not a price.") % {"value": value}) from None
    if not amount.is_finite():
        raise Invalid(_("“%(value)s” is not a price.") % {"value": value})
    if amount < 0:
        raise Invalid(_("A price cannot be negative."))
    # Before quantize: quantizing 1E+30 to cents needs more digits than the context has and raises.
    if amount > MAX_PRICE:
        raise Invalid(_("This price is too large."))
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid(_("A price has at most two decimals (cents)."))
    # copy_abs: "-0" is zero, but Decimal keeps its sign and it would print as -0.00 on a receipt.
    return amount.quantize(Decimal("0.01")).copy_abs()


def quantity_parse(value: Any, *, allow_blank: bool = False, allow_negative: bool = False) -> int | None:
    """'12', '12.0', 12 -> 12; '1.5', 'abc' and negatives (unless allowed) are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_blank:
            return None
        raise Invalid(_("A quantity is required."))
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid(_("“%(value)s” is not a whole number.") % {"value": value}) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid(_("“%(value)s” is not a whole number.") % {"value": value})
    if number < 0 and not allow_negative:
        raise Invalid(_("A quantity cannot be negative."))
    if abs(number) > 2_000_000_000:
        raise Invalid(_("This quantity is too large."))
    return int(number)


def bool_parse(value: Any, *, default: bool) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y", "t", "是", "visible", "on", "continue"}:
        return True
    if text in {"0", "false", "no", "n", "f", "否", "hidden", "off", "deny", "-1"}:
        return False
    raise Invalid(_("“%(value)s” is not yes or no.") % {"value": value})


def sku_clean(value: Any) -> str:
    sku = str(value or "").strip()
    if not sku:
        raise Invalid(_("A SKU is required."))
    if len(sku) > 64:
        raise Invalid(_("A SKU is at most 64 characters."))
    if not SKU_PATTERN.match(sku):
        raise Invalid(_("A SKU uses letters, digits and . _ - / only, e.g. DRS-001-M."))
    return sku


def barcode_clean(value: Any) -> str:
    code = str(value or "").strip()
    if code.endswith(".0") and code[:-2].isdigit():
        code = code[:-2]  # a spreadsheet turned the EAN into a number
    if not code or len(code) > 64 or not BARCODE_PATTERN.match(code):
        raise Invalid(_("“%(value)s” is not a barcode (letters, digits and - only).") % {"value": value})
    return code


def handle_make(text: str) -> str:
    """A URL-safe handle from a name; Chinese is kept (allow_unicode), spaces become hyphens."""
    return slugify(text, allow_unicode=True)[:120].strip("-")


def handle_clean(value: Any) -> str:
    handle = str(value or "").strip()
    if not handle:
        raise Invalid(_("A handle is required."))
    if handle != handle_make(handle) or len(handle) > 120:
        raise Invalid(_("A handle uses lower-case letters, digits and hyphens, e.g. floral-dress."))
    return handle


def option_names_clean(names: Any) -> list[str]:
    cleaned = [str(name).strip() for name in (names or [])]
    if any(not name for name in cleaned):
        raise Invalid(_("An option needs a name, e.g. Size."))
    if len(cleaned) > MAX_OPTIONS:
        raise Invalid(_("A product has at most three options."))
    if len({name.casefold() for name in cleaned}) != len(cleaned):
        raise Invalid(_("Each option name appears once."))
    if any(len(name) > 30 for name in cleaned):
        raise Invalid(_("An option name is at most 30 characters."))
    return cleaned


def option_values_clean(option_names: list[str], values: Any) -> dict[str, str]:
    """Exactly one non-empty value for each of the product's options, in the product's order."""
    if not isinstance(values, dict):
        raise Invalid(_("Option values are given as {option: value}."))
    given = {str(key).strip(): str(value).strip() for key, value in values.items() if value is not None}
    unknown = sorted(set(given) - set(option_names))
    if unknown:
        raise Invalid(_("Unknown option: %(names)s.") % {"names": ", ".join(unknown)})
    missing = [name for name in option_names if not given.get(name)]
    if missing:
        raise Invalid(_("Missing value for option %(names)s.") % {"names": ", ".join(missing)})
    if any(len(given[name]) > 50 for name in option_names):
        raise Invalid(_("An option value is at most 50 characters."))
    return {name: given[name] for name in option_names}


def channel_prices_clean(values: Any) -> dict[str, Decimal]:
    if not values:
        return {}
    if not isinstance(values, dict):
        raise Invalid(_("Channel prices are given as {channel: price}."))
    cleaned: dict[str, Decimal] = {}
    for channel, price in values.items():
        if channel not in SalesChannel.values:
            raise Invalid(_("Unknown channel: %(channel)s.") % {"channel": channel})
        amount = money_parse(price)
        assert amount is not None
        cleaned[channel] = amount
    return cleaned


def tags_clean(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    tags: list[str] = []
    for item in items:
        tag = str(item).strip()[:50]
        if tag and tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
    return tags
