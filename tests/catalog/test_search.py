"""Finding SKUs by scan or typed text, in English or Chinese, exact matches first."""

from decimal import Decimal

import pytest
from djmoney.money import Money

from catalog.exceptions import VariantNotFound
from catalog.models import Barcode, ChannelPrice, ProductStatus
from catalog.selectors import (
    price_for_channel,
    product_list,
    variant_by_code,
    variant_search,
    variants_by_code,
)
from tests.factories.catalog import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    dress = ProductFactory(
        handle="floral-wrap-dress", name_en="Floral Wrap Dress", name_zh_hant="碎花連身裙", tags=["summer"]
    )
    small = VariantFactory(product=dress, sku="DRS-001-S", option_values={"Size": "S"}, position=0)
    medium = VariantFactory(product=dress, sku="DRS-001-M", option_values={"Size": "M"}, position=1)
    Barcode.objects.create(variant=medium, code="4891234567890")
    jumpsuit = ProductFactory(handle="linen-jumpsuit", name_en="Linen Jumpsuit", name_zh_hant="亞麻連身褲")
    jumpsuit_one = VariantFactory(product=jumpsuit, sku="JMP-1")
    # Handles sort "a-..." before "b-...": only the ranking can put the exact SKU first.
    shirt_ten = VariantFactory(
        product=ProductFactory(handle="a-linen-shirt", name_en="Linen Shirt", name_zh_hant="亞麻恤衫"),
        sku="SHT-10",
    )
    shirt_one = VariantFactory(
        product=ProductFactory(
            handle="b-linen-shirt-kids", name_en="Kids Linen Shirt", name_zh_hant="童裝恤衫"
        ),
        sku="SHT-1",
    )
    old = VariantFactory(
        product=ProductFactory(
            handle="old-dress", name_en="Old Dress", name_zh_hant="舊款連身裙", status=ProductStatus.ARCHIVED
        ),
        sku="OLD-1",
    )
    draft = VariantFactory(
        product=ProductFactory(
            handle="new-dress", name_en="New Dress", name_zh_hant="新款連身裙", status=ProductStatus.DRAFT
        ),
        sku="NEW-1",
    )
    web_hidden = VariantFactory(
        product=ProductFactory(
            handle="shop-only-dress", name_en="Shop Dress", name_zh_hant="門市連身裙", visible_web=False
        ),
        sku="SHOP-1",
    )
    pos_hidden = VariantFactory(
        product=ProductFactory(
            handle="web-only-dress", name_en="Web Dress", name_zh_hant="網店連身裙", visible_pos=False
        ),
        sku="WEB-1",
    )
    inactive = VariantFactory(
        product=dress, sku="DRS-001-XL", option_values={"Size": "XL"}, is_active=False, position=2
    )
    return {
        "small": small,
        "medium": medium,
        "jumpsuit": jumpsuit_one,
        "shirt_ten": shirt_ten,
        "shirt_one": shirt_one,
        "old": old,
        "draft": draft,
        "web_hidden": web_hidden,
        "pos_hidden": pos_hidden,
        "inactive": inactive,
    }


def skus(results):
    return [variant.sku for variant in results]


def test_chinese_substring_finds_the_dress(shop):
    assert skus(variant_search("連身")) == [
        "DRS-001-S",
        "DRS-001-M",
        "JMP-1",
        "NEW-1",
        "SHOP-1",
        "WEB-1",
    ]
    assert skus(variant_search("碎花")) == ["DRS-001-S", "DRS-001-M"]
    assert skus(variant_search("碎花連身裙")) == ["DRS-001-S", "DRS-001-M"]
    assert skus(variant_search("恤衫")) == ["SHT-10", "SHT-1"]


def test_english_substring_any_case(shop):
    assert skus(variant_search("wrap")) == ["DRS-001-S", "DRS-001-M"]
    assert skus(variant_search("LINEN")) == ["SHT-10", "SHT-1", "JMP-1"]


def test_every_word_must_match(shop):
    assert skus(variant_search("linen 連身")) == ["JMP-1"]
    assert skus(variant_search("linen kids")) == ["SHT-1"]
    assert variant_search("linen velvet") == []


def test_exact_sku_in_any_case(shop):
    assert skus(variant_search("drs-001-m")) == ["DRS-001-M"]
    assert skus(variant_search("  Drs-001-S ")) == ["DRS-001-S"]


def test_exact_sku_is_ranked_first(shop):
    assert skus(variant_search("sht-1")) == ["SHT-1", "SHT-10"]
    assert skus(variant_search("SHT-10")) == ["SHT-10"]


def test_barcode_finds_its_sku_first(shop):
    assert skus(variant_search("4891234567890")) == ["DRS-001-M"]
    assert variant_search("489123456789") == []  # barcodes match whole, not in part


def test_tags_match(shop):
    assert skus(variant_search("summer")) == ["DRS-001-S", "DRS-001-M"]


def test_archived_and_inactive_are_left_out_unless_asked(shop):
    assert variant_search("OLD-1") == []
    assert variant_search("舊款") == []
    assert variant_search("DRS-001-XL") == []
    assert skus(variant_search("舊款", include_inactive=True)) == ["OLD-1"]
    assert skus(variant_search("DRS-001", include_inactive=True)) == ["DRS-001-S", "DRS-001-M", "DRS-001-XL"]


def test_channel_leaves_out_drafts_and_hidden_products(shop):
    assert skus(variant_search("連身", channel="web")) == ["DRS-001-S", "DRS-001-M", "JMP-1", "WEB-1"]
    assert skus(variant_search("連身", channel="pos")) == ["DRS-001-S", "DRS-001-M", "JMP-1", "SHOP-1"]
    assert variant_search("NEW-1", channel="pos") == []
    assert skus(variant_search("NEW-1")) == ["NEW-1"]  # the back office finds drafts


def test_blank_query_and_limit(shop):
    assert variant_search("   ") == []
    assert len(variant_search("連身", limit=2)) == 2


def test_search_is_one_query_plus_prefetches(shop, django_assert_num_queries):
    with django_assert_num_queries(3):  # variants, barcodes, channel prices
        results = variant_search("連身")
        [list(variant.barcodes.all()) for variant in results]
        [variant.product.name for variant in results]


def test_variant_by_code(shop):
    assert variant_by_code("4891234567890") == shop["medium"]
    assert variant_by_code(" jmp-1 ") == shop["jumpsuit"]
    with pytest.raises(VariantNotFound) as error:
        variant_by_code("NOPE")
    assert error.value.http_status == 404 and error.value.extra == {"code": "NOPE"}


def test_product_list_search(shop):
    assert list(product_list(q="連身", filters={"status": "active"}).values_list("handle", flat=True)) == [
        "floral-wrap-dress",
        "linen-jumpsuit",
        "shop-only-dress",
        "web-only-dress",
    ]


def test_price_for_channel(shop):
    small = shop["small"]
    ChannelPrice.objects.create(variant=small, channel="web", price=Decimal("179.00"))
    assert price_for_channel(small, "web") == Money("179.00", "HKD")
    assert price_for_channel(small, "pos") == Money("199.00", "HKD")


def test_many_codes_are_looked_up_in_one_go(django_assert_num_queries):
    dress = VariantFactory(sku="DRS-001-M")
    mug = VariantFactory(sku="MUG-RED")
    Barcode.objects.create(variant=mug, code="4896789000012")
    with django_assert_num_queries(2):  # the SKUs, and their barcodes
        found = variants_by_code(["drs-001-m", "4896789000012", "NOPE", " MUG-RED "])
    assert found == {"drs-001-m": dress, "4896789000012": mug, "MUG-RED": mug}
