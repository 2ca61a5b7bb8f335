"""`python -m bench http_floor --quick` end to end: both servers answer, the result is JSON, none outlives it.

No database: the ping endpoint and the bare WSGI app touch none, so this test asks pytest-django for nothing.
"""

import json
import subprocess

import psutil
import pytest

from tests.bench.quick import run_bench


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    """One run (about 12 s) shared by the tests that read its output."""
    return run_bench("http_floor", "--quick")


def test_quick_run_prints_a_ratio_as_its_last_line(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert quick_run.returncode == 0, quick_run.stderr
    result = json.loads(quick_run.stdout.strip().splitlines()[-1])
    assert result["bench"] == "http_floor"
    assert isinstance(result["ratio"], float)
    assert result["ratio"] > 0
    assert isinstance(result["baseline"], str)
    assert result["baseline"]
    assert result["errors"] == 0
    assert result["app_rps"] > 0
    assert result["bare_rps"] > 0


def test_no_server_outlives_the_run(quick_run: subprocess.CompletedProcess[str]) -> None:
    ports = json.loads(quick_run.stdout.strip().splitlines()[-1])["ports"]
    binds = {f"127.0.0.1:{port}" for port in ports.values()}
    survivors = [
        process.info["pid"]
        for process in psutil.process_iter(["pid", "cmdline"])
        if binds & set(process.info["cmdline"] or [])
    ]
    assert survivors == []


def test_unknown_benchmark_prints_usage_and_exits_2() -> None:
    completed = run_bench("no_such_bench")

    assert completed.returncode == 2
    assert "usage: python -m bench" in completed.stderr
