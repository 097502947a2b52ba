"""SIGKILL during ``coopledger import`` and ``coopledger run post``, at random moments: every trial
leaves all or nothing, ``verify`` stays clean, and the retry happens exactly once.

The harness is ``bench/soak.py`` (``make soak`` runs 100 trials of each kind per database); here a
few trials of each run on the test database (``COOP_CRASH_TRIALS``, default 3). The deterministic
kill inside the posting transaction is tests/payouts/test_posting_faults.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from soak import Harness, entity_state, run_state, write_workbook  # noqa: E402

TRIALS = int(os.environ.get("COOP_CRASH_TRIALS", "3"))


@pytest.fixture
def harness(isolated_db, tmp_path):
    harness = Harness(isolated_db, tmp_path, households=100, deliveries=2000, seed=11, log=lambda _m: None)
    harness.init()
    yield harness
    harness.close()


def test_the_workbook_is_a_few_thousand_rows_and_the_states_count_them(harness, tmp_path):
    folder = write_workbook(tmp_path / "W", "W", 100, 2000, seed=11)
    rows = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in folder.glob("*.csv"))
    assert rows > 2000
    with harness.engine.connect() as conn:
        assert entity_state(conn, "W") == {"entity": 0}
    assert harness.retry_import(folder) is False           # imported
    with harness.engine.connect() as conn:
        state = entity_state(conn, "W")
    assert state["members"] == 100 and state["coop_deliveries"] == 2000 and state["entries"] > 100
    assert harness.retry_import(folder) is True            # a repeat is refused


@pytest.mark.slow
def test_killed_imports_leave_all_or_nothing(harness):
    summary = harness.import_trials(TRIALS)
    assert summary.failures == []
    assert summary.trials == TRIALS
    assert set(summary.outcomes) <= {"nothing", "all"} and sum(summary.outcomes.values()) == TRIALS
    assert harness.final_checks() == []


@pytest.mark.slow
def test_killed_run_posts_leave_all_or_nothing(harness):
    summary = harness.post_trials(TRIALS)
    assert summary.failures == []
    assert summary.trials == TRIALS
    assert set(summary.outcomes) <= {"nothing", "all"} and sum(summary.outcomes.values()) == TRIALS
    with harness.engine.connect() as conn:
        assert run_state(conn, 1)["status"] == "posted"         # the calibration run, posted uninterrupted
    assert harness.final_checks() == []


@pytest.mark.slow
def test_a_partial_state_would_be_caught(harness, monkeypatch):
    """The checker itself: a state that is neither before nor complete is reported as PARTIAL."""
    import soak

    real = soak.entity_state
    calls = {"n": 0}

    def lying(conn, code):
        state = real(conn, code)
        if code.startswith("KI"):
            calls["n"] += 1
            if calls["n"] == 2:                      # the state read right after the kill
                return {**state, "entity": 1, "members": 1}
        return state

    monkeypatch.setattr(soak, "entity_state", lying)
    summary = harness.import_trials(1)
    assert summary.outcomes["PARTIAL"] == 1 and summary.failures
