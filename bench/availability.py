"""availability: 500 SKUs at every location through the project's selector, as a ratio to hand-written SQL.

The project side is `inventory.selectors.availability_batch`, the whole answer a product list or the API asks
for: per SKU, per active location, on-hand, reserved by live holds and available. The baseline is one SQL
query written by hand for the same answer, sent through a plain psycopg connection to the same database and
turned into the same Python structure. Both answers are checked equal before anything is timed; then the two
sides alternate, call by call, and the ratio is the project's median time over the baseline's.

The data is the benchmark's own (bench/stock_db.py): 500 SKUs at three branches and a warehouse, some
(SKU, location) rows missing, live holds, and holds past their time that no expiry task has swept yet.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from bench.load import format_table, print_result
from bench.stock_db import (
    ACTOR,
    BenchDatabase,
    bench_database,
    ledger_check,
    locations_ensure,
    stock_top_up,
    variants_ensure,
)

NAME = "availability"
BASELINE = "one hand-written SQL query over a plain psycopg connection, same database, same answer"
SKUS = 500
LIVE_HOLDS = 400
EXPIRED_HOLDS = 250

Answer = dict[int, dict[str, dict[str, int]]]

# The same answer as availability_batch: every active location for every SKU (zero where there is no row),
# `reserved` counting live holds only, and units of holds past their time free at once.
SQL = """
SELECT v.id, l.code,
       COALESCE(s.on_hand, 0),
       COALESCE(s.reserved - COALESCE(x.expired, 0), 0),
       COALESCE(s.on_hand - s.reserved + COALESCE(x.expired, 0), 0)
FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS v(id, position)
CROSS JOIN omo_location l
LEFT JOIN inventory_stocklevel s ON s.variant_id = v.id AND s.location_id = l.id
LEFT JOIN (
    SELECT variant_id, location_id, SUM(qty) AS expired
    FROM inventory_reservation
    WHERE status = 'active' AND expires_at <= now() AND variant_id = ANY(%(ids)s::bigint[])
    GROUP BY variant_id, location_id
) x ON x.variant_id = v.id AND x.location_id = l.id
WHERE l.is_active
ORDER BY v.position, l.kind, l.code
"""


@dataclass(frozen=True)
class Size:
    warmup: int  # calls per side before timing
    repetitions: int  # timed calls per side, alternating


# Quick: about 10 s in all, most of it setting up. Full: about 30 s.
QUICK = Size(warmup=5, repetitions=40)
FULL = Size(warmup=20, repetitions=400)


def baseline_answer(connection: psycopg.Connection[Any], ids: list[int]) -> Answer:
    answer: Answer = {}
    for variant_id, code, on_hand, reserved, available in connection.execute(SQL, {"ids": ids}):
        answer.setdefault(variant_id, {})[code] = {
            "on_hand": on_hand,
            "reserved": reserved,
            "available": available,
        }
    return answer


def project_answer(ids: list[int]) -> Answer:
    from inventory.selectors import availability_batch

    return availability_batch(ids)


def shop_prepare() -> list[int]:
    """500 SKUs stocked at most locations (about one row in seven missing), with this run's holds: live ones
    and ones past their time, not swept. Holds of earlier runs are released first, through the service."""
    from django.utils import timezone

    from inventory.models import Reservation, ReservationStatus
    from inventory.services import StockLine, reservation_release, stock_reserve

    locations = locations_ensure()
    variants = variants_ensure("AVAIL", SKUS)
    for place, location in enumerate(locations):
        stocked = {
            variant: 5 + (index * 7 + place * 3) % 40
            for index, variant in enumerate(variants)
            if (index + place) % 7  # the rest have no row here at all
        }
        stock_top_up(location, stocked, below=1)
    earlier = list(
        Reservation.objects.filter(variant__in=variants, status=ReservationStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    if earlier:
        reservation_release(reservation_ids=earlier, actor=ACTOR, reason="bench: next run")
    rng = random.Random(SKUS)
    pairs = [
        (variant, location)
        for index, variant in enumerate(variants)
        for place, location in enumerate(locations)
        if (index + place) % 7
    ]
    chosen = rng.sample(pairs, LIVE_HOLDS + EXPIRED_HOLDS)
    for source, part in (
        ("staff_hold", chosen[:LIVE_HOLDS]),
        ("web_checkout", chosen[LIVE_HOLDS:]),
    ):
        stock_reserve(
            lines=[StockLine(variant, location.pk, 1 + rng.randrange(2)) for variant, location in part],
            source=source,
            actor=ACTOR,
            reference="BENCH-AVAIL",
        )
    expired = Reservation.objects.filter(
        variant__in=variants, source="web_checkout", status=ReservationStatus.ACTIVE
    )
    # Past its time but not swept: what the expiry task would find on its next run.
    expired.update(expires_at=timezone.now() - timedelta(minutes=5))
    return [variant.pk for variant in variants]


def statistics_refresh() -> None:
    """ANALYZE the tables both sides read, as autovacuum does on a live database after this many changes; a
    fresh benchmark database has no statistics yet, and both sides' plans would be guesses."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE omo_location, inventory_stocklevel, inventory_reservation")


