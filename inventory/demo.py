"""Demo catalogue and stock for a Hong Kong shop: clothing, skincare and home goods in both languages,
stock in every location, reorder points, a few staff holds, a web-checkout hold and a transfer in transit.

Everything goes through the services, so it is validated, audited and in the ledger (`stock_verify` passes).
Idempotent: each step is guarded by a stable key (a product's handle, the "DEMO-OPENING" receipt reference, a
hold's reference, the transfer's note), so a second run adds nothing: no second receipt, no duplicate holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import Brand, Category, Product, Variant
from catalog.services import category_create, product_create
from inventory.models import Reservation, ReservationSource, StockLevel, StockMovement, Transfer
from inventory.services import (
    ReceiveLine,
    StockLine,
    TransferItem,
    stock_receive,
    stock_reorder_set,
    stock_reserve,
    transfer_approve,
    transfer_request,
    transfer_ship,
)
from omo.demo import DemoPlaces
from omo.models import User

OPENING_REFERENCE = "DEMO-OPENING"
TRANSFER_NOTE = "旺角週末補貨 Weekend restock for Mong Kok [DEMO-TRANSFER]"
# GS1 prefix 489 is Hong Kong's; the company number is made up.
BARCODE_PREFIX = "4896789"


def ean13(first_twelve: str) -> str:
    """Appends the EAN-13 check digit: weights 1 and 3 from the left, the digit tops the sum up to a ten."""
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return first_twelve + str((10 - total % 10) % 10)


# --- The catalogue ------------------------------------------------------------------------------------------

# (English, Chinese) per node, parent first.
CATEGORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "dresses": (("Clothing", "服裝"), ("Dresses", "連身裙")),
    "tops": (("Clothing", "服裝"), ("Tops", "上衣")),
    "knitwear": (("Clothing", "服裝"), ("Knitwear", "針織及外套")),
    "bottoms": (("Clothing", "服裝"), ("Trousers & Skirts", "褲及半身裙")),
    "serums": (("Skincare", "護膚"), ("Serums", "精華")),
    "sun": (("Skincare", "護膚"), ("Sun Care", "防曬")),
    "cleansers": (("Skincare", "護膚"), ("Cleansers", "潔面")),
    "masks": (("Skincare", "護膚"), ("Masks", "面膜")),
    "fragrance": (("Home", "家品"), ("Home Fragrance", "香薰")),
    "tableware": (("Home", "家品"), ("Tableware", "餐具")),
    "textiles": (("Home", "家品"), ("Textiles", "布藝")),
    "storage": (("Home", "家品"), ("Storage", "收納")),
}

BRANDS = {
    "bloom": ("Bloom & Co.", "花漾"),
    "linen": ("Harbour Linen", "港麻"),
    "mist": ("Mist Lab", "霧研"),
    "kiln": ("Kowloon Kiln", "九龍窯"),
    "lantern": ("Lantern Home", "燈籠家品"),
}


@dataclass(frozen=True)
class DemoVariant:
    sku: str
    options: dict[str, str]
    price: str
    cost: str
    compare_at: str | None = None
    weight_grams: int | None = None
    channel_prices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoProduct:
    handle: str
    name_en: str
    name_zh_hant: str
    description_en: str
    description_zh_hant: str
    category: str | None
    brand: str | None
    tags: tuple[str, ...]
    option_names: tuple[str, ...]
    variants: tuple[DemoVariant, ...]
    track_inventory: bool = True
    visible_web: bool = True


SIZES = ("S", "M", "L")


def grid(
    prefix: str,
    sizes: tuple[str, ...],
    colours: tuple[tuple[str, str], ...],
    *,
    price: str,
    cost: str,
    compare_at: str | None = None,
    weight_grams: int | None = None,
    channel_prices: dict[str, dict[str, str]] | None = None,
) -> tuple[DemoVariant, ...]:
    """Every size in every colour; colours are (code, "中文 English")."""
    return tuple(
        DemoVariant(
            sku=f"{prefix}-{size}-{code}",
            options={"Size": size, "Colour": colour},
            price=price,
            cost=cost,
            compare_at=compare_at,
            weight_grams=weight_grams,
            channel_prices=(channel_prices or {}).get(f"{prefix}-{size}-{code}", {}),
        )
        for size in sizes
        for code, colour in colours
    )


def one_option(
    prefix: str, option: str, values: tuple[tuple[str, str, str, str], ...], **extra: Any
) -> tuple[DemoVariant, ...]:
    """One option; values are (code, value, price, cost)."""
    return tuple(
        DemoVariant(sku=f"{prefix}-{code}", options={option: value}, price=price, cost=cost, **extra)
        for code, value, price, cost in values
    )


PRODUCTS = (
    DemoProduct(
        "floral-wrap-dress",
        "Floral Wrap Dress",
        "碎花連身裙",
        "A light chiffon wrap dress with a small floral print; ties at the waist. Hand wash cold.",
        "輕盈雪紡碎花裹身裙，腰間綁帶修身。建議冷水手洗。",
        "dresses",
        "bloom",
        ("新品 New", "夏日 Summer"),
        ("Size", "Colour"),
        grid(
            "DRS-001",
            SIZES,
            (("NV", "藏青 Navy"), ("BL", "粉紅 Blush")),
            price="399.00",
            compare_at="499.00",
            cost="135.00",
            weight_grams=320,
            channel_prices={"DRS-001-M-BL": {"web": "379.00"}},
        ),
    ),
    DemoProduct(
        "linen-shirt",
        "Linen Shirt",
        "亞麻恤衫",
        "A relaxed shirt in washed linen that keeps cool in Hong Kong summers.",
        "水洗亞麻寬鬆恤衫，香港夏天都清爽透氣。",
        "tops",
        "linen",
        ("亞麻 Linen", "夏日 Summer"),
        ("Size", "Colour"),
        grid(
            "SHT-001",
            (*SIZES, "XL"),
            (("WH", "白 White"), ("SG", "鼠尾草綠 Sage")),
            price="329.00",
            cost="105.00",
            weight_grams=250,
        ),
    ),
    DemoProduct(
        "knit-cardigan",
        "Knit Cardigan",
        "針織開胸衫",
        "A soft cotton-blend cardigan for air-conditioned offices and MTR rides.",
        "柔軟棉混紡針織開胸衫，冷氣辦公室同搭港鐵必備。",
        "knitwear",
        "bloom",
        ("辦公室 Office",),
        ("Size", "Colour"),
        grid(
            "KNT-002",
            SIZES,
            (("OT", "燕麥 Oat"), ("CH", "炭灰 Charcoal")),
            price="459.00",
            compare_at="559.00",
            cost="160.00",
            weight_grams=380,
        ),
    ),
    DemoProduct(
        "wide-leg-trousers",
        "High-waist Wide-leg Trousers",
        "高腰闊腳褲",
        "High-waisted trousers with a wide leg and pressed creases; pockets at the side.",
        "高腰闊腳西褲，前幅壓褶，兩側有袋。",
        "bottoms",
        "linen",
        ("辦公室 Office",),
        ("Size", "Colour"),
        grid(
            "TRS-003",
            SIZES,
            (("BK", "黑 Black"), ("BG", "米 Beige")),
            price="359.00",
            cost="120.00",
            weight_grams=420,
        ),
    ),
    DemoProduct(
        "striped-tee",
        "Striped Tee",
        "條紋T恤",
        "A Breton-striped tee in heavy cotton jersey.",
        "厚身純棉條紋T恤，百搭經典。",
        "tops",
        "bloom",
        ("熱賣 Bestseller",),
        ("Size", "Colour"),
        grid(
            "TEE-004",
            SIZES,
            (("NS", "藏青間條 Navy Stripe"), ("RS", "紅間條 Red Stripe")),
            price="159.00",
            compare_at="199.00",
            cost="45.00",
            weight_grams=210,
        ),
    ),
    DemoProduct(
        "pleated-midi-skirt",
        "Pleated Midi Skirt",
        "百褶半身裙",
        "A flowing pleated midi skirt in olive, with an elastic waist.",
        "橄欖綠百褶中長半身裙，橡筋腰頭。",
        "bottoms",
        "bloom",
        ("新品 New",),
        ("Size",),
        one_option(
            "SKT-005",
            "Size",
            (("S", "S", "289.00", "95.00"), ("M", "M", "289.00", "95.00"), ("L", "L", "289.00", "95.00")),
            weight_grams=300,
        ),
    ),
    DemoProduct(
        "hydrating-serum",
        "Hydrating Serum",
        "保濕精華",
        "A hyaluronic-acid serum for dry, air-conditioned skin. Fragrance free.",
        "透明質酸保濕精華，冷氣房乾燥肌膚適用。無香料。",
        "serums",
        "mist",
        ("熱賣 Bestseller", "保濕 Hydrating"),
        ("Size",),
        (
            DemoVariant("SER-HYD-30", {"Size": "30ml"}, "298.00", "90.00", weight_grams=90),
            DemoVariant(
                "SER-HYD-50", {"Size": "50ml"}, "428.00", "125.00", compare_at="468.00", weight_grams=130
            ),
        ),
    ),
    DemoProduct(
        "spf50-sunscreen",
        "SPF50 Sunscreen",
        "防曬乳",
        "A light SPF50 PA++++ sunscreen that leaves no white cast; water resistant.",
        "SPF50 PA++++ 輕透防曬乳，唔泛白，防水配方。",
        "sun",
        "mist",
        ("夏日 Summer",),
        ("Size",),
        (
            DemoVariant(
                "SUN-SPF50-50",
                {"Size": "50ml"},
                "168.00",
                "48.00",
                weight_grams=80,
                channel_prices={"web": "158.00"},
            ),
            DemoVariant("SUN-SPF50-100", {"Size": "100ml"}, "268.00", "72.00", weight_grams=140),
        ),
    ),
    DemoProduct(
        "gentle-cleanser",
        "Gentle Cleanser 150ml",
        "溫和潔面乳 150ml",
        "A low-foam amino-acid cleanser for every skin type.",
        "氨基酸低泡潔面乳，任何膚質都適用。",
        "cleansers",
        "mist",
        (),
        (),
        (DemoVariant("CLN-GEN-150", {}, "138.00", "38.00", weight_grams=180),),
    ),
    DemoProduct(
        "rose-sheet-mask",
        "Rose Hydrating Sheet Mask",
        "玫瑰保濕面膜",
        "A cellulose sheet mask soaked in rose water and ceramides.",
        "天絲面膜布，浸滿玫瑰水同神經醯胺。",
        "masks",
        "mist",
        ("保濕 Hydrating",),
        ("Pack",),
        one_option(
            "MSK-ROSE",
            "Pack",
            (("1", "1片裝 Single", "28.00", "7.00"), ("5", "5片裝 Box of 5", "118.00", "30.00")),
        ),
    ),
    DemoProduct(
        "scented-candle",
        "Scented Candle 200g",
        "香薰蠟燭 200g",
        "A soy-wax candle in a reusable glass, about 40 hours of burning.",
        "大豆蠟香薰蠟燭，玻璃杯可重用，燃點約40小時。",
        "fragrance",
        "lantern",
        ("禮物 Gift",),
        ("Scent",),
        one_option(
            "CDL",
            "Scent",
            (
                ("WT", "白茶 White Tea", "228.00", "70.00"),
                ("FG", "無花果 Fig", "228.00", "70.00"),
                ("SW", "檀香 Sandalwood", "228.00", "70.00"),
                ("YZ", "柚子 Yuzu", "228.00", "70.00"),
            ),
            weight_grams=420,
        ),
    ),
    DemoProduct(
        "ceramic-mug",
        "Ceramic Mug 350ml",
        "陶瓷杯 350ml",
        "A hand-glazed stoneware mug; every glaze comes out a little different.",
        "人手上釉石器杯，每隻釉色都略有不同。",
        "tableware",
        "kiln",
        ("禮物 Gift",),
        ("Colour",),
        one_option(
            "MUG",
            "Colour",
            (
                ("MW", "月白 Moon White", "128.00", "38.00"),
                ("CE", "青瓷 Celadon", "128.00", "38.00"),
                ("IB", "墨黑 Ink Black", "128.00", "38.00"),
                ("SP", "櫻粉 Sakura Pink", "128.00", "38.00"),
            ),
            weight_grams=360,
        ),
    ),
    DemoProduct(
        "linen-napkins",
        "Linen Napkins, Set of 4",
        "亞麻餐巾（四條裝）",
        "Stonewashed linen napkins, 45 × 45 cm, set of four.",
        "石洗亞麻餐巾，45 × 45 厘米，一套四條。",
        "textiles",
        "linen",
        ("亞麻 Linen",),
        ("Colour",),
        one_option(
            "NAP",
            "Colour",
            (
                ("NA", "原色 Natural", "168.00", "52.00"),
                ("IN", "靛藍 Indigo", "168.00", "52.00"),
                ("RU", "鐵鏽紅 Rust", "168.00", "52.00"),
            ),
            weight_grams=200,
        ),
    ),
    DemoProduct(
        "rattan-basket",
        "Rattan Storage Basket",
        "藤編收納籃",
        "A hand-woven rattan basket for small flats: toys, towels, magazines.",
        "人手編織藤籃，細單位收納好幫手：玩具、毛巾、雜誌都啱。",
        "storage",
        "lantern",
        (),
        ("Size",),
        one_option(
            "BSK",
            "Size",
            (("S", "S", "149.00", "45.00"), ("M", "M", "189.00", "58.00"), ("L", "L", "239.00", "75.00")),
        ),
    ),
    DemoProduct(
        "reed-diffuser",
        "Reed Diffuser",
        "擴香瓶",
        "A reed diffuser with rattan sticks; scents a room for about two months.",
        "藤枝擴香瓶，香味持續約兩個月。",
        "fragrance",
        "lantern",
        ("禮物 Gift",),
        ("Scent", "Size"),
        tuple(
            DemoVariant(f"DIF-{code}-{size}", {"Scent": scent, "Size": f"{size}ml"}, price, cost)
            for code, scent in (("WT", "白茶 White Tea"), ("FG", "無花果 Fig"))
            for size, price, cost in (("100", "198.00", "60.00"), ("200", "298.00", "88.00"))
        ),
    ),
    # A service sold at the till: no stock to track, not on the web shop.
    DemoProduct(
        "gift-wrapping",
        "Gift Wrapping",
        "禮品包裝",
        "Wrapping paper, ribbon and a card, done at the counter.",
        "包裝紙、絲帶同心意卡，即場包好。",
        None,
        None,
        (),
        (),
        (DemoVariant("GFT-WRAP", {}, "20.00", "4.00"),),
        track_inventory=False,
        visible_web=False,
    ),
)


def category_ensure(key: str, actor: User) -> Category:
    parent: Category | None = None
    for name_en, name_zh in CATEGORIES[key]:
        found = Category.objects.filter(parent=parent, name_en=name_en).first()
        if found is None:
            found = category_create(
                actor=actor, name_en=name_en, name_zh_hant=name_zh, parent_id=parent.pk if parent else None
            )
        parent = found
    assert parent is not None
    return parent


def brand_ensure(key: str) -> Brand:
    name, name_zh = BRANDS[key]
    brand, _ = Brand.objects.get_or_create(name=name, defaults={"name_zh_hant": name_zh})
    return brand


def catalogue_seed(*, actor: User) -> dict[str, Variant]:
    """Creates the products that are not there yet (by handle); returns every demo SKU by code."""
    sequence = 0
    for item in PRODUCTS:
        variants = []
        for demo in item.variants:
            sequence += 1  # every SKU keeps its barcode whether or not its product is created on this run
            variants.append(
                {
                    "sku": demo.sku,
                    "option_values": demo.options,
                    "price": demo.price,
                    "compare_at_price": demo.compare_at,
                    "cost": demo.cost,
                    "weight_grams": demo.weight_grams,
                    "track_inventory": item.track_inventory,
                    "barcodes": [ean13(f"{BARCODE_PREFIX}{sequence:05d}")] if item.track_inventory else [],
                    "channel_prices": demo.channel_prices,
                }
            )
        if Product.objects.filter(handle=item.handle).exists():
            continue
        product_create(
            actor=actor,
            handle=item.handle,
            name_en=item.name_en,
            name_zh_hant=item.name_zh_hant,
            description_en=item.description_en,
            description_zh_hant=item.description_zh_hant,
            category_id=category_ensure(item.category, actor).pk if item.category else None,
            brand_id=brand_ensure(item.brand).pk if item.brand else None,
            tags=list(item.tags),
            status="active",
            visible_web=item.visible_web,
            visible_pos=True,
            option_names=list(item.option_names),
            variants=variants,
        )
    skus = [demo.sku for item in PRODUCTS for demo in item.variants]
    return {
        variant.sku: variant for variant in Variant.objects.select_related("product").filter(sku__in=skus)
    }


# --- Stock --------------------------------------------------------------------------------------------------

# Who books the opening stock in at each location.
RECEIVERS = {"CWB": "cwb-cashier", "MK": "mk-cashier", "TST": "tst-cashier", "KC": "kc-staff"}
BRANCH_OFFSETS = {"CWB": 3, "MK": 1, "TST": 5}
# Where the story needs a particular figure: the held SKUs have units to hold, the transferred ones units to
# send, the reorder-point SKUs sit above their point, except the sunscreen at Mong Kok, which is below it.
OPENING_OVERRIDES = {
    ("DRS-001-M-BL", "CWB"): 3,
    ("DRS-001-M-NV", "CWB"): 5,
    ("KNT-002-S-OT", "CWB"): 2,
    ("SHT-001-L-WH", "MK"): 4,
    ("CDL-FG", "MK"): 6,
    ("SUN-SPF50-50", "MK"): 1,
    ("SER-HYD-30", "TST"): 6,
    ("MUG-CE", "KC"): 60,
}
# (SKU, location, reorder point, reorder quantity)
REORDER_POINTS = (
    ("DRS-001-M-NV", "CWB", 2, 6),
    ("SUN-SPF50-50", "MK", 3, 12),
    ("SER-HYD-30", "TST", 2, 6),
    ("MUG-CE", "KC", 10, 48),
)


def opening_quantity(index: int, code: str, sku: str) -> int:
    """A spread that looks like a real shop: plenty at the warehouse, a few of most SKUs (none of some) at
    each branch, so that "which branch has my size" has interesting answers."""
    if (sku, code) in OPENING_OVERRIDES:
        return OPENING_OVERRIDES[(sku, code)]
    if code == "KC":
        return 24 + (index * 7) % 30
    return (index * 5 + BRANCH_OFFSETS.get(code, 0)) % 8


def opening_stock_seed(*, places: DemoPlaces, variants: dict[str, Variant]) -> None:
    """Books the opening stock in at every location once (reference DEMO-OPENING), through the ledger."""
    tracked = [variant for variant in variants.values() if variant.track_inventory]
    tracked.sort(key=lambda variant: variant.pk)
    for code, location in places.locations.items():
        if StockMovement.objects.filter(location=location, reference=OPENING_REFERENCE).exists():
            continue
        lines = []
        for index, variant in enumerate(tracked):
            qty = opening_quantity(index, code, variant.sku)
            if qty:
                cost = variant.cost.amount if variant.cost is not None else None
                lines.append(ReceiveLine(variant, qty, cost))
        stock_receive(
            location_id=location.pk,
            lines=lines,
            actor=places.staff[RECEIVERS.get(code, "owner")],
            reference=OPENING_REFERENCE,
            reason="開倉存貨 Opening stock",
        )


def reorder_points_seed(*, places: DemoPlaces, variants: dict[str, Variant]) -> None:
    for sku, code, point, qty in REORDER_POINTS:
        location = places.locations[code]
        current = (
            StockLevel.objects.filter(variant=variants[sku], location=location)
            .values_list("reorder_point", "reorder_qty")
            .first()
        )
        if current != (point, qty):  # set (and audit) only what differs
            stock_reorder_set(
                variant=variants[sku],
                location_id=location.pk,
                actor=places.staff["owner"],
                reorder_point=point,
                reorder_qty=qty,
            )


@dataclass(frozen=True)
class DemoHold:
    reference: str
    sku: str
    location: str
    qty: int
    source: str
    made_by: str
    customer_name: str = ""
    customer_phone: str = ""
    note: str = ""
    hours: int | None = None  # None: the source's default lifetime


HOLDS = (
    DemoHold(
        "DEMO-HOLD-1",
        "DRS-001-M-BL",
        "CWB",
        1,
        ReservationSource.STAFF_HOLD,
        "cwb-cashier",
        "陳小姐",
        "+852 9123 4567",
        "IG DM, 星期六來試",
        hours=48,
    ),
    DemoHold(
        "DEMO-HOLD-2",
        "KNT-002-S-OT",
        "CWB",
        1,
        ReservationSource.STAFF_HOLD,
        "cwb-cashier",
        "Ms Wong",
        "+852 6234 5678",
        "WhatsApp: 想試S同M碼，放工7點後來",
    ),
    DemoHold(
        "DEMO-HOLD-3",
        "SHT-001-L-WH",
        "MK",
        2,
        ReservationSource.STAFF_HOLD,
        "mk-cashier",
        "李先生",
        "+852 5345 6789",
        "IG DM, 買俾老公，星期日來拎",
        hours=72,
    ),
    DemoHold(
        "DEMO-HOLD-4",
        "CDL-FG",
        "MK",
        2,
        ReservationSource.STAFF_HOLD,
        "mk-cashier",
        "何太",
        "+852 9456 7890",
        "FB Messenger: 兩個做禮物，要包裝",
        hours=6,
    ),
    DemoHold(
        "DEMO-WEB-1", "SER-HYD-50", "KC", 1, ReservationSource.WEB_CHECKOUT, "owner", note="Web checkout"
    ),
)


def holds_seed(*, places: DemoPlaces, variants: dict[str, Variant]) -> None:
    """Each hold once, by its reference, whatever became of it since (sold, released, expired)."""
    taken = set(
        Reservation.objects.filter(reference__in=[h.reference for h in HOLDS]).values_list(
            "reference", flat=True
        )
    )
    for demo in HOLDS:
        if demo.reference in taken:
            continue
        actor = places.staff[demo.made_by]
        stock_reserve(
            lines=[StockLine(variants[demo.sku], places.locations[demo.location].pk, demo.qty)],
            source=demo.source,
            # A web checkout has no signed-in staff: the shop's system makes it.
            actor=actor if demo.source != ReservationSource.WEB_CHECKOUT else "web-shop",
            expires_at=timezone.now() + timedelta(hours=demo.hours) if demo.hours else None,
            customer_name=demo.customer_name,
            customer_phone=demo.customer_phone,
            note=demo.note,
            reference=demo.reference,
        )


TRANSFER_ITEMS = (("DRS-001-M-NV", 3), ("SUN-SPF50-50", 6), ("KNT-002-M-CH", 2))


def transfer_seed(*, places: DemoPlaces, variants: dict[str, Variant]) -> None:
    """Kwai Chung sends Mong Kok a weekend restock: requested, approved and shipped, so it is on the road."""
    if Transfer.objects.filter(note=TRANSFER_NOTE).exists():
        return
    transfer = transfer_request(
        source_id=places.locations["KC"].pk,
        destination_id=places.locations["MK"].pk,
        items=[TransferItem(variants[sku], qty) for sku, qty in TRANSFER_ITEMS],
        actor=places.staff["mk-cashier"],
        note=TRANSFER_NOTE,
    )
    transfer_approve(transfer_id=transfer.pk, actor=places.staff["owner"])
    transfer_ship(transfer_id=transfer.pk, actor=places.staff["kc-staff"])


@dataclass(frozen=True)
class DemoCatalogue:
    products: int
    skus: int
    holds: int
    transfers_in_transit: int


@transaction.atomic
def demo_catalogue_and_stock_seed(*, places: DemoPlaces) -> DemoCatalogue:
    """Adds the demo catalogue, opening stock, reorder points, holds and a transfer in transit. Idempotent."""
    variants = catalogue_seed(actor=places.staff["owner"])
    opening_stock_seed(places=places, variants=variants)
    reorder_points_seed(places=places, variants=variants)
    holds_seed(places=places, variants=variants)
    transfer_seed(places=places, variants=variants)
    return DemoCatalogue(
        products=len(PRODUCTS),
        skus=len(variants),
        holds=len(HOLDS),
        transfers_in_transit=Transfer.objects.filter(note=TRANSFER_NOTE, status="in_transit").count(),
    )
