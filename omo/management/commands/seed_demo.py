"""Demo data for a Hong Kong retailer. Idempotent: running it again leaves the same data."""

from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand
from django.db import transaction

from omo.models import Location, LocationKind, Role, User
from omo.services.accounts import user_pin_set

DEMO_PASSWORD = "demo1234"  # noqa: S105  (documented demo login)

LOCATIONS = [
    (
        "CWB",
        LocationKind.BRANCH,
        "Causeway Bay",
        "銅鑼灣",
        "Shop 12, 1/F, 500 Hennessy Road, Causeway Bay",
        "銅鑼灣軒尼詩道500號1樓12號舖",
        "+852 2890 1234",
    ),
    (
        "MK",
        LocationKind.BRANCH,
        "Mong Kok",
        "旺角",
        "Shop 8, G/F, 68 Sai Yeung Choi Street South, Mong Kok",
        "旺角西洋菜南街68號地下8號舖",
        "+852 2388 5678",
    ),
    (
        "TST",
        LocationKind.BRANCH,
        "Tsim Sha Tsui",
        "尖沙咀",
        "Shop 3, 2/F, 100 Nathan Road, Tsim Sha Tsui",
        "尖沙咀彌敦道100號2樓3號舖",
        "+852 2366 9012",
    ),
    (
        "KC",
        LocationKind.WAREHOUSE,
        "Kwai Chung Warehouse",
        "葵涌倉",
        "Unit 15, 9/F, 30 Kwai Fung Crescent, Kwai Chung",
        "葵涌葵豐街30號9樓15室",
        "+852 2420 3456",
    ),
]

# username, role, first name, last name, branch codes (empty: every branch), PIN
STAFF = [
    ("owner", Role.OWNER, "Mandy", "陳", [], "1111"),
    ("manager", Role.MANAGER, "Ken", "李", ["CWB", "MK"], "2222"),
    ("cwb-cashier", Role.CASHIER, "Carmen", "黃", ["CWB"], "3333"),
    ("mk-cashier", Role.CASHIER, "Michael", "張", ["MK"], "4444"),
    ("tst-cashier", Role.CASHIER, "Tiffany", "何", ["TST"], "5555"),
    ("kc-staff", Role.CASHIER, "Kelvin", "林", ["KC"], "6666"),
]


class Command(BaseCommand):
    help = "Loads demo branches, a warehouse and staff with known logins and PINs (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any user exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and User.objects.exists():
            self.stdout.write("Demo data: the database already has users; left as it is.")
            return
        with transaction.atomic():
            self.seed()
        self.stdout.write(self.style.SUCCESS("Demo data loaded: 3 branches, 1 warehouse, 6 staff."))

    def seed(self) -> None:
        locations = {}
        for code, kind, name_en, name_zh, address_en, address_zh, phone in LOCATIONS:
            locations[code], _ = Location.objects.update_or_create(
                code=code,
                defaults={
                    "kind": kind,
                    "name_en": name_en,
                    "name_zh_hant": name_zh,
                    "address_en": address_en,
                    "address_zh_hant": address_zh,
                    "phone": phone,
                    "is_active": True,
                },
            )
        for username, role, first, last, codes, pin in STAFF:
            user, created = User.objects.update_or_create(
                username=username,
                defaults={
                    "role": role,
                    "first_name": first,
                    "last_name": last,
                    "is_active": True,
                    "is_staff": role in (Role.OWNER, Role.MANAGER),
                    "is_superuser": role == Role.OWNER,
                },
            )
            if created or not user.check_password(DEMO_PASSWORD):
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.branches.set([locations[c] for c in codes] if codes else locations.values())
            if not check_password(pin, user.pin_hash):
                user_pin_set(user=user, pin=pin, actor="seed_demo")
