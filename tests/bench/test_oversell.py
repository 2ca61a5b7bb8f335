"""`python -m bench oversell --quick` end to end: real client processes, real PostgreSQL, no oversell.

The benchmark works in its own database (`<dbname>_bench`) and verifies the ledger there itself; this test
asks pytest-django for nothing. About 15 s.
"""

from typing import Any

import pytest

from tests.bench.quick import last_json, run_bench


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return last_json(run_bench("oversell", "--quick"))


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
