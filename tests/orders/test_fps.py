import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from omo.errors import ValidationFailed
from orders.fps import (
    FpsMerchant,
    FpsProxyKind,
    crc16_ccitt,
    emv_parse,
    emv_serialize,
    fps_merchant_from_settings,
    fps_payload,
    fps_qr_png,
    fps_qr_svg,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def merchant(**overrides: Any) -> FpsMerchant:
    values: dict[str, Any] = {"proxy_kind": FpsProxyKind.FPS_ID, "proxy": "1234567", "name": "OMO Test Shop"}
    return FpsMerchant(**(values | overrides))


def crc_ok(payload: str) -> bool:
    return payload[-4:] == f"{crc16_ccitt(payload[:-4].encode()):04X}"


# --- CRC ---


def test_crc16_ccitt_false_check_value() -> None:
    # The catalogued check value of CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over the ASCII digits 1-9.
    assert crc16_ccitt(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    "published",
    [
        # Expected output of Odoo's l10n_hk FPS QR test (mobile proxy, reference label).
        "00020101021226330012hk.com.hkicl0313+852-6789123452040000530334454031005802HK"
        "5914company_1_data6002HK62170513INV/TEST/00016304A154",
        # An FPS code with a clearing code and a mobile proxy, from a public HKQR scanner sample.
        "00020101021126400012hk.com.hkicl01030040313+852-8765432152040000530334454041.235802HK"
        "5902NA6002HK6304C246",
    ],
)
def test_crc_matches_codes_generated_elsewhere(published: str) -> None:
    assert crc_ok(published)


# --- payload structure ---


@pytest.mark.parametrize(
    ("kind", "proxy", "sub_id", "encoded"),
    [
        (FpsProxyKind.FPS_ID, "1234567", "02", "1234567"),
        (FpsProxyKind.FPS_ID, "123456789", "02", "123456789"),
        (FpsProxyKind.MOBILE, "91234567", "03", "+852-91234567"),
        (FpsProxyKind.EMAIL, "pay@omo.example.hk", "04", "pay@omo.example.hk"),
    ],
)
def test_dynamic_payload_structure(kind: FpsProxyKind, proxy: str, sub_id: str, encoded: str) -> None:
    payload = fps_payload(
        merchant=merchant(proxy_kind=kind, proxy=proxy, clearing_code="004"),
        amount=Decimal("123.40"),
        reference="A-1001",
    )

    fields = emv_parse(payload)

    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert fields["26"] == {"00": "hk.com.hkicl", "01": "004", sub_id: encoded}
    assert fields["52"] == "0000"
    assert fields["53"] == "344"
    assert fields["54"] == "123.40"
    assert fields["58"] == "HK"
    assert fields["59"] == "OMO Test Shop"
    assert fields["60"] == "HK"
    assert fields["62"] == {"01": "A1001", "05": "A1001"}
    assert next(iter(fields)) == "00"
    assert list(fields)[-1] == "63"
    assert re.fullmatch(r"[0-9A-F]{4}", str(fields["63"]))
    assert payload.endswith("6304" + str(fields["63"]))
    assert crc_ok(payload)
    # Re-encoding what was parsed gives the payload back, so every ID and length was right.
    assert emv_serialize(fields) == payload


def test_static_payload_has_no_amount() -> None:
    payload = fps_payload(merchant=merchant(), amount=None)

    fields = emv_parse(payload)

    assert fields["01"] == "11"
    assert "54" not in fields
    assert fields["26"] == {"00": "hk.com.hkicl", "02": "1234567"}
    assert "62" not in fields
    assert crc_ok(payload)
    assert emv_serialize(fields) == payload


def test_known_payload() -> None:
    payload = fps_payload(
        merchant=merchant(proxy_kind=FpsProxyKind.MOBILE, proxy="+852 6789 1234", clearing_code="004"),
        amount=Decimal("123.4"),
        reference="ORD-2024/000123",
    )

    assert payload == (
        "000201"
        "010212"
        "26400012hk.com.hkicl01030040313+852-67891234"
        "52040000"
        "5303344"
        "5406123.40"
        "5802HK"
        "5913OMO Test Shop"
        "6002HK"
        "62340113ORD20240001230513ORD2024000123"
        "630470C5"
    )


def test_unnamed_merchant_uses_placeholders() -> None:
    fields = emv_parse(fps_payload(merchant=merchant(name="", city=""), amount=None))

    assert fields["59"] == "NA"
    assert fields["60"] == "HK"


@pytest.mark.parametrize(
    ("amount", "encoded"),
    [
        (Decimal("0.01"), "0.01"),
        (Decimal(100), "100.00"),
        (Decimal("1E+2"), "100.00"),
        (Decimal("1.500"), "1.50"),
        (Decimal("9999999999.99"), "9999999999.99"),
    ],
)
def test_amount_has_two_decimals_and_no_separators(amount: Decimal, encoded: str) -> None:
    assert emv_parse(fps_payload(merchant=merchant(), amount=amount))["54"] == encoded


@pytest.mark.parametrize(
    ("reference", "label"),
    [
        ("ORD-2024/000123", "ORD2024000123"),
        ("單號 A 12", "A12"),
        ("X" * 30, "X" * 25),
    ],
)
def test_reference_is_ascii_alphanumeric_and_at_most_25(reference: str, label: str) -> None:
    fields = emv_parse(fps_payload(merchant=merchant(), amount=Decimal(1), reference=reference))

    assert fields["62"] == {"01": label, "05": label}


def test_reference_with_nothing_usable_is_left_out() -> None:
    assert "62" not in emv_parse(fps_payload(merchant=merchant(), amount=Decimal(1), reference="-/ 訂單"))


@pytest.mark.parametrize(
    "mobile", ["91234567", "+85291234567", "+852 9123 4567", "+852-9123-4567", "85291234567"]
)
def test_mobile_is_written_as_the_spec_wants(mobile: str) -> None:
    assert merchant(proxy_kind=FpsProxyKind.MOBILE, proxy=mobile).proxy == "+852-91234567"


# --- bad input ---


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("-1.00"), "The amount must be greater than zero."),
        (Decimal(0), "The amount must be greater than zero."),
        (Decimal("1.005"), "The amount can have at most 2 decimal places."),
        (Decimal("10000000000.00"), "The amount is too large for an FPS QR code."),
        (Decimal("1E+30"), "The amount is too large for an FPS QR code."),
        (Decimal("NaN"), "Enter a valid amount."),
        (Decimal("Infinity"), "Enter a valid amount."),
    ],
)
def test_bad_amount_is_rejected(amount: Decimal, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fps_payload(merchant=merchant(), amount=amount)

    assert str(caught.value.message) == message
    assert caught.value.extra == {"field": "amount"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"proxy": "123456"}, "proxy"),
        ({"proxy": "1234567890"}, "proxy"),
        ({"proxy": "12345６7"}, "proxy"),  # a full-width digit
        ({"proxy_kind": FpsProxyKind.MOBILE, "proxy": "9123456"}, "proxy"),
        ({"proxy_kind": FpsProxyKind.MOBILE, "proxy": "+86-13912345678"}, "proxy"),
        ({"proxy_kind": FpsProxyKind.EMAIL, "proxy": "not-an-email"}, "proxy"),
        ({"proxy_kind": FpsProxyKind.EMAIL, "proxy": "店@omo.example.hk"}, "proxy"),
        ({"proxy_kind": FpsProxyKind.EMAIL, "proxy": f"{'a' * 60}@{'b' * 20}.hk"}, "proxy"),
        ({"proxy_kind": FpsProxyKind.EMAIL, "proxy": f"{'a' * 64}@{'b' * 40}.{'c' * 40}.hk"}, "proxy"),
        ({"clearing_code": "4"}, "clearing_code"),
        ({"name": "N" * 26}, "name"),
        ({"name": "歐陽商店"}, "name"),
        ({"city": "Hong Kong Island East"}, "city"),
        ({"category_code": "12"}, "category_code"),
    ],
)
def test_bad_merchant_is_rejected(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        merchant(**overrides)

    assert caught.value.extra == {"field": field}


@pytest.mark.parametrize("payload", ["0002", "000201019", "0002010002"])
def test_malformed_payload_is_rejected(payload: str) -> None:
    with pytest.raises(ValidationFailed):
        emv_parse(payload)


# --- settings ---


@pytest.fixture
def fps_settings(settings: Any) -> Any:
    settings.FPS_ID = ""
    settings.FPS_MOBILE = ""
    settings.FPS_EMAIL = ""
    settings.FPS_CLEARING_CODE = ""
    settings.FPS_MERCHANT_NAME = ""
    settings.FPS_MERCHANT_CITY = ""
    return settings


def test_no_proxy_configured_is_rejected(fps_settings: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fps_merchant_from_settings()

    assert "FPS is not set up" in str(caught.value.message)


def test_missing_settings_count_as_not_configured(settings: Any) -> None:
    for name in ("FPS_ID", "FPS_MOBILE", "FPS_EMAIL"):
        if hasattr(settings, name):
            delattr(settings, name)

    with pytest.raises(ValidationFailed):
        fps_merchant_from_settings()


def test_merchant_from_settings(fps_settings: Any) -> None:
    fps_settings.FPS_MOBILE = "6789 1234"
    fps_settings.FPS_EMAIL = "pay@omo.example.hk"
    fps_settings.FPS_CLEARING_CODE = "024"
    fps_settings.FPS_MERCHANT_NAME = "OMO Shop"

    assert fps_merchant_from_settings() == FpsMerchant(
        proxy_kind=FpsProxyKind.MOBILE,
        proxy="+852-67891234",
        clearing_code="024",
        name="OMO Shop",
        city="HK",
    )


def test_fps_id_is_preferred_to_mobile_and_email(fps_settings: Any) -> None:
    fps_settings.FPS_ID = "1234567"
    fps_settings.FPS_MOBILE = "67891234"
    fps_settings.FPS_EMAIL = "pay@omo.example.hk"

    found = fps_merchant_from_settings()

    assert (found.proxy_kind, found.proxy) == (FpsProxyKind.FPS_ID, "1234567")


# --- images ---


def test_svg() -> None:
    svg = fps_qr_svg(fps_payload(merchant=merchant(), amount=Decimal("88.00"), reference="A1001"))

    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_png() -> None:
    payload = fps_payload(merchant=merchant(), amount=Decimal("88.00"), reference="A1001")

    small = fps_qr_png(payload, box_size=4)
    large = fps_qr_png(payload, box_size=8)

    assert small.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(small)) as small_image, Image.open(io.BytesIO(large)) as large_image:
        assert small_image.format == "PNG"
        assert small_image.width == small_image.height
        assert large_image.size == (small_image.width * 2, small_image.height * 2)
