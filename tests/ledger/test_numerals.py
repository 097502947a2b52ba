"""Tests for ledger.numerals: Chinese capital numerals (大写金额) for money amounts."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import D, from_fen
from ledger.numerals import capital_numerals


@pytest.mark.parametrize(
    ("amount",             "expected"),
    [
        ("12345.67",           "人民币壹万贰仟叁佰肆拾伍元陆角柒分"),
        ("100700.00",          "人民币壹拾万零柒佰元整"),
        ("10010.00",           "人民币壹万零壹拾元整"),
        ("100010000.00",       "人民币壹亿零壹万元整"),
        ("100000001.00",       "人民币壹亿零壹元整"),
        ("10.30",              "人民币壹拾元零叁角整"),
        ("60080.67",           "人民币陆万零捌拾元零陆角柒分"),
        ("240685.72",          "人民币贰拾肆万零陆佰捌拾伍元柒角贰分"),
        ("1409.50",            "人民币壹仟肆佰零玖元伍角整"),
        ("6007.14",            "人民币陆仟零柒元壹角肆分"),
        ("1680.32",            "人民币壹仟陆佰捌拾元零叁角贰分"),
        ("107000.53",          "人民币壹拾万柒仟元零伍角叁分"),
        ("16409.02",           "人民币壹万陆仟肆佰零玖元零贰分"),
        ("325.04",             "人民币叁佰贰拾伍元零肆分"),
        ("0.50",               "人民币伍角整"),
        ("0.05",               "人民币伍分"),
        ("0",                  "人民币零元整"),
    ],
)
def test_required_vectors(amount, expected):
    assert capital_numerals(D(amount)) == expected


@pytest.mark.parametrize(
    ("amount",                 "expected"),
    [
        ("10",                     "人民币壹拾元整"),
        ("100000",                 "人民币壹拾万元整"),
        ("1000100000",             "人民币壹拾亿零壹拾万元整"),
        ("0.56",                   "人民币伍角陆分"),
        ("0.00",                   "人民币零元整"),
        ("1.230",                  "人民币壹元贰角叁分"),
        ("100.05",                 "人民币壹佰元零伍分"),
        ("1001001.01",             "人民币壹佰万壹仟零壹元零壹分"),
        ("1000000000000",          "人民币壹万亿元整"),
        ("1000100000000",          "人民币壹万零壹亿元整"),
        ("1000000000001",          "人民币壹万亿零壹元整"),
        ("9999999999999999.99",    "人民币玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        ("-10.50",                 "人民币负壹拾元零伍角整"),
        ("-0.05",                  "人民币负伍分"),
    ],
)
def test_more_amounts(amount, expected):
    assert capital_numerals(D(amount)) == expected


@pytest.mark.parametrize("amount", ["0.001", "12.345", "10000000000000000", "-10000000000000000.00"])
def test_rejects_sub_fen_and_too_large(amount):
    with pytest.raises(ValueError):
        capital_numerals(D(amount))


# ---------------------------------------------------------------- parser for the round trip

DIGIT_VALUES = {ch: i for i, ch in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE_VALUES = {"拾": 10, "佰": 100, "仟": 1000}
ALLOWED = set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整人民币")


def parse_capital(text: str) -> Decimal:
    """Read capital numerals back into a Decimal amount (the inverse of capital_numerals)."""
    assert text.startswith("人民币")
    body = text.removeprefix("人民币").removesuffix("整")
    negative = body.startswith("负")
    body = body.removeprefix("负")
    integer_text, _, fraction_text = body.rpartition("元")
    fen = parse_integer(integer_text) * 100 + parse_fraction(fraction_text)
    return from_fen(-fen if negative else fen)


def parse_integer(text: str) -> int:
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in DIGIT_VALUES:
            digit = DIGIT_VALUES[ch]
        elif ch in PLACE_VALUES:
            section, digit = section + digit * PLACE_VALUES[ch], 0
        elif ch == "万":
            section, digit = (section + digit) * 10**4, 0
        elif ch == "亿":
            total, section, digit = (total + section + digit) * 10**8, 0, 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    return total + section + digit


def parse_fraction(text: str) -> int:
    fen, digit = 0, 0
    for ch in text:
        if ch in DIGIT_VALUES:
            digit = DIGIT_VALUES[ch]
        elif ch in "角分":
            fen, digit = fen + digit * (10 if ch == "角" else 1), 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    assert digit == 0, f"dangling digit in {text!r}"
    return fen


@pytest.mark.parametrize(
    ("text",                       "amount"),
    [
        ("人民币壹万零壹亿元整",       "1000100000000.00"),
        ("人民币壹拾亿零壹拾万元整",   "1000100000.00"),
        ("人民币伍分",                 "0.05"),
        ("人民币负壹拾元零伍角整",     "-10.50"),
    ],
)
def test_parser_itself(text, amount):
    assert parse_capital(text) == D(amount)


# ---------------------------------------------------------------- properties


def sparse_amounts() -> st.SearchStrategy[Decimal]:
    """Amounts whose digits are mostly zero, to exercise the 零 rules."""
    digit = st.sampled_from("0000000123456789")
    return st.lists(digit, min_size=1, max_size=14).map(lambda ds: from_fen(int("".join(ds))))


amounts = st.one_of(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**14).map(from_fen),
    sparse_amounts(),
)


@settings(max_examples=300, deadline=None)
@given(amounts)
def test_capital_numerals_properties(amount):
    text = capital_numerals(amount)
    assert text.startswith("人民币")
    assert "零零" not in text
    assert not text.endswith("零")
    assert set(text) <= ALLOWED
    assert text.endswith("整") == (amount * 100 % 10 == 0)
    assert parse_capital(text) == amount


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**18 - 1), max_value=10**18 - 1).map(from_fen))
def test_capital_numerals_round_trip_full_range(amount):
    text = capital_numerals(amount)
    assert parse_capital(text) == amount
    assert text.startswith("人民币负") == (amount < 0)
    assert "零零" not in text
