"""The Beancount export of the demo passes the independent checker and agrees with our trial balance."""

import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

from cooperatives.demo import TEA, load_demo

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


@pytest.fixture
def demo_export(session, cli, tmp_path):
    load_demo(session)
    session.commit()      # commands close the session after they run: setup must be committed (to the test savepoint)
    result = cli("export", "beancount", "--entity", TEA)
    assert result.exit_code == 0
    path = tmp_path / "tea.beancount"
    path.write_text(result.stdout, encoding="utf-8")
    return path


def test_bean_check_accepts_the_demo_export(demo_export):
    done = subprocess.run([str(BEAN_CHECK), str(demo_export)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_beancount_balances_equal_the_trial_balance(demo_export, cli):
    entries, errors, _ = loader.load_file(str(demo_export))
    assert errors == []
    ours = json.loads(cli("trial-balance", "--entity", TEA, "--json").stdout)
    balances: dict[str, Decimal] = defaultdict(Decimal)
    transactions = 0
    for entry in entries:
        if isinstance(entry, data.Transaction):
            transactions += 1
            for posting in entry.postings:
                code = posting.account.split(":")[1][1:]          # Assets:C114:JGP-H001 -> 114
                balances[code] += posting.units.number
    assert transactions > 100
    expected = {row["code"]: Decimal(row["closing"]) for row in ours["accounts"]}
    assert {k: v for k, v in balances.items() if v} == {k: v for k, v in expected.items() if v}
    assert ours["balanced"] is True
