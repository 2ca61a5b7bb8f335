"""Back office for the catalogue: a bad price or a taken SKU or barcode is a form error, not a 500."""

from decimal import Decimal

import pytest

from catalog.models import Barcode, ChannelPrice, Product, Variant
from catalog.services import category_create
from omo.models import AuditLog
from tests.factories.catalog import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def back_office(client, owner):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    return client


def management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def variant_row(index, *, sku, size, price="199.00"):
    prefix = f"variants-{index}"
    return {
        f"{prefix}-sku": sku,
        f"{prefix}-option_values": f'{{"Size": "{size}"}}' if size else "{}",
        f"{prefix}-price_0": price,
        f"{prefix}-price_1": "HKD",
        f"{prefix}-compare_at_price_0": "",
        f"{prefix}-compare_at_price_1": "HKD",
        f"{prefix}-cost_0": "",
        f"{prefix}-cost_1": "HKD",
        f"{prefix}-track_inventory": "on",
        f"{prefix}-is_active": "on",
        f"{prefix}-position": str(index),
    }


def product_form(*rows, handle="floral-dress"):
    data = {
        "handle": handle,
        "name_en": "Floral dress",
        "name_zh_hant": "碎花連身裙",
        "status": "active",
        "visible_web": "on",
        "visible_pos": "on",
        "option_names": "Size",
        "tags": "",
        **management("variants", len(rows)),
        **management("images", 0),
    }
    for index, row in enumerate(rows):
        data.update(variant_row(index, **row))
    return data


def page_errors(response):
    return response.content.decode()


def test_add_a_product_with_variants(back_office):
    response = back_office.post(
        "/admin/catalog/product/add/",
        product_form({"sku": "DRS-001-S", "size": "S"}, {"sku": "DRS-001-M", "size": "M", "price": "219.50"}),
    )
    assert response.status_code == 302, page_errors(response)
    product = Product.objects.get(handle="floral-dress")
    assert sorted(product.variants.values_list("sku", flat=True)) == ["DRS-001-M", "DRS-001-S"]
    assert Variant.objects.get(sku="DRS-001-M").price.amount == Decimal("219.50")
    assert AuditLog.objects.filter(action="product.create", reason="admin").count() == 1
    assert AuditLog.objects.filter(action="variant.create", reason="admin").count() == 2


def test_negative_price_is_a_form_error(back_office):
    response = back_office.post(
        "/admin/catalog/product/add/", product_form({"sku": "DRS-001-S", "size": "S", "price": "-5.00"})
    )
    assert response.status_code == 200
    assert "A price cannot be negative." in page_errors(response)
    assert not Product.objects.exists()


def test_taken_sku_in_another_case_is_a_form_error(back_office):
    VariantFactory(sku="DRS-001-S", product__handle="old-dress")
    response = back_office.post(
        "/admin/catalog/product/add/", product_form({"sku": "drs-001-s", "size": "S"})
    )
    assert response.status_code == 200
    assert "SKU drs-001-s is already used by product old-dress." in page_errors(response)
    assert not Product.objects.filter(handle="floral-dress").exists()


def test_two_rows_with_one_sku_is_a_form_error(back_office):
    response = back_office.post(
        "/admin/catalog/product/add/",
        product_form({"sku": "DRS-001-S", "size": "S"}, {"sku": "drs-001-s", "size": "M"}),
    )
    assert response.status_code == 200
    assert "Each variant needs its own SKU." in page_errors(response)
    assert not Variant.objects.exists()


def test_missing_option_value_is_a_form_error(back_office):
    response = back_office.post("/admin/catalog/product/add/", product_form({"sku": "DRS-001-S", "size": ""}))
    assert response.status_code == 200
    assert "Missing value for option Size." in page_errors(response)
    assert not Product.objects.exists()


