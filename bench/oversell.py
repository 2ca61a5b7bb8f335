"""oversell: many clients buying one hot SKU at one location, as a ratio to the same load over many SKUs.

Every client is a worker process with its own database connection, running the real services: POS sales
(`stock_sell` of one unit) and web checkouts (`stock_reserve`, then `reservation_consume`), half and half.
"hot" puts every client on one stock row, so they queue on its lock; "spread" sends the same clients with the
same mix to 1,000 SKUs at four locations, where they hardly ever meet. Both run in alternating rounds of one
run, so hot/spread says how much throughput the row lock costs, whatever the machine's speed. Then 64 clients
race for the last 10 units of a fresh SKU: exactly 10 must go, every other client must get InsufficientStock.

It runs in its own database (`<dbname>_bench`, see bench/stock_db.py) and ends with stock_verify on it.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import random
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench.load import alternating_order, die_with_parent, format_table, median, print_result
from bench.stock_db import (
    ACTOR,
    BenchDatabase,
    bench_database,
    ledger_check,
    locations_ensure,
    stock_top_up,
    variants_ensure,
)

NAME = "oversell"
BASELINE = "the same clients and mix of sales and checkouts spread over 1,000 SKUs x 4 locations, same run"
SPREAD_SKUS = 1000
LAST_UNITS = 10
LAST_CLIENTS = 64
# Topped up before the run so that no timed window runs short: a shortage would measure the error path.
HOT_STOCK, HOT_REFILL_BELOW = 1_000_000, 500_000
SPREAD_STOCK, SPREAD_REFILL_BELOW = 1_000, 500

StockKey = tuple[int, int]  # (variant_id, location_id)


@dataclass(frozen=True)
class Size:
    clients: int  # worker processes, each one connection
    warmup_s: float
    duration_s: float
    rounds: int  # per side; odd, so the median is a measured round


# Quick: about 15 s in all. Full: about 75 s. 24 clients on 2 cores keep a queue on the hot row's lock, and
# with the parent, 64 last-unit racers and the other users of a shared server stay well under 100 connections.
QUICK = Size(clients=24, warmup_s=0.5, duration_s=1.5, rounds=3)
FULL = Size(clients=24, warmup_s=3.0, duration_s=6.0, rounds=5)


# --- What the clients are told and what they answer ---------------------------------------------------------


@dataclass(frozen=True)
class LoadTask:
    """Buy one unit at a time from random keys, from start_at (time.monotonic, one clock for every process)
    for duration_s; only purchases that finish inside the window count."""

    keys: list[StockKey]
    start_at: float
    duration_s: float
    seed: int


@dataclass(frozen=True)
class RaceTask:
    """`threads` clients, each with its own connection, try once to buy one unit of this key at start_at."""

    key: StockKey
    start_at: float
    threads: int
    first_client: int  # clients with an even number sell at the POS, odd ones check out on the web


@dataclass
class Outcome:
    """What some clients did. `sold` counts POS sales, `checkouts` holds that were consumed."""

    sold: int = 0
    checkouts: int = 0
    reserved: int = 0  # holds made (a checkout's first step)
    insufficient: int = 0
    # An InsufficientStock that is not a 409 naming the SKU with 0 available: counted as an error.
    insufficient_wrong: int = 0
    errors: int = 0
    first_error: str = ""
    latencies_s: list[float] = field(default_factory=list)

    @property
    def purchases(self) -> int:
        return self.sold + self.checkouts

    def merge(self, other: Outcome) -> None:
        self.sold += other.sold
        self.checkouts += other.checkouts
        self.reserved += other.reserved
        self.insufficient += other.insufficient
        self.insufficient_wrong += other.insufficient_wrong
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.latencies_s += other.latencies_s

    def error(self, error: BaseException) -> None:
        self.errors += 1
        self.first_error = self.first_error or f"{type(error).__name__}: {error}"


# --- Clients (worker processes; Django is set up before the fork, no connection is open then) --------------


def client_main(index: int, pipe: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, after Ctrl-C too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    from django.db import connections

    try:
        while (task := pipe.recv()) is not None:
            if isinstance(task, LoadTask):
                pipe.send(load_run(index, task))
            else:
                pipe.send(race_run(task))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        connections.close_all()


def buy(variant: Any, location_id: int, web: bool, outcome: Outcome, reference: str) -> None:
    """One unit: a POS sale, or a web checkout (a hold, then the sale of the hold)."""
    from inventory.services import StockLine, reservation_consume, stock_reserve, stock_sell

    line = StockLine(variant, location_id, 1)
    if not web:
        stock_sell(lines=[line], actor=ACTOR, reference=reference)
        outcome.sold += 1
        return
    holds = stock_reserve(lines=[line], source="web_checkout", actor=ACTOR, reference=reference)
    outcome.reserved += 1
    reservation_consume(reservation_ids=[hold.pk for hold in holds], actor=ACTOR, reference=reference)
    outcome.checkouts += 1


# Each client's SKUs, loaded once (before its first window opens), not once per round.
VARIANTS: dict[int, Any] = {}


def load_run(index: int, task: LoadTask) -> Outcome:
    from django.db import connection

    from catalog.models import Variant
    from inventory.exceptions import InsufficientStock

    missing = {variant_id for variant_id, _ in task.keys} - VARIANTS.keys()
    if missing:
        VARIANTS.update(Variant.objects.in_bulk(missing))
    variants = VARIANTS
    connection.ensure_connection()
    rng = random.Random(task.seed * 1000 + index)
    outcome = Outcome()
    deadline = task.start_at + task.duration_s
    time.sleep(max(0.0, task.start_at - time.monotonic()))
    number = 0
    while True:
        variant_id, location_id = rng.choice(task.keys)
        number += 1
        attempt = Outcome()
        started = time.perf_counter()
        try:
            buy(
                variants[variant_id],
                location_id,
                (index + number) % 2 == 1,
                attempt,
                f"BENCH-{index}-{number}",
            )
        except InsufficientStock:
            attempt.insufficient += 1
        except Exception as error:
            attempt.error(error)
        finished = time.perf_counter()
        if time.monotonic() > deadline:
            return outcome
        attempt.latencies_s.append(finished - started)
        outcome.merge(attempt)


def race_run(task: RaceTask) -> Outcome:
    """The racers of this process: threads, each on its own connection, closed when the thread ends."""
    from django.db import connection, connections

    from catalog.models import Variant

    connections.close_all()  # our own connection waits idle meanwhile: give it back for the racers'
    variant = Variant.objects.get(pk=task.key[0])
    connection.close()
    outcomes = [Outcome() for _ in range(task.threads)]
    threads = [
        threading.Thread(target=race_client, args=(variant, task, task.first_client + number, outcome))
        for number, outcome in enumerate(outcomes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Outcome()
    for outcome in outcomes:
        total.merge(outcome)
    return total


def race_client(variant: Any, task: RaceTask, client: int, outcome: Outcome) -> None:
    from django.db import connection

    from inventory.exceptions import InsufficientStock

    try:
        connection.ensure_connection()
        time.sleep(max(0.0, task.start_at - time.monotonic()))
        try:
            buy(variant, task.key[1], client % 2 == 1, outcome, f"BENCH-LAST-{client}")
        except InsufficientStock as error:
            outcome.insufficient += 1
            items = error.extra.get("items") or [{}]
            if (
                error.http_status != 409
                or items[0].get("sku") != variant.sku
                or items[0].get("available") != 0
            ):
                outcome.insufficient_wrong += 1
    except Exception as error:
        outcome.error(error)
    finally:
        connection.close()


class Pool:
    """Worker processes forked once, fed tasks over pipes; a round is one task to each, started together."""

    def __init__(self, size: int) -> None:
        from django.db import connections

        connections.close_all()  # a forked child must never share the parent's socket
        context = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        for index in range(size):
            ours, theirs = context.Pipe()
            process = context.Process(target=client_main, args=(index, theirs), daemon=True)
            process.start()
            theirs.close()
            self.pipes.append(ours)
            self.processes.append(process)

    def run(self, tasks: Sequence[LoadTask | RaceTask]) -> Outcome:
        for pipe, task in zip(self.pipes, tasks, strict=True):
            pipe.send(task)
        total = Outcome()
        for pipe in self.pipes:
            try:
                total.merge(pipe.recv())
            except EOFError:
                raise RuntimeError("a client process died (see its traceback above)") from None
        return total

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)


@contextlib.contextmanager
def pool(size: int) -> Iterator[Pool]:
    workers = Pool(size)
    try:
        yield workers
    finally:
        workers.stop()


# --- The run ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    hot: StockKey
    spread: list[StockKey]
    last: StockKey
    last_sku: str


def shop_prepare() -> Shop:
    """The benchmark's SKUs, stocked so no timed window runs short, and a fresh SKU with its last units."""
    from inventory.services import ReceiveLine, stock_receive

    locations = locations_ensure()
    hot = variants_ensure("HOT", 1)[0]
    spread = variants_ensure("SPREAD", SPREAD_SKUS)
    stock_top_up(locations[0], {hot: HOT_STOCK}, below=HOT_REFILL_BELOW)
    for location in locations:
        stock_top_up(location, dict.fromkeys(spread, SPREAD_STOCK), below=SPREAD_REFILL_BELOW)
    last = variants_ensure(f"LAST{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(2).upper()}", 1)[0]
    stock_receive(
        location_id=locations[0].pk,
        lines=[ReceiveLine(last, LAST_UNITS, "50.00")],
        actor=ACTOR,
        reference="BENCH-LAST-UNITS",
    )
    return Shop(
        hot=(hot.pk, locations[0].pk),
        spread=[(variant.pk, location.pk) for variant in spread for location in locations],
        last=(last.pk, locations[0].pk),
        last_sku=last.sku,
    )


