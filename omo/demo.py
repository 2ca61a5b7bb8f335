"""Demo branches, a warehouse and staff for a Hong Kong retailer, with known logins and PINs.

Idempotent: running it again leaves the same data (and writes no new audit rows). The apps above add their own
demo data on top (`inventory.demo`); `pos`'s `seed_demo` command runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import check_password
from django.db import transaction

from omo.models import Location, LocationKind, Role, User
from omo.services.accounts import user_pin_set

DEMO_PASSWORD = "demo1234"  # noqa: S105  (documented demo login)

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hours(weekdays: str, saturday: str, sunday: str, *, friday: str | None = None) -> dict[str, str]:
    """Opening hours for every day ("" is closed), in the format Location.opening_hours keeps."""
    week = dict.fromkeys(WEEK[:5], weekdays)
    if friday is not None:
        week["fri"] = friday
    return {**week, "sat": saturday, "sun": sunday}


@dataclass(frozen=True)
class DemoLocation:
    code: str
    kind: str
    name_en: str
    name_zh_hant: str
    address_en: str
    address_zh_hant: str
    phone: str
    opening_hours: dict[str, str]
    is_pickup_point: bool
    ships_orders: bool


LOCATIONS = [
    # Causeway Bay is the flagship and has a stock room big enough to pack web orders too.
    DemoLocation(
        "CWB",
        LocationKind.BRANCH,
        "Causeway Bay",
        "銅鑼灣",
        "Shop 12, 1/F, 500 Hennessy Road, Causeway Bay",
        "銅鑼灣軒尼詩道500號1樓12號舖",
        "+852 2890 1234",
        hours("11:00-22:00", "11:00-22:30", "11:00-22:00", friday="11:00-22:30"),
        is_pickup_point=True,
        ships_orders=True,
    ),
    DemoLocation(
        "MK",
        LocationKind.BRANCH,
        "Mong Kok",
        "旺角",
        "Shop 8, G/F, 68 Sai Yeung Choi Street South, Mong Kok",
        "旺角西洋菜南街68號地下8號舖",
        "+852 2388 5678",
        hours("12:00-22:30", "11:00-23:00", "11:00-22:30", friday="12:00-23:00"),
        is_pickup_point=True,
        ships_orders=False,
    ),
    DemoLocation(
        "TST",
        LocationKind.BRANCH,
        "Tsim Sha Tsui",
        "尖沙咀",
        "Shop 3, 2/F, 100 Nathan Road, Tsim Sha Tsui",
        "尖沙咀彌敦道100號2樓3號舖",
        "+852 2366 9012",
        hours("11:00-21:30", "11:00-22:00", "11:00-21:00"),
        is_pickup_point=True,
        ships_orders=False,
    ),
    # The warehouse packs web orders; customers do not come here.
    DemoLocation(
        "KC",
        LocationKind.WAREHOUSE,
        "Kwai Chung Warehouse",
        "葵涌倉",
        "Unit 15, 9/F, 30 Kwai Fung Crescent, Kwai Chung",
        "葵涌葵豐街30號9樓15室",
        "+852 2420 3456",
        hours("09:00-18:00", "09:00-13:00", ""),
        is_pickup_point=False,
        ships_orders=True,
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


@dataclass(frozen=True)
class DemoPlaces:
    """What the layers above need to add their demo data: locations and staff by code and username."""

    locations: dict[str, Location]
    staff: dict[str, User]


@transaction.atomic
def demo_locations_and_staff_seed(*, actor: str = "seed_demo") -> DemoPlaces:
    """Creates or refreshes the demo locations and staff (password `demo1234`, PINs as in the README).

    A PIN is set (and audited) only when it differs, so a second run writes nothing new.
    """
    locations: dict[str, Location] = {}
    for place in LOCATIONS:
        locations[place.code], _ = Location.objects.update_or_create(
            code=place.code,
            defaults={
                "kind": place.kind,
                "name_en": place.name_en,
                "name_zh_hant": place.name_zh_hant,
                "address_en": place.address_en,
                "address_zh_hant": place.address_zh_hant,
                "phone": place.phone,
                "opening_hours": place.opening_hours,
                "is_pickup_point": place.is_pickup_point,
                "ships_orders": place.ships_orders,
                "is_active": True,
            },
        )
    staff: dict[str, User] = {}
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
            user_pin_set(user=user, pin=pin, actor=actor)
        staff[username] = user
    return DemoPlaces(locations=locations, staff=staff)
