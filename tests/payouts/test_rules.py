"""The distribution computation, without a database: the law's worked example and its properties."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payouts.runs.policy import PolicyError, parse_policy
from payouts.runs.rules import MemberInput, RunInput, Trade, compute_run

D = Decimal


def members(*rows):
    """rows: (code, trade amount, capital)"""
    return tuple(MemberInput(code=c, member_no=i, name=c, trade=(Trade("deliveries", "藤茶鲜叶", D(0), D(t)),),
                             capital=(("cash", D(k)),)) for i, (c, t, k) in enumerate(rows, 1))


WORKED = RunInput("JGP-TEA", "farmer_coop", 2025, surplus=D("500000.00"), opening_undistributed=D("-20000.00"),
                  subsidy_fund=D("90000.00"),
                  members=members(("A", 120000, 50000), ("B", 60000, 30000), ("C", 20000, 20000)))
POLICY_70_30 = parse_policy({"reserve_pct": "10", "pools": [
    {"name": "patronage", "pct": "70", "basis": "transactions"},
    {"name": "residual", "pct": "30", "basis": "capital"}]})


def test_worked_example_of_domain_reference_1_3():
    r = compute_run(WORKED, POLICY_70_30)
    assert (r.prior_loss, r.reserves, r.distributable) == (D("20000.00"), (("reserve", D("48000.00")),), D("432000.00"))
    assert [(n, a, t) for n, _, a, t in r.pools] == [("patronage", D("302400.00"), D("200000")),
                                                     ("residual", D("129600.00"), D("238000.00"))]
    got = {m.code: ([ln.amount for ln in m.lines], m.reserve_share, m.total) for m in r.members}
    assert got == {
        "A": ([D("181440.00"), D("59245.72")], D("28800.00"), D("240685.72")),
        "B": ([D("90720.00"), D("40513.61")], D("14400.00"), D("131233.61")),
        "C": ([D("30240.00"), D("29840.67")], D("4800.00"), D("60080.67")),
    }
    assert [ln.basis for ln in r.members[0].lines] == [D("120000"), D("108800.00")]
    assert r.ok


def test_half_by_trade_fails_the_60_percent_rule_with_the_figures():
    policy = parse_policy({"pools": [{"name": "trade", "pct": "50", "basis": "transactions"},
                                     {"name": "capital", "pct": "50", "basis": "capital"}]})
    r = compute_run(WORKED, policy)
    failed = [c for c in r.checks if not c.ok]
    assert [c.rule for c in failed] == ["patronage_min_60"]
    assert "50.00% < 60%" in failed[0].detail


def test_a_land_coop_is_a_farmer_cooperative_in_law_unless_its_land_is_its_members_trade():
    """books-review W6, INTERFACES §4: a remainder by land is refused for a farmer cooperative and for a
    land-share cooperative alike (land put in is capital: form ``land``); a land-share cooperative whose
    articles count land as trade says ``land_as_trade``, and its land pools are then returns by trade (221)."""
    policy = parse_policy({"pools": [{"name": "trade", "pct": "60", "basis": "transactions"},
                                     {"name": "land", "pct": "40", "basis": "land"}]})
    land = WORKED.members[0].__class__(**{**WORKED.members[0].__dict__, "land_shares": D("3")})
    data = RunInput(**{**WORKED.__dict__, "members": (land, *WORKED.members[1:])})
    assert "residual_capital_only" in {c.rule for c in compute_run(data, policy).checks if not c.ok}
    land_coop = RunInput(**{**data.__dict__, "kind": "land_coop"})
    assert "residual_capital_only" in {c.rule for c in compute_run(land_coop, policy).checks if not c.ok}
    by_land = parse_policy({"land_as_trade": True, "pools": [{"name": "land", "pct": "100", "basis": "land"}]})
    r = compute_run(land_coop, by_land)
    assert r.ok and r.patronage_pools == ("land",)
    unquantified = parse_policy({"reserve_pct": "10", "reserve_quantify": "none", "land_as_trade": True,
                                 "pools": [{"name": "land", "pct": "100", "basis": "land"}]})
    assert [c.rule for c in compute_run(land_coop, unquantified).checks if not c.ok] == ["reserve_quantified"]


def test_loss_year_distributes_nothing_and_carries_the_loss():
    data = RunInput(**{**WORKED.__dict__, "surplus": D("-5000.00"), "opening_undistributed": D("0")})
    r = compute_run(data, POLICY_70_30)
    assert r.distributable == 0 and r.reserves == (("reserve", D("0")),)
    assert all(m.total == 0 for m in r.members)


def test_preferred_shares_are_paid_first_and_deductions_spare_unconsented_land_income():
    m1 = MemberInput("P1", 1, "扶贫户", capital=(("poverty_asset", D("10000.00")),), land_shares=D("2"), debt=D("900"))
    m2 = MemberInput("P2", 2, "普通户", capital=(("cash", D("10000.00")),), land_shares=D("2"), debt=D("900"),
                     land_consent=True)
    policy = parse_policy({"preferred": [{"name": "优先股", "rate": "5"}],
                           "pools": [{"name": "land", "pct": "100", "basis": "land"}]})
    r = compute_run(RunInput("L", "land_coop", 2025, D("10500.00"), D("0"), D("0"), (m1, m2)), policy)
    p1, p2 = r.members
    assert p1.preferred == (("优先股", D("500.00")),)                  # 5 % of 10,000 before the pools
    assert [ln.amount for ln in p1.lines] == [D("5000.00")] == [ln.amount for ln in p2.lines]
    assert (p1.deductions, p1.net) == (D("500.00"), D("5000.00"))    # only the preferred part may be netted
    assert (p2.deductions, p2.net) == (D("900"), D("4100.00"))       # consent on record: land income too


def test_policy_problems_are_all_reported():
    with pytest.raises(PolicyError) as exc:
        parse_policy({"reserve_pct": 10.5, "pools": [{"name": "a", "pct": "70", "basis": "acres"}], "bogus": 1})
    text = str(exc.value)
    assert "Unknown key 'bogus'" in text and "floats are not exact" in text and "'acres' is not one of" in text
    assert "must sum to 100, not 70" in text


money = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def run_inputs(draw):
    n = draw(st.integers(1, 30))
    ms = []
    for i in range(n):
        ms.append(MemberInput(
            code=f"M{i:03d}", member_no=draw(st.integers(1, 10**6)) * 100 + i, name=f"m{i}",
            trade=(Trade("deliveries", "tea", D(0), draw(money)),), capital=(("cash", draw(money)),),
            land_shares=draw(st.decimals(0, 100, places=2)), labor_days=draw(st.decimals(0, 300, places=1)),
            days=draw(st.integers(1, 365))))
    surplus = draw(st.decimals(min_value=-10**5, max_value=10**7, places=2))
    return RunInput("X", draw(st.sampled_from(["farmer_coop", "land_coop", "collective"])), 2025, surplus,
                    draw(st.decimals(min_value=-10**5, max_value=10**5, places=2)), draw(money), tuple(ms))


policies = st.builds(lambda reserve, split, basis, prorate: parse_policy({
    "reserve_pct": str(reserve), "prorate_partial_year": prorate,
    "pools": [{"name": "trade", "pct": str(split), "basis": "transactions"},
              {"name": "other", "pct": str(100 - split), "basis": basis}]}),
    st.integers(0, 30), st.integers(0, 100), st.sampled_from(["capital", "land", "labor", "equal"]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(run_inputs(), policies, st.randoms())
def test_every_fen_is_accounted_for_and_order_does_not_matter(data, policy, rnd):
    r = compute_run(data, policy)
    # pools sum to the distributable surplus, member lines to each pool with a basis
    assert sum((p[2] for p in r.pools), D(0)) == r.distributable
    for name, _, amount, basis_total in r.pools:
        lines = [ln for m in r.members for ln in m.lines if ln.pool == name]
        if basis_total:
            assert sum((ln.amount for ln in lines), D(0)) == amount
            for ln in lines:        # each line within one fen of its exact share
                assert abs(ln.amount - amount * ln.basis / basis_total) < D("0.01")
    assert sum((m.reserve_share for m in r.members), D(0)) in (r.reserves[0][1], D(0))
    for m in r.members:
        assert m.net == m.total - m.deductions and m.deductions >= 0
    shuffled = list(data.members)
    rnd.shuffle(shuffled)
    again = compute_run(RunInput(**{**data.__dict__, "members": tuple(shuffled)}), policy)
    assert again == r


# ------------------------------------------------- issue 13 §6: distribution as the law reads (books-review §3)


@pytest.mark.parametrize(("surplus", "opening", "reserve", "distributable"), [
    ("-20000.00", "60000.00", "0.00", "40000.00"),     # a loss this year counts although last year left surplus
    ("50000.00", "-20000.00", "3000.00", "27000.00"),  # a profit after a loss: 10 % of what is left after it
    ("-20000.00", "10000.00", "0.00", "0.00"),         # nothing to distribute: the loss is carried
    ("404349.60", "0.00", "40434.96", "363914.64"),    # JGP-TEA 2025 (books-review §3)
])
def test_the_distributable_surplus_is_the_year_plus_what_it_brought_minus_reserves(surplus, opening, reserve,
                                                                                   distributable):
    """可分配盈余 = 本年盈余 + 年初未分配盈余 − 提取的盈余公积 (system Art. 54; 02表 line 16), never below zero
    (books-review W5: a year's loss was ignored whenever the year before left surplus)."""
    data = RunInput(**{**WORKED.__dict__, "surplus": D(surplus), "opening_undistributed": D(opening)})
    r = compute_run(data, POLICY_70_30)
    assert (r.reserves[0][1], r.distributable) == (D(reserve), D(distributable))


def test_sixty_percent_means_at_least_sixty_percent_to_the_fen():
    """books-review W4: 60 % of 363,914.64 is 218,348.784; the patronage pool is rounded up (218,348.79), and the
    one exact test — used by the run, the 02表 and the township's rule — refuses 218,348.78."""
    from payouts.runs.rules import patronage_meets_law

    policy = parse_policy({"reserve_pct": "10", "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                                                          {"name": "residual", "pct": "40", "basis": "capital"}]})
    data = RunInput(**{**WORKED.__dict__, "surplus": D("404349.60"), "opening_undistributed": D("0.00")})
    r = compute_run(data, policy)
    assert r.distributable == D("363914.64")
    assert [(n, a) for n, _, a, _ in r.pools] == [("patronage", D("218348.79")), ("residual", D("145565.85"))]
    assert r.ok and "60.00% >= 60%" in next(c.detail for c in r.checks if c.rule == "patronage_min_60")
    assert patronage_meets_law(D("218348.79"), D("363914.64"))
    assert not patronage_meets_law(D("218348.78"), D("363914.64"))
    assert patronage_meets_law(D("0.00"), D("0.00"))


def test_two_patronage_pools_share_the_rounding_up_and_every_fen_is_placed():
    policy = parse_policy({"pools": [{"name": "tea", "pct": "35", "basis": "transactions"},
                                     {"name": "veg", "pct": "25", "basis": "transactions"},
                                     {"name": "residual", "pct": "40", "basis": "capital"}]})
    data = RunInput(**{**WORKED.__dict__, "surplus": D("0.07"), "opening_undistributed": D("0.00")})
    r = compute_run(data, policy)
    amounts = {n: a for n, _, a, _ in r.pools}
    assert amounts["tea"] + amounts["veg"] == D("0.05")                 # 60 % of 0.07 = 0.042, rounded up
    assert sum(amounts.values()) == D("0.07") and amounts["residual"] == D("0.02")