def variant_form(variant, *, barcodes=(), channel_prices=(), price="199.00"):
    data = {
        "product": str(variant.product_id),
        "sku": variant.sku,
        "option_values": '{"Size": "M"}',
        "price_0": price,
        "price_1": "HKD",
        "compare_at_price_0": "",
        "compare_at_price_1": "HKD",
        "cost_0": "",
        "cost_1": "HKD",
        "track_inventory": "on",
        "is_active": "on",
        "position": "0",
        **management("barcodes", len(barcodes)),
        **management("channel_prices", len(channel_prices)),
    }
    for index, code in enumerate(barcodes):
        data[f"barcodes-{index}-code"] = code
        data[f"barcodes-{index}-variant"] = str(variant.pk)
    for index, (channel, amount) in enumerate(channel_prices):
        data[f"channel_prices-{index}-channel"] = channel
        data[f"channel_prices-{index}-price_0"] = amount
        data[f"channel_prices-{index}-price_1"] = "HKD"
        data[f"channel_prices-{index}-variant"] = str(variant.pk)
    return data


def test_variant_page_adds_barcodes_and_channel_prices(back_office):
    variant = VariantFactory(sku="DRS-001-M", option_values={"Size": "M"})
    response = back_office.post(
        f"/admin/catalog/variant/{variant.pk}/change/",
        variant_form(variant, barcodes=["4890000000028"], channel_prices=[("web", "179.00")], price="189.00"),
    )
    assert response.status_code == 302, page_errors(response)
    assert list(variant.barcodes.values_list("code", flat=True)) == ["4890000000028"]
    assert ChannelPrice.objects.get(variant=variant).price.amount == Decimal("179.00")
    entry = AuditLog.objects.get(action="variant.update")
    assert entry.before["price"] == "199.00" and entry.after["price"] == "189.00"
    assert entry.after["barcodes"] == ["4890000000028"]


def test_barcode_of_another_sku_is_a_form_error(back_office):
    other = VariantFactory(sku="OLD-1")
    Barcode.objects.create(variant=other, code="4890000000028")
    variant = VariantFactory(sku="DRS-001-M", option_values={"Size": "M"})
    response = back_office.post(
        f"/admin/catalog/variant/{variant.pk}/change/", variant_form(variant, barcodes=["4890000000028"])
    )
    assert response.status_code == 200
    assert "Barcode 4890000000028 is already used by SKU OLD-1." in page_errors(response)
    assert not variant.barcodes.exists()


def test_negative_channel_price_is_a_form_error(back_office):
    variant = VariantFactory(sku="DRS-001-M", option_values={"Size": "M"})
    response = back_office.post(
        f"/admin/catalog/variant/{variant.pk}/change/", variant_form(variant, channel_prices=[("web", "-1")])
    )
    assert response.status_code == 200
    assert "A price cannot be negative." in page_errors(response)
    assert not ChannelPrice.objects.exists()


def test_search_by_sku_and_filters(back_office):
    VariantFactory(sku="DRS-001-M", product__handle="floral-dress")
    ProductFactory(handle="linen-shirt")
    page = back_office.get("/admin/catalog/product/", {"q": "DRS-001"}).content.decode()
    assert "floral-dress" in page and "linen-shirt" not in page
    assert back_office.get("/admin/catalog/product/", {"status__exact": "active"}).status_code == 200


def test_managers_look_but_do_not_change(client, cwb_manager):
    cwb_manager.is_staff = True
    cwb_manager.save()
    client.force_login(cwb_manager)
    product = ProductFactory()
    assert client.get("/admin/catalog/product/").status_code == 200
    assert client.get(f"/admin/catalog/product/{product.pk}/change/").status_code == 200
    assert client.get("/admin/catalog/product/add/").status_code == 403


def test_products_are_archived_not_deleted(back_office):
    product = ProductFactory()
    assert back_office.get(f"/admin/catalog/product/{product.pk}/delete/").status_code == 403
    response = back_office.post(
        "/admin/catalog/product/", {"action": "archive", "_selected_action": [str(product.pk)]}
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.status == "archived"


def test_a_category_cannot_go_under_its_own_child(back_office, owner):
    clothing = category_create(actor=owner, name_en="Clothing")
    dresses = category_create(actor=owner, name_en="Dresses", parent_id=clothing.pk)
    response = back_office.post(
        f"/admin/catalog/category/{clothing.pk}/change/",
        {"name_en": "Clothing", "name_zh_hant": "", "parent": str(dresses.pk), "position": "0"},
    )
    assert response.status_code == 200
    assert "A category cannot be placed under itself." in page_errors(response)
    clothing.refresh_from_db()
    assert clothing.parent_id is None
