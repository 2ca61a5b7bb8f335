"""Property tests of the parsers every price and quantity goes through (forms, the API, imports)."""

from decimal import Decimal

import pytest
from djmoney.money import Money
from hypothesis import given
from hypothesis import strategies as st

from catalog.validation import MAX_PRICE, Invalid, money_parse, quantity_parse

prices = st.decimals(min_value=0, max_value=MAX_PRICE, places=2, allow_nan=False, allow_infinity=False)
anything = st.one_of(
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


def money_or_invalid(value: object) -> Decimal | None:
    try:
        return money_parse(value)
    except Invalid:
        return None


@given(anything)
def test_money_parse_returns_a_clean_decimal_or_refuses(value):
    """Never a float, never negative (not even -0.00), never more than cents, never another exception."""
    result = money_or_invalid(value)
    if result is not None:
        assert type(result) is Decimal
        assert result.is_finite()
        assert not result.is_signed()
        assert result.as_tuple().exponent == -2
        assert Decimal(0) <= result <= MAX_PRICE


@given(st.text(alphabet="0123456789.,-+eE$HKD $", max_size=25))
def test_money_parse_on_price_like_text_never_crashes(text):
    result = money_or_invalid(text)
    assert result is None or (type(result) is Decimal and result >= 0 and not result.is_signed())


@given(prices)
def test_money_parse_round_trips_valid_prices(amount):
    assert money_parse(str(amount)) == amount
    assert money_parse(f"HK${amount:,}") == amount
    assert money_parse(f"  {amount} ") == amount
    assert money_parse(Money(amount, "HKD")) == amount
    assert money_parse(money_parse(amount)) == amount
    assert str(money_parse(amount)) == f"{amount:.2f}"


@given(st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False))
def test_money_parse_refuses_negative_prices(amount):
    with pytest.raises(Invalid, match="negative"):
        money_parse(str(amount))


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_money_parse_refuses_more_than_two_decimals(cents, third):
    with pytest.raises(Invalid, match="two decimals"):
        money_parse(f"{cents // 100}.{cents % 100:02d}{third}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HK$1,299.50", Decimal("1299.50")),
        ("1299.5", Decimal("1299.50")),
        (1299.5, Decimal("1299.50")),
        (399, Decimal("399.00")),
        ("HKD 88", Decimal("88.00")),
        ("-0", Decimal("0.00")),
        ("0.10", Decimal("0.10")),
    ],
)
def test_money_parse_examples(value, expected):
    result = money_parse(value)
    assert result == expected and str(result) == str(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e30", "too large"),
        ("10000000000.00", "too large"),
        (0.1 + 0.2, "two decimals"),
        ("12.345", "two decimals"),
        ("NaN", "not a price"),
        ("abc", "not a price"),
        ("", "required"),
        (None, "required"),
        (Money("10", "USD"), "HKD"),
    ],
)
def test_money_parse_refusals(value, message):
    with pytest.raises(Invalid, match=message):
        money_parse(value)


def test_money_parse_blank_allowed():
    assert money_parse("  ", allow_blank=True) is None
    assert money_parse(None, allow_blank=True) is None


@given(anything)
def test_quantity_parse_returns_an_int_or_refuses(value):
    try:
        result = quantity_parse(value)
    except Invalid:
        return
    assert type(result) is int
    assert 0 <= result <= 2_000_000_000


@given(st.integers(min_value=0, max_value=2_000_000_000))
def test_quantity_parse_round_trips_whole_numbers(number):
    assert quantity_parse(number) == number
    assert quantity_parse(str(number)) == number
    assert quantity_parse(f"{number:,}") == number
    assert quantity_parse(f"{number}.0") == number
    assert quantity_parse(float(number)) == number


@given(st.integers(min_value=-2_000_000_000, max_value=-1))
def test_quantity_parse_refuses_negatives_unless_allowed(number):
    with pytest.raises(Invalid, match="negative"):
        quantity_parse(number)
    assert quantity_parse(str(number), allow_negative=True) == number


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=3).filter(lambda d: d != d.to_integral_value())
)
def test_quantity_parse_refuses_fractions(number):
    with pytest.raises(Invalid):
        quantity_parse(str(number))


@pytest.mark.parametrize("value", ["1.5", "abc", True, "NaN", "sNaN", "Infinity", "3000000000", 1.5])
def test_quantity_parse_refusals(value):
    with pytest.raises(Invalid):
        quantity_parse(value)
