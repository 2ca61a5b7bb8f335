"""`python -m bench pos_sale --quick` end to end: the order API under gunicorn against bare psycopg writes.

The benchmark works in its own database (`<dbname>_bench`), checks there that every sale answered wrote one
order and nothing else, and verifies the ledger; this test asks pytest-django for nothing. About 15 s.
"""

from typing import Any

import pytest

from tests.bench.quick import last_json, run_bench


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return last_json(run_bench("pos_sale", "--quick"))


def test_quick_run_prints_a_ratio_for_3_and_20_lines(result: dict[str, Any]) -> None:
    assert result["bench"] == "pos_sale"
    assert isinstance(result["ratio"], float)
    assert result["ratio"] > 0
    assert result["ratio_20"] > 0
    assert isinstance(result["baseline"], str)
    assert result["baseline"]
    assert set(result["lines"]) == {"3", "20"}
    for size in result["lines"].values():
        assert size["app_sales_per_s"] > 0
        assert size["bare_sales_per_s"] > 0
    assert result["quick"] is True
    assert result["database"].endswith("_bench")


def test_a_sale_costs_the_same_queries_at_3_and_20_lines(result: dict[str, Any]) -> None:
    assert result["queries_per_sale"] > 0
    assert result["queries_per_sale"] == result["queries_per_sale_20"]
    assert result["same_queries"] is True


def test_every_sale_answered_wrote_one_order_and_the_ledger_verifies(result: dict[str, Any]) -> None:
    assert result["errors"] == 0, result["first_error"]
    assert result["orders_match"] is True, (result["sales_answered"], result["orders_written"])
    assert result["units_match"] is True
    assert result["stock_verify"] == "ok"
