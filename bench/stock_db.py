"""Shared by the stock benchmarks: a database of their own, Django set up on it, and their own shop in it.

A benchmark never touches a shop's data: it works in `<dbname>_bench`, next to the database DATABASE_URL names
(created and migrated on first use), and only on locations and SKUs whose codes start with BENCH. On a machine
without DATABASE_URL it starts the embedded PostgreSQL, as `make run` does, and stops it on the way out.
Everything it writes goes through the stock services, so the ledger of the benchmark database always verifies.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from catalog.models import Variant
    from omo.models import Location

ACTOR = "bench"  # the label on every movement and hold the benchmarks make
PREFIX = "BENCH"
# Three branches and a warehouse, as in the demo shop; codes are at most 8 characters.
LOCATIONS = [
    ("BENCHCWB", "branch", "Bench Causeway Bay", "基準銅鑼灣"),
    ("BENCHMK", "branch", "Bench Mong Kok", "基準旺角"),
    ("BENCHTST", "branch", "Bench Tsim Sha Tsui", "基準尖沙咀"),
    ("BENCHKC", "warehouse", "Bench Kwai Chung", "基準葵涌"),
]
# Held while migrating, so two benchmarks started at once do not both create the tables.
MIGRATE_LOCK_KEY = 0x0B_E7C4


@dataclass(frozen=True)
class BenchDatabase:
    name: str  # the database the benchmark uses, for its JSON
    url: str  # for plain psycopg connections (a baseline's, say)


def bench_url(database_url: str) -> str:
    """The same server and credentials, database `<name>_bench`."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "omo"
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def database_create(url: str) -> None:
    """CREATE DATABASE when missing, from the server's `postgres` database (which always exists)."""
    name = database_name(url)
    with contextlib.suppress(psycopg.OperationalError), psycopg.connect(url):
        return  # it is there
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        pass  # another run was quicker
    except psycopg.Error as error:
        raise RuntimeError(f"cannot create the benchmark database {name}: {error}") from error


def django_configure(url: str, redis_url: str | None) -> None:
    """Production settings on the benchmark database: DEBUG off (no query log), a throwaway secret."""
    os.environ["DATABASE_URL"] = url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "omo.settings"
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)  # nothing signed here outlives the run
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
    try:
        call_command("migrate", interactive=False, verbosity=0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])


@contextlib.contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """Django set up on `<dbname>_bench` (created and migrated when needed); the embedded PostgreSQL when
    DATABASE_URL is unset, stopped on the way out."""
    from omo.devstack.services import services

    with services() as service_env:
        url = bench_url(service_env.get("DATABASE_URL") or os.environ["DATABASE_URL"])
        database_create(url)
        django_configure(url, service_env.get("REDIS_URL"))
        migrate()
        try:
            yield BenchDatabase(name=database_name(url), url=url)
        finally:
            from django.db import connections

            connections.close_all()  # before the embedded server stops


def locations_ensure() -> list[Location]:
    """The benchmark's own branches and warehouse, created once and reused by every run."""
    from omo.models import Location

    found = []
    for code, kind, name_en, name_zh_hant in LOCATIONS:
        location, _created = Location.objects.get_or_create(
            code=code, defaults={"kind": kind, "name_en": name_en, "name_zh_hant": name_zh_hant}
        )
        found.append(location)
    return found


def variants_ensure(group: str, count: int) -> list[Variant]:
    """`count` SKUs named BENCH-<group>-00001 ..., one product of five sizes per five SKUs; created once."""
    from catalog.models import Product, ProductStatus, Variant

    sizes = ["XS", "S", "M", "L", "XL"]
    skus = [f"{PREFIX}-{group}-{index:05d}" for index in range(1, count + 1)]
    existing = set(Variant.objects.filter(sku__in=skus).values_list("sku", flat=True))
    missing = [(index, sku) for index, sku in enumerate(skus) if sku not in existing]
    if missing:
        products: dict[int, Any] = {}
        for index, _sku in missing:
            number = index // len(sizes)
            if number not in products:
                products[number], _created = Product.objects.get_or_create(
                    handle=f"bench-{group.lower()}-{number:05d}",
                    defaults={
                        "name_en": f"Bench {group} {number}",
                        "name_zh_hant": f"基準{group}{number}",
                        "status": ProductStatus.ACTIVE,
                        "option_names": ["Size"],
                    },
                )
        Variant.objects.bulk_create(
            [
                Variant(
                    product=products[index // len(sizes)],
                    sku=sku,
                    option_values={"Size": sizes[index % len(sizes)]},
                    price=Decimal("100.00"),
                )
                for index, sku in missing
            ],
            ignore_conflicts=True,  # another run creating them at the same moment
        )
    by_sku = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    return [by_sku[sku] for sku in skus]


def stock_top_up(location: Location, targets: dict[Variant, int], *, below: int) -> int:
    """Receives enough of each SKU at the location to bring on-hand to its target where it is under `below`;
    through stock_receive, so the ledger records it. Returns how many SKUs were topped up."""
    from inventory.models import StockLevel
    from inventory.services import ReceiveLine, stock_receive

    on_hand = dict(
        StockLevel.objects.filter(location=location, variant__in=list(targets)).values_list(
            "variant_id", "on_hand"
        )
    )
    lines = [
        ReceiveLine(variant, target - on_hand.get(variant.pk, 0), "50.00")
        for variant, target in targets.items()
        if on_hand.get(variant.pk, 0) < below and target > on_hand.get(variant.pk, 0)
    ]
    if lines:
        stock_receive(location_id=location.pk, lines=lines, actor=ACTOR, reference="BENCH-TOP-UP")
    return len(lines)


def ledger_check() -> tuple[str | int, int]:
    """stock_verify over the whole benchmark database: ("ok" or the number of problems, rows checked)."""
    from inventory.selectors import stock_verify

    checked, problems = stock_verify()
    return ("ok" if not problems else len(problems)), checked
