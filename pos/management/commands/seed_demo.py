"""`manage.py seed_demo`: demo data for a Hong Kong retailer, layer by layer. Idempotent.

It lives in `pos`, the top layer, because it calls every app's demo seeding in dependency order: locations and
staff (`omo`), then the catalogue and stock (`inventory`), then members and orders (`orders`).
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory.demo import demo_catalogue_and_stock_seed
from inventory.selectors import stock_verify
from omo.demo import demo_locations_and_staff_seed
from omo.models import User
from orders.demo import demo_orders_seed


class Command(BaseCommand):
    help = (
        "Loads demo branches, a warehouse, staff with known logins and PINs, a bilingual catalogue with "
        "stock, staff holds and a transfer in transit (idempotent)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any user exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and User.objects.exists():
            self.stdout.write("Demo data: the database already has users; left as it is.")
            return
        with transaction.atomic():
            places = demo_locations_and_staff_seed()
            catalogue = demo_catalogue_and_stock_seed(places=places)
            orders = demo_orders_seed(places=places)
        checked, problems = stock_verify()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: {len(places.locations)} locations, {len(places.staff)} staff, "
                f"{catalogue.products} products ({catalogue.skus} SKUs), stock in {checked} rows, "
                f"{catalogue.holds} holds, {catalogue.transfers_in_transit} transfer in transit, "
                f"{orders.members} members, {orders.orders} orders, "
                f"{orders.pickup_points} lockers and pickup points."
            )
        )
        if problems:  # cannot happen through the services; said loudly if it ever does
            self.stderr.write(f"stock_verify found {len(problems)} problem(s): run manage.py stock_verify")
