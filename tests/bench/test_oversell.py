"""`python -m bench oversell --quick` end to end: real client processes, real PostgreSQL, no oversell.

The benchmark works in its own database (`<dbname>_bench`) and verifies the ledger there itself; this test
asks pytest-django for nothing. About 15 s.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "oversell", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def result(quick_run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert quick_run.returncode == 0, quick_run.stderr[-3000:]
    last: dict[str, Any] = json.loads(quick_run.stdout.strip().splitlines()[-1])
    return last


def test_quick_run_prints_a_ratio_against_the_spread_load(result: dict[str, Any]) -> None:
    assert result["bench"] == "oversell"
    assert isinstance(result["ratio"], float)
    assert result["ratio"] > 0
    assert isinstance(result["baseline"], str)
    assert result["baseline"]
    assert result["hot_ops_per_s"] > 0
    assert result["spread_ops_per_s"] > 0
    assert len(result["hot_rounds"]) == len(result["spread_rounds"]) == result["rounds"]
    assert result["clients"] >= 16
    assert result["duration_s"] > 0
    assert result["quick"] is True
    assert result["database"].endswith("_bench")


def test_nobody_oversells_the_last_units(result: dict[str, Any]) -> None:
    assert result["oversold"] == 0
    assert result["last_units_sold"] == 10
    assert result["last_units_insufficient"] == result["last_units_clients"] - 10
    assert result["errors"] == 0, result["first_error"]
    assert result["short_in_timed_rounds"] == 0


def test_the_ledger_of_the_bench_database_verifies(result: dict[str, Any]) -> None:
    assert result["stock_verify"] == "ok"
    assert result["stock_rows_checked"] > 0
