"""http_floor: the cheapest request the project serves, as a ratio to a bare WSGI app under the same gunicorn.

GET /api/v1/ping/ touches neither database nor cache, so its cost is Django's: middleware, URL resolution,
DRF's request, negotiation and rendering; bench/hello_wsgi.py answers the same body with none of that. Both
run under the same gunicorn settings and take the same load from the same client, in alternating rounds of one
run, so the ratio app/bare says how much of the HTTP floor the framework leaves, whatever the machine's speed.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from typing import Any

from bench.load import (
    GunicornSettings,
    LoadResult,
    Server,
    alternating_order,
    django_environment,
    encode_request,
    format_table,
    gunicorn_server,
    median,
    print_result,
    run_load,
)

NAME = "http_floor"
BASELINE = "bare WSGI hello-world under gunicorn, same settings and load"
PATH = "/api/v1/ping/"
APPS = {"bare": "bench.hello_wsgi", "app": "omo.wsgi"}


@dataclass(frozen=True)
class Size:
    concurrency: int
    warmup_s: float
    duration_s: float
    rounds: int  # per side; odd, so the median is a measured round


# Quick: about 12 s in all. Full: about 75 s; longer windows and more rounds steady the median.
QUICK = Size(concurrency=8, warmup_s=1.0, duration_s=1.5, rounds=3)
FULL = Size(concurrency=8, warmup_s=3.0, duration_s=8.0, rounds=5)


@dataclass(frozen=True)
class Summary:
    """One side's figures: the median over its rounds of each, and every error."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_error: str
    rounds_rps: list[float]


def run(*, quick: bool) -> int:
    size = QUICK if quick else FULL
    settings = GunicornSettings()
    with contextlib.ExitStack() as stack:
        servers = {
            "bare": stack.enter_context(gunicorn_server(APPS["bare"], settings=settings, ready_path=PATH)),
            "app": stack.enter_context(
                gunicorn_server(APPS["app"], settings=settings, ready_path=PATH, env=django_environment())
            ),
        }
        check_pong(servers["app"])
        results = measure(servers, size)
    summaries = {side: summarize(rounds) for side, rounds in results.items()}
    ratio = summaries["app"].rps / summaries["bare"].rps if summaries["bare"].rps else 0.0
    print_report(results, summaries, ratio, size, settings)
    print_result(result_json(summaries, ratio, size, settings, quick, servers))
    return exit_code(summaries)


def check_pong(server: Server) -> None:
    """Make sure we measure the endpoint itself, not a redirect or an error page that happens to be 2xx."""
    try:
        answer = json.loads(server.ready_body)
    except ValueError:
        answer = None
    if answer != {"pong": True}:
        raise RuntimeError(f"GET {PATH} answered {server.ready_body[:200]!r}, expected {{'pong': true}}")


def measure(servers: dict[str, Server], size: Size) -> dict[str, list[LoadResult]]:
    """Warm both sides up, then alternate timed rounds, so drift on a shared machine touches both alike."""
    requests = {
        side: encode_request("GET", PATH, server.port, {"Accept": "application/json"})
        for side, server in servers.items()
    }
    for side, server in servers.items():
        # Warm-up: both workers have booted and imported everything, caches and connections are hot.
        run_load(server.port, requests[side], concurrency=size.concurrency, duration_s=size.warmup_s)
    results: dict[str, list[LoadResult]] = {side: [] for side in servers}
    for round_index in range(size.rounds):
        for side in alternating_order(list(servers), round_index):
            result = run_load(
                servers[side].port, requests[side], concurrency=size.concurrency, duration_s=size.duration_s
            )
            results[side].append(result)
    return results


def summarize(rounds: list[LoadResult]) -> Summary:
    return Summary(
        rps=median([result.rps for result in rounds]),
        p50_ms=median([result.percentile_ms(50) for result in rounds]),
        p99_ms=median([result.percentile_ms(99) for result in rounds]),
        errors=sum(result.errors for result in rounds),
        first_error=next((result.first_error for result in rounds if result.first_error), ""),
        rounds_rps=[result.rps for result in rounds],
    )


def print_report(
    results: dict[str, list[LoadResult]],
    summaries: dict[str, Summary],
    ratio: float,
    size: Size,
    settings: GunicornSettings,
) -> None:
    print(
        f"{NAME}: GET {PATH} on {APPS['app']} vs {APPS['bare']}; gunicorn {settings.workers} workers x "
        f"{settings.threads} threads ({settings.worker_class}); {size.concurrency} keep-alive clients; "
        f"{size.rounds} rounds x {size.duration_s:g} s each"
    )
    rows: list[list[Any]] = []
    for side, rounds in results.items():
        for index, result in enumerate(rounds, start=1):
            rows.append(
                [
                    side,
                    str(index),
                    result.rps,
                    result.percentile_ms(50),
                    result.percentile_ms(99),
                    result.errors,
                ]
            )
    for side, summary in summaries.items():
        rows.append([side, "median", summary.rps, summary.p50_ms, summary.p99_ms, summary.errors])
    print(format_table(["server", "round", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    print(f"ratio app/bare: {ratio:.3f}  (baseline: {BASELINE})")
    for side, summary in summaries.items():
        if summary.errors:
            print(f"{side}: {summary.errors} errors, first: {summary.first_error}", file=sys.stderr)


def result_json(
    summaries: dict[str, Summary],
    ratio: float,
    size: Size,
    settings: GunicornSettings,
    quick: bool,
    servers: dict[str, Server],
) -> dict[str, Any]:
    app, bare = summaries["app"], summaries["bare"]
    return {
        "bench": NAME,
        "ratio": round(ratio, 4),
        "baseline": BASELINE,
        "path": PATH,
        "app_rps": round(app.rps, 1),
        "bare_rps": round(bare.rps, 1),
        "app_p50_ms": round(app.p50_ms, 3),
        "app_p99_ms": round(app.p99_ms, 3),
        "bare_p50_ms": round(bare.p50_ms, 3),
        "bare_p99_ms": round(bare.p99_ms, 3),
        "app_rps_rounds": [round(rps, 1) for rps in app.rounds_rps],
        "bare_rps_rounds": [round(rps, 1) for rps in bare.rounds_rps],
        "concurrency": size.concurrency,
        "duration_s": size.duration_s,
        "rounds": size.rounds,
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": settings.worker_class,
        "errors": app.errors + bare.errors,
        "app_errors": app.errors,
        "bare_errors": bare.errors,
        "quick": quick,
        # The ports let a test check that no server outlived the run.
        "ports": {side: server.port for side, server in servers.items()},
    }


def exit_code(summaries: dict[str, Summary]) -> int:
    """Errors are reported; a side with no successful request at all makes the ratio meaningless: fail."""
    return 1 if any(summary.rps == 0 for summary in summaries.values()) else 0
