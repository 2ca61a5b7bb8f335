"""`python -m bench availability --quick` end to end: the selector and the hand-written SQL agree, both timed.

The benchmark works in its own database (`<dbname>_bench`) and refuses to time two answers that differ; this
test asks pytest-django for nothing. About 5 s.
"""

from typing import Any

import pytest

from tests.bench.quick import last_json, run_bench


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return last_json(run_bench("availability", "--quick"))


def test_quick_run_prints_a_ratio_against_hand_written_sql(result: dict[str, Any]) -> None:
    assert result["bench"] == "availability"
    assert isinstance(result["ratio"], float)
    assert result["ratio"] > 0
    assert isinstance(result["baseline"], str)
    assert result["baseline"]
    assert result["project_ms"] > 0
    assert result["sql_ms"] > 0
    assert result["quick"] is True
    assert result["database"].endswith("_bench")


def test_it_asks_for_500_skus_at_every_location_in_two_queries(result: dict[str, Any]) -> None:
    assert result["skus"] == 500
    assert result["locations"] >= 4
    assert result["units_held_live"] > 0
    assert result["project_queries"] == 2


def test_the_ledger_of_the_bench_database_verifies(result: dict[str, Any]) -> None:
    assert result["stock_verify"] == "ok"