def project_queries(ids: list[int]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        project_answer(ids)
    return len(captured.captured_queries)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(sides: dict[str, Callable[[], object]], size: Size) -> dict[str, list[float]]:
    """Warm both up, then alternate call by call (A B, B A, ...), so drift touches both alike. The garbage
    collector runs between calls, not inside one."""
    for _ in range(size.warmup):
        for call in sides.values():
            call()
    times: dict[str, list[float]] = {side: [] for side in sides}
    names = list(sides)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for index in range(size.repetitions):
            for side in names if index % 2 == 0 else reversed(names):
                times[side].append(timed(sides[side]))
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def run(*, quick: bool) -> int:
    size = QUICK if quick else FULL
    with bench_database() as database:
        ids = shop_prepare()
        statistics_refresh()
        # prepare_threshold=None: psycopg would otherwise prepare the query after five runs, and PostgreSQL's
        # generic plan for an unknown array of ids is several times slower (and JIT-compiled): the baseline
        # would be slowed down by its driver, not by anything the SQL asks for.
        with psycopg.connect(database.url, autocommit=True, prepare_threshold=None) as baseline_connection:
            ours, theirs = project_answer(ids), baseline_answer(baseline_connection, ids)
            if ours != theirs:
                raise RuntimeError(f"the selector and the SQL disagree: {answer_difference(ours, theirs)}")
            queries = project_queries(ids)
            times = measure(
                {
                    "project": lambda: project_answer(ids),
                    "sql": lambda: baseline_answer(baseline_connection, ids),
                },
                size,
            )
        held = sum(cell["reserved"] for cells in ours.values() for cell in cells.values())
        rows = sum(1 for cells in ours.values() for cell in cells.values() if cell["on_hand"])
        verified, checked = ledger_check()
    project, sql = statistics.median(times["project"]), statistics.median(times["sql"])
    ratio = project / sql if sql else 0.0
    print_report(times, ratio, size, database, ours, queries)
    print_result(
        {
            "bench": NAME,
            "ratio": round(ratio, 4),
            "baseline": BASELINE,
            "project": "inventory.selectors.availability_batch",
            "project_ms": round(project * 1000, 3),
            "sql_ms": round(sql * 1000, 3),
            "project_p90_ms": round(quantile_ms(times["project"], 0.9), 3),
            "sql_p90_ms": round(quantile_ms(times["sql"], 0.9), 3),
            "project_queries": queries,
            "skus": len(ids),
            "locations": len(next(iter(ours.values()))),
            "stock_rows": rows,
            "units_held_live": held,
            "repetitions": size.repetitions,
            "stock_verify": verified,
            "stock_rows_checked": checked,
            "quick": quick,
            "database": database.name,
        }
    )
    return 0 if verified == "ok" else 1


def quantile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def answer_difference(ours: Answer, theirs: Answer) -> str:
    if ours.keys() != theirs.keys():
        return f"SKUs {sorted(ours.keys() ^ theirs.keys())[:5]}"
    for variant_id, cells in ours.items():
        if cells != theirs[variant_id]:
            return f"variant {variant_id}: selector {cells}, SQL {theirs[variant_id]}"
    return "none"


def print_report(
    times: dict[str, list[float]],
    ratio: float,
    size: Size,
    database: BenchDatabase,
    answer: Answer,
    queries: int,
) -> None:
    locations = ", ".join(next(iter(answer.values())))
    print(
        f"{NAME}: availability of {len(answer)} SKUs at {locations}; {size.repetitions} alternating calls "
        f"per side after {size.warmup} warm-up calls; database {database.name}"
    )
    rows = [
        [
            side,
            statistics.median(values) * 1000,
            min(values) * 1000,
            quantile_ms(values, 0.9),
            len(values),
        ]
        for side, values in times.items()
    ]
    print(format_table(["side", "median ms", "min ms", "p90 ms", "calls"], rows))
    print(f"ratio project/sql: {ratio:.3f}  (baseline: {BASELINE}); availability_batch: {queries} queries")
