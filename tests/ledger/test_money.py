"""Tests for ledger.money: exact parsing, half-up rounding, fen conversion and largest-remainder splits."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import CENT, ZERO, D, allocate, exact_share, fmt, from_fen, quantize, to_fen

# ---------------------------------------------------------------- D


@pytest.mark.parametrize(
    ("raw",            "expected"),
    [
        ("1234.50",      Decimal("1234.50")),
        ("  7.05\n",     Decimal("7.05")),
        ("1,234.50",     Decimal("1234.50")),
        ("-1,234,567",   Decimal("-1234567")),
        ("+12",          Decimal("12")),
        (12,             Decimal("12")),
        (-3,             Decimal("-3")),
        (Decimal("0.1"), Decimal("0.1")),
    ],
)
def test_D_parses_exactly(raw, expected):
    result = D(raw)
    assert result == expected
    assert result.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize("raw", [0.1, 1.0, float("nan"), True, False, None, [1], Fraction(1, 2)])
def test_D_rejects_non_money_types(raw):
    with pytest.raises(TypeError):
        D(raw)


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "abc", "1.2.3", "12元", "1,5", "12,34", "1,,234", ",123", "NaN", "nan", "Infinity", "-inf", "sNaN",
     Decimal("NaN"), Decimal("Infinity")],
)
def test_D_rejects_unparseable_and_non_finite(raw):
    with pytest.raises(ValueError):
        D(raw)


# ---------------------------------------------------------------- quantize


@pytest.mark.parametrize(
    ("amount",  "unit",           "expected"),
    [
        ("2.345",  CENT,            "2.35"),
        ("2.344",  CENT,            "2.34"),
        ("-2.345", CENT,            "-2.35"),
        ("0.125",  CENT,            "0.13"),   # half-even would give 0.12
        ("2.5",    Decimal("1"),    "3"),
        ("3.5",    Decimal("1"),    "4"),
        ("1.05",   Decimal("0.1"),  "1.1"),
        ("7",      CENT,            "7.00"),
    ],
)
def test_quantize_rounds_half_up(amount, unit, expected):
    result = quantize(D(amount), unit)
    assert result == D(expected)
    assert result.as_tuple().exponent == unit.as_tuple().exponent


# ---------------------------------------------------------------- fen


@pytest.mark.parametrize(
    ("amount",    "fen"),
    [
        ("0",         0),
        ("0.05",      5),
        ("1.23",      123),
        ("1.230",     123),
        ("-12.30",    -1230),
        ("1E+3",      100000),
    ],
)
def test_to_fen(amount, fen):
    assert to_fen(D(amount)) == fen


@pytest.mark.parametrize("amount", ["0.001", "1.235", "-0.005"])
def test_to_fen_rejects_sub_fen_amounts(amount):
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        to_fen(D(amount))


@pytest.mark.parametrize(
    ("fen",   "expected"),
    [
        (5,       "0.05"),
        (0,       "0.00"),
        (100,     "1.00"),
        (-7,      "-0.07"),
        (123456,  "1234.56"),
    ],
)
def test_from_fen_has_two_places(fen, expected):
    result = from_fen(fen)
    assert result == D(expected)
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize("fen", [1.0, True, "5", Decimal("5")])
def test_from_fen_requires_int(fen):
    with pytest.raises(TypeError):
        from_fen(fen)


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_fen_round_trip(fen):
    amount = from_fen(fen)
    assert to_fen(amount) == fen
    assert from_fen(to_fen(amount)) == amount


# ---------------------------------------------------------------- fmt


@pytest.mark.parametrize(
    ("amount",          "text"),
    [
        ("1234.5",          "1234.50"),
        ("-3",              "-3.00"),
        ("-0.00",           "0.00"),
        ("0",               "0.00"),
        ("1,234,567.891",   None),
        ("1E+6",            "1000000.00"),
        ("12345678901.23",  "12345678901.23"),
    ],
)
def test_fmt(amount, text):
    if text is None:
        with pytest.raises(ValueError):
            fmt(D(amount))
    else:
        assert fmt(D(amount)) == text


# ---------------------------------------------------------------- allocate: examples


@pytest.mark.parametrize(
    ("total",       "weights",                                                     "expected"),
    [
        ("1.42",        {1: 1, 2: 1, 3: 1, 4: 1, 5: 1},                                {1: "0.29", 2: "0.29", 3: "0.28", 4: "0.28", 5: "0.28"}),
        ("10.00",       {"a": 1, "b": 1, "c": 1},                                      {"a": "3.34", "b": "3.33", "c": "3.33"}),
        ("10.00",       {"c": 1, "b": 1, "a": 1},                                      {"a": "3.34", "b": "3.33", "c": "3.33"}),
        ("129600.00",   {"A": D("108800"), "B": D("74400"), "C": D("54800")},          {"A": "59245.72", "B": "40513.61", "C": "29840.67"}),
        ("100.00",      {"x": D("0.5"), "y": D("0.25"), "z": D("0.25")},               {"x": "50.00", "y": "25.00", "z": "25.00"}),
        ("0.01",        {"x": 0, "y": 5},                                              {"x": "0.00", "y": "0.01"}),
        ("0.00",        {"x": 0, "y": 0},                                              {"x": "0.00", "y": "0.00"}),
        ("0",           {"x": 3},                                                      {"x": "0.00"}),
        ("0.00",        {},                                                            {}),
        ("-10.00",      {"a": 1, "b": 1, "c": 1},                                      {"a": "-3.34", "b": "-3.33", "c": "-3.33"}),
    ],
)
def test_allocate_examples(total, weights, expected):
    result = allocate(D(total), weights)
    assert result == {key: D(value) for key, value in expected.items()}
    assert list(result) == list(weights)
    assert all(part.as_tuple().exponent == -2 for part in result.values())


def test_allocate_order_breaks_ties():
    weights = {"a": 1, "b": 1, "c": 1}
    reverse = {"a": 3, "b": 2, "c": 1}
    assert allocate(D("10.00"), weights, order=reverse.__getitem__) == {"a": D("3.33"), "b": D("3.33"), "c": D("3.34")}


def test_allocate_other_units():
    assert allocate(D("10"), {"a": 1, "b": 1, "c": 1}, unit=Decimal("1")) == {"a": D("4"), "b": D("3"), "c": D("3")}
    assert allocate(D("1.0"), {"a": 1, "b": 2}, unit=Decimal("0.1")) == {"a": D("0.3"), "b": D("0.7")}


def test_allocate_has_no_negative_zero():
    result = allocate(D("-0.01"), {"a": 1, "b": 1})
    assert result == {"a": D("-0.01"), "b": ZERO}
    assert not result["b"].is_signed()


@pytest.mark.parametrize(
    ("total",    "weights",              "error"),
    [
        ("1.001",    {"a": 1},               ValueError),   # not a multiple of the unit
        ("1.00",     {},                     ValueError),   # nobody to give it to
        ("1.00",     {"a": 0, "b": 0},       ValueError),   # no positive weight
        ("1.00",     {"a": -1, "b": 2},      ValueError),   # negative weight
        ("1.00",     {"a": Decimal("NaN")},  ValueError),
        ("1.00",     {"a": 0.5},             TypeError),    # float weight
        ("1.00",     {"a": "1"},             TypeError),    # str weight
        ("1.00",     {"a": True},            TypeError),    # bool weight
    ],
)
def test_allocate_rejects(total, weights, error):
    with pytest.raises(error):
        allocate(D(total), weights)


def test_allocate_rejects_float_total_and_bad_unit():
    with pytest.raises(TypeError):
        allocate(1.0, {"a": 1})
    with pytest.raises(ValueError):
        allocate(D("1.00"), {"a": 1}, unit=ZERO)


@pytest.mark.parametrize(
    ("total",   "weight",   "weight_sum",  "expected"),
    [
        ("10.00",   1,          3,             Fraction(10, 3)),
        ("1.42",    D("0.5"),   D("2.5"),      Fraction(142, 500)),
        ("0",       0,          0,             Fraction(0)),
    ],
)
def test_exact_share(total, weight, weight_sum, expected):
    assert exact_share(D(total), weight, weight_sum) == expected


def test_exact_share_needs_weights_for_nonzero_total():
    with pytest.raises(ValueError):
        exact_share(D("1.00"), 0, 0)


# ---------------------------------------------------------------- allocate: properties

totals = st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False)
weight_values = st.one_of(
    st.just(0),
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
)
weight_maps = st.dictionaries(st.integers(min_value=0, max_value=10**4), weight_values, min_size=1, max_size=60).filter(
    lambda weights: any(w > 0 for w in weights.values())
)


def floor_units(share: Fraction) -> Fraction:
    """The exact share rounded down to a whole fen, as a Fraction."""
    return Fraction(share // Fraction(CENT)) * Fraction(CENT)


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps)
def test_allocate_parts_sum_to_total(total, weights):
    result = allocate(total, weights)
    assert sum(result.values(), ZERO) == total
    assert set(result) == set(weights)


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps)
def test_allocate_parts_within_one_unit_of_exact_share(total, weights):
    weight_sum = sum(weights.values())
    for key, part in allocate(total, weights).items():
        exact = exact_share(total, weights[key], weight_sum)
        assert abs(Fraction(part) - exact) < Fraction(CENT)
        assert Fraction(part) in {floor_units(exact), floor_units(exact) + Fraction(CENT)}


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps)
def test_allocate_gives_left_overs_to_largest_remainders(total, weights):
    weight_sum = sum(weights.values())
    remainders, rounded_up = {}, set()
    for key, part in allocate(total, weights).items():
        exact = exact_share(total, weights[key], weight_sum)
        remainders[key] = exact - floor_units(exact)
        if Fraction(part) != floor_units(exact):
            rounded_up.add(key)
    for up in rounded_up:
        for down in set(weights) - rounded_up:
            assert (remainders[up], -up) >= (remainders[down], -down)


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps, st.randoms(use_true_random=False))
def test_allocate_ignores_insertion_order(total, weights, rng):
    items = list(weights.items())
    rng.shuffle(items)
    shuffled = dict(items)
    assert allocate(total, shuffled) == allocate(total, weights)
    assert list(allocate(total, shuffled)) == list(shuffled)


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps)
def test_allocate_zero_weight_gets_zero(total, weights):
    result = allocate(total, weights)
    assert all(result[key] == ZERO for key, weight in weights.items() if weight == 0)


@settings(max_examples=300, deadline=None)
@given(totals, weight_maps)
def test_allocate_negative_total_mirrors_positive(total, weights):
    assert allocate(-total, weights) == {key: -part for key, part in allocate(total, weights).items()}