def load_round(workers: Pool, keys: list[StockKey], duration_s: float, seed: int) -> Outcome:
    start_at = time.monotonic() + 0.3  # every client has its SKUs loaded and its connection open by then
    return workers.run([LoadTask(keys, start_at, duration_s, seed) for _ in range(len(workers.pipes))])


def race(workers: Pool, key: StockKey) -> Outcome:
    """LAST_CLIENTS racers spread over the worker processes, all starting at the same instant."""
    size = len(workers.pipes)
    shares = [LAST_CLIENTS // size + (1 if index < LAST_CLIENTS % size else 0) for index in range(size)]
    firsts = [sum(shares[:index]) for index in range(size)]
    start_at = time.monotonic() + 1.0  # 64 connections to open first
    return workers.run(
        [RaceTask(key, start_at, threads, first) for threads, first in zip(shares, firsts, strict=True)]
    )


@dataclass
class Race:
    outcome: Outcome
    on_hand: int
    reserved: int
    lowest_on_hand_seen: int
    units_gone: int  # by the ledger: what left the shelf or is held
    oversold: int


def race_check(shop: Shop, outcome: Outcome) -> Race:
    """What the database says after the race, and what the clients say, must both be exactly LAST_UNITS."""
    from django.db.models import Min

    from inventory.models import StockLevel, StockMovement

    variant_id, location_id = shop.last
    level = StockLevel.objects.get(variant_id=variant_id, location_id=location_id)
    lowest = StockMovement.objects.filter(variant_id=variant_id, location_id=location_id).aggregate(
        lowest=Min("on_hand_after")
    )["lowest"]
    units_gone = LAST_UNITS - (level.on_hand - level.reserved)
    went = outcome.sold + outcome.reserved
    # Units promised or taken beyond the shelf: now (held beyond on-hand), or ever (the ledger's lowest).
    negative = max(0, level.reserved - level.on_hand, -(lowest or 0))
    oversold = max(0, went - LAST_UNITS, units_gone - LAST_UNITS) + negative
    return Race(outcome, level.on_hand, level.reserved, lowest or 0, units_gone, oversold)


def negative_stock() -> int:
    """Units promised or sold beyond what a benchmark row had, anywhere in the benchmark's SKUs."""
    from django.db.models import F, Q, Sum

    from inventory.models import StockLevel

    rows = StockLevel.objects.filter(variant__sku__startswith="BENCH-").filter(
        Q(on_hand__lt=0) | Q(on_hand__lt=F("reserved"))
    )
    return int(rows.aggregate(total=Sum(F("reserved") - F("on_hand")))["total"] or 0)


def run(*, quick: bool) -> int:
    size = QUICK if quick else FULL
    with bench_database() as database:
        shop = shop_prepare()
        rounds: dict[str, list[Outcome]] = {"hot": [], "spread": []}
        keys = {"hot": [shop.hot], "spread": shop.spread}
        with pool(size.clients) as workers:
            for side in rounds:
                load_round(workers, keys[side], size.warmup_s, seed=0)
            for round_index in range(size.rounds):
                for side in alternating_order(list(rounds), round_index):
                    rounds[side].append(
                        load_round(workers, keys[side], size.duration_s, seed=round_index + 1)
                    )
            last = race_check(shop, race(workers, shop.last))
        negative = negative_stock()
        verified, checked = ledger_check()
    rates = {
        side: [outcome.purchases / size.duration_s for outcome in outcomes]
        for side, outcomes in rounds.items()
    }
    hot, spread = median(rates["hot"]), median(rates["spread"])
    ratio = hot / spread if spread else 0.0
    errors = sum(outcome.errors for outcomes in rounds.values() for outcome in outcomes) + last.outcome.errors
    errors += last.outcome.insufficient_wrong
    # Stock never runs out in the timed windows: a shortage there means the top-up is wrong, not a race lost.
    short = sum(outcome.insufficient for outcomes in rounds.values() for outcome in outcomes)
    oversold = last.oversold + negative
    print_report(rounds, rates, ratio, size, last, shop, database, verified, checked)
    print_result(
        {
            "bench": NAME,
            "ratio": round(ratio, 4),
            "baseline": BASELINE,
            "hot_ops_per_s": round(hot, 1),
            "spread_ops_per_s": round(spread, 1),
            "hot_rounds": [round(rate, 1) for rate in rates["hot"]],
            "spread_rounds": [round(rate, 1) for rate in rates["spread"]],
            "hot_p50_ms": round(percentile_ms(rounds["hot"], 50), 2),
            "hot_p99_ms": round(percentile_ms(rounds["hot"], 99), 2),
            "spread_p50_ms": round(percentile_ms(rounds["spread"], 50), 2),
            "spread_p99_ms": round(percentile_ms(rounds["spread"], 99), 2),
            "mix": "half POS sales (stock_sell), half web checkouts (stock_reserve + reservation_consume)",
            "clients": size.clients,
            "duration_s": size.duration_s,
            "rounds": size.rounds,
            "oversold": oversold,
            "last_units": LAST_UNITS,
            "last_units_clients": LAST_CLIENTS,
            "last_units_sold": last.outcome.sold + last.outcome.reserved,
            "last_units_insufficient": last.outcome.insufficient,
            "short_in_timed_rounds": short,
            "errors": errors,
            "first_error": first_error(rounds, last),
            "stock_verify": verified,
            "stock_rows_checked": checked,
            "quick": quick,
            "database": database.name,
        }
    )
    went = last.outcome.sold + last.outcome.reserved
    failed = oversold or errors or short or verified != "ok" or went != LAST_UNITS or last.units_gone != went
    return 1 if failed or not hot or not spread else 0


def percentile_ms(outcomes: list[Outcome], q: float) -> float:
    """Nearest rank over every purchase of the given rounds."""
    latencies = sorted(latency for outcome in outcomes for latency in outcome.latencies_s)
    if not latencies:
        return math.nan
    return latencies[max(1, math.ceil(q / 100 * len(latencies))) - 1] * 1000


def first_error(rounds: dict[str, list[Outcome]], last: Race) -> str:
    for outcome in [*rounds["hot"], *rounds["spread"], last.outcome]:
        if outcome.first_error:
            return outcome.first_error
    return ""


def print_report(
    rounds: dict[str, list[Outcome]],
    rates: dict[str, list[float]],
    ratio: float,
    size: Size,
    last: Race,
    shop: Shop,
    database: BenchDatabase,
    verified: str | int,
    checked: int,
) -> None:
    print(
        f"{NAME}: {size.clients} client processes, half POS sales and half web checkouts of one unit; "
        f"hot = 1 SKU at 1 location, spread = {SPREAD_SKUS} SKUs x {len(shop.spread) // SPREAD_SKUS} "
        f"locations; {size.rounds} rounds x {size.duration_s:g} s each; database {database.name}"
    )
    rows: list[list[Any]] = []
    for side, outcomes in rounds.items():
        for index, outcome in enumerate(outcomes):
            rows.append(
                [
                    side,
                    str(index + 1),
                    rates[side][index],
                    outcome.sold,
                    outcome.checkouts,
                    percentile_ms([outcome], 50),
                    percentile_ms([outcome], 99),
                    outcome.errors,
                ]
            )
        rows.append(
            [
                side,
                "median",
                median(rates[side]),
                "",
                "",
                percentile_ms(outcomes, 50),
                percentile_ms(outcomes, 99),
                sum(o.errors for o in outcomes),
            ]
        )
    print(format_table(["side", "round", "buys/s", "sales", "checkouts", "p50 ms", "p99 ms", "errors"], rows))
    print(f"ratio hot/spread: {ratio:.3f}  (baseline: {BASELINE})")
    outcome = last.outcome
    print(
        f"last units: {LAST_CLIENTS} clients for {LAST_UNITS} units of {shop.last_sku}: {outcome.sold} sold "
        f"at the POS, {outcome.reserved} held on the web ({outcome.checkouts} checked out), "
        f"{outcome.insufficient} refused with InsufficientStock, {outcome.errors} other errors; row now "
        f"{last.on_hand} on hand, {last.reserved} reserved, lowest on-hand ever {last.lowest_on_hand_seen}; "
        f"oversold {last.oversold}"
    )
    print(f"stock_verify: {verified} ({checked} stock rows)")
    if outcome.first_error:
        print(f"first error: {outcome.first_error}", file=sys.stderr)
