"""Catalogue API: products with nested variants, variants, search and scan lookup, categories, brands."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import (
    Barcode,
    Brand,
    Category,
    ChannelPrice,
    Product,
    ProductImage,
    ProductStatus,
    Variant,
)
from catalog.services import category_create
from omo.models import AuditLog, IdempotencyKey, Role
from omo.services.accounts import api_token_create
from tests.factories.catalog import ProductFactory, VariantFactory
from tests.factories.omo import UserFactory

pytestmark = pytest.mark.django_db

DRESS = {
    "handle": "floral-dress",
    "name_en": "Floral dress",
    "name_zh_hant": "碎花連身裙",
    "option_names": ["Size"],
    "status": "active",
    "tags": ["summer"],
    "variants": [
        {
            "sku": "DRS-001-S",
            "option_values": {"Size": "S"},
            "price": "199.00",
            "barcodes": ["4890000000011"],
        },
        {
            "sku": "DRS-001-M",
            "option_values": {"Size": "M"},
            "price": "199.00",
            "compare_at_price": "259.00",
            "cost": "80.50",
            "barcodes": ["4890000000028"],
            "channel_prices": {"web": "179.00"},
        },
    ],
}


@pytest.fixture
def manager_client(api_as, cwb_manager):
    return api_as(cwb_manager)


def post_product(client, body=DRESS, **headers):
    return client.post("/api/v1/products/", body, format="json", **headers)


# --- Products -----------------------------------------------------------------------------------------------


def test_create_product_with_variants_money_as_decimal_strings(manager_client):
    response = post_product(manager_client)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["handle"] == "floral-dress"
    assert body["name_zh_hant"] == "碎花連身裙"
    assert body["status"] == "active"
    by_sku = {variant["sku"]: variant for variant in body["variants"]}
    medium = by_sku["DRS-001-M"]
    assert medium["price"] == "199.00"
    assert medium["compare_at_price"] == "259.00"
    assert medium["cost"] == "80.50"
    assert medium["barcodes"] == ["4890000000028"]
    assert medium["channel_prices"] == {"web": "179.00"}
    assert medium["option_values"] == {"Size": "M"}
    assert by_sku["DRS-001-S"]["compare_at_price"] is None
    variant = Variant.objects.get(sku="DRS-001-M")
    assert variant.price.amount == Decimal("199.00") and str(variant.price.currency) == "HKD"
    assert ChannelPrice.objects.get(variant=variant).price.amount == Decimal("179.00")
    assert AuditLog.objects.filter(action="product.create", actor_label="cwb-manager").count() == 1


def test_negative_price_is_400_and_nothing_is_written(manager_client):
    body = {**DRESS, "variants": [{**DRESS["variants"][0], "price": "-1.00"}]}
    response = post_product(manager_client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["extra"]["fields"]["variants"]["0"]["price"] == ["A price cannot be negative."]
    assert not Product.objects.exists() and not Variant.objects.exists()


def test_three_decimals_is_400(manager_client):
    body = {**DRESS, "variants": [{**DRESS["variants"][0], "price": "199.999"}]}
    assert post_product(manager_client, body).status_code == 400
    assert not Product.objects.exists()


def test_missing_option_value_is_400_and_nothing_is_written(manager_client):
    body = {**DRESS, "variants": [{"sku": "DRS-001-S", "price": "199.00", "option_values": {}}]}
    response = post_product(manager_client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["extra"]["fields"]["variants"]["0"]["option_values"] == (
        "Missing value for option Size."
    )
    assert not Product.objects.exists()


def test_duplicate_sku_in_any_case_is_409_and_nothing_is_written(manager_client):
    VariantFactory(sku="DRS-001-M", product__handle="old-dress")
    response = post_product(
        manager_client, {**DRESS, "variants": [{**DRESS["variants"][1], "sku": "drs-001-m"}]}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_sku"
    assert "old-dress" in body["message"]
    assert not Product.objects.filter(handle="floral-dress").exists()
    assert Variant.objects.count() == 1


def test_duplicate_barcode_is_409(manager_client):
    other = VariantFactory(sku="OLD-1")
    Barcode.objects.create(variant=other, code="4890000000028")
    response = post_product(manager_client)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_barcode"
    assert "OLD-1" in response.json()["message"]
    assert not Product.objects.filter(handle="floral-dress").exists()


def test_duplicate_handle_is_409(manager_client):
    ProductFactory(handle="floral-dress")
    response = post_product(manager_client)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_handle"


def test_no_variants_is_400(manager_client):
    response = post_product(manager_client, {**DRESS, "variants": []})
    assert response.status_code == 400
    assert "variants" in response.json()["extra"]["fields"]


def test_cashiers_read_but_do_not_write_the_catalogue(api_as, cwb_cashier, customer):
    product = ProductFactory()
    cashier = api_as(cwb_cashier)
    assert cashier.get("/api/v1/products/").status_code == 200
    assert cashier.get(f"/api/v1/products/{product.pk}/").status_code == 200
    assert post_product(cashier).status_code == 403
    assert (
        cashier.patch(f"/api/v1/products/{product.pk}/", {"name_en": "X"}, format="json").status_code == 403
    )
    assert api_as(customer).get("/api/v1/products/").status_code == 403
    assert not Product.objects.filter(handle="floral-dress").exists()


def test_api_tokens_follow_their_scopes(api, owner):
    integration = UserFactory(role=Role.API_CLIENT)
    _, key = api_token_create(name="ERP", user=integration, scopes=["catalog:read"], actor=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/products/").status_code == 200
    assert post_product(api).status_code == 403
    _, writer = api_token_create(name="PIM", user=integration, scopes=["catalog:write"], actor=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {writer}")
    assert post_product(api).status_code == 201


def test_retrieve_has_variants_barcodes_prices_images_category_and_brand(manager_client, owner):
    post_product(manager_client)
    product = Product.objects.get(handle="floral-dress")
    clothing = category_create(actor=owner, name_en="Clothing", name_zh_hant="服裝")
    dresses = category_create(actor=owner, name_en="Dresses", name_zh_hant="連身裙", parent_id=clothing.pk)
    brand = Brand.objects.create(name="Lune", name_zh_hant="月")
    ProductImage.objects.create(product=product, url="https://img.example.com/d.jpg", alt="front")
    manager_client.patch(
        f"/api/v1/products/{product.pk}/", {"category": dresses.pk, "brand": brand.pk}, format="json"
    )
    body = manager_client.get(f"/api/v1/products/{product.pk}/").json()
    assert body["category"] == {
        "id": dresses.pk,
        "parent": clothing.pk,
        "name": "Dresses",
        "name_en": "Dresses",
        "name_zh_hant": "連身裙",
    }
    assert body["brand"] == {"id": brand.pk, "name": "Lune", "name_zh_hant": "月"}
    assert body["images"] == [
        {"id": body["images"][0]["id"], "url": "https://img.example.com/d.jpg", "alt": "front", "position": 0}
    ]
    assert [v["barcodes"] for v in body["variants"]] == [["4890000000011"], ["4890000000028"]]


def test_search_matches_sku_barcode_and_names_in_both_languages(manager_client):
    post_product(manager_client)
    ProductFactory(handle="linen-shirt", name_en="Linen shirt", name_zh_hant="麻質恤衫")
    VariantFactory(product=Product.objects.get(handle="linen-shirt"), sku="SHT-9")

    def handles(query):
        response = manager_client.get("/api/v1/products/", {"search": query})
        assert response.status_code == 200
        return [row["handle"] for row in response.json()["results"]]

    assert handles("連身") == ["floral-dress"]
    assert handles("floral") == ["floral-dress"]
    assert handles("drs-001-s") == ["floral-dress"]
    assert handles("4890000000028") == ["floral-dress"]
    assert handles("恤衫") == ["linen-shirt"]
    assert handles("nothing-like-this") == []


def test_filters_and_ordering(manager_client, owner):
    clothing = category_create(actor=owner, name_en="Clothing")
    dresses = category_create(actor=owner, name_en="Dresses", parent_id=clothing.pk)
    shoes = category_create(actor=owner, name_en="Shoes")
    brand = Brand.objects.create(name="Lune")
    ProductFactory(handle="a-dress", category=dresses, brand=brand, tags=["summer"], visible_web=False)
    ProductFactory(handle="b-boots", category=shoes, status=ProductStatus.DRAFT)
    ProductFactory(handle="c-top", category=clothing, tags=["summer", "sale"])

    def handles(**params):
        response = manager_client.get("/api/v1/products/", params)
        assert response.status_code == 200
        return [row["handle"] for row in response.json()["results"]]

    assert handles(category=clothing.pk) == ["a-dress", "c-top"]  # with the categories below it
    assert handles(category=dresses.pk) == ["a-dress"]
    assert handles(brand=brand.pk) == ["a-dress"]
    assert handles(status="draft") == ["b-boots"]
    assert handles(tag="summer") == ["a-dress", "c-top"]
    assert handles(visible_web="false") == ["a-dress"]
    assert handles(ordering="-handle") == ["c-top", "b-boots", "a-dress"]
    assert manager_client.get("/api/v1/products/", {"category": "abc"}).status_code == 400
    assert manager_client.get("/api/v1/products/", {"status": "gone"}).status_code == 400


def test_product_list_queries_do_not_grow_with_products(manager_client):
    for n in range(2):
        VariantFactory(product=ProductFactory(handle=f"p-{n}"))
    with CaptureQueriesContext(connection) as few:
        assert manager_client.get("/api/v1/products/").status_code == 200
    for n in range(2, 12):
        VariantFactory(product=ProductFactory(handle=f"p-{n}"))
    with CaptureQueriesContext(connection) as many:
        assert len(manager_client.get("/api/v1/products/").json()["results"]) == 12
    assert len(many) == len(few)


def test_partial_update_and_archive(manager_client):
    product_id = post_product(manager_client).json()["id"]
    response = manager_client.patch(
        f"/api/v1/products/{product_id}/",
        {"name_en": "Floral midi dress", "visible_pos": False},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["name_en"] == "Floral midi dress"
    assert response.json()["visible_pos"] is False
    assert manager_client.patch(
        f"/api/v1/products/{product_id}/", {"category": 999999}, format="json"
    ).json()["extra"]["fields"] == {"category_id": "No such category."}
    archived = manager_client.post(f"/api/v1/products/{product_id}/archive/")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert Product.objects.get(pk=product_id).status == ProductStatus.ARCHIVED
    assert AuditLog.objects.filter(action="product.archive").count() == 1
    assert manager_client.post("/api/v1/products/999999/archive/").json()["code"] == "product_not_found"


def test_product_create_replays_with_the_same_idempotency_key(manager_client):
    first = post_product(manager_client, HTTP_IDEMPOTENCY_KEY="pim-42")
    again = post_product(manager_client, HTTP_IDEMPOTENCY_KEY="pim-42")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Product.objects.count() == 1
    assert IdempotencyKey.objects.filter(key="pim-42").count() == 1


# --- Variants -----------------------------------------------------------------------------------------------


def test_add_a_variant_through_the_product_or_the_variant_list(manager_client):
    product_id = post_product(manager_client).json()["id"]
    nested = manager_client.post(
        f"/api/v1/products/{product_id}/variants/",
        {"sku": "DRS-001-L", "option_values": {"Size": "L"}, "price": "219.00"},
        format="json",
    )
    assert nested.status_code == 201
    assert nested.json()["product"] == product_id and nested.json()["price"] == "219.00"
    flat = manager_client.post(
        "/api/v1/variants/",
        {"product": product_id, "sku": "DRS-001-XL", "option_values": {"Size": "XL"}, "price": "219.00"},
        format="json",
    )
    assert flat.status_code == 201 and flat.json()["sku"] == "DRS-001-XL"
    same_options = manager_client.post(
        f"/api/v1/products/{product_id}/variants/",
        {"sku": "DRS-001-L2", "option_values": {"Size": "L"}, "price": "219.00"},
        format="json",
    )
    assert same_options.status_code == 400
    assert (
        manager_client.post(
            "/api/v1/products/999999/variants/", {"sku": "X-1", "price": "1.00"}, format="json"
        ).json()["code"]
        == "product_not_found"
    )


def test_variant_update_replaces_barcodes_and_channel_prices(manager_client):
    post_product(manager_client)
    variant = Variant.objects.get(sku="DRS-001-M")
    response = manager_client.patch(
        f"/api/v1/variants/{variant.pk}/",
        {"price": "189.50", "barcodes": ["4890000000099"], "channel_prices": {"pos": "185.00"}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == "189.50"
    assert body["barcodes"] == ["4890000000099"]
    assert body["channel_prices"] == {"pos": "185.00"}
    assert not Barcode.objects.filter(code="4890000000028").exists()
    assert AuditLog.objects.filter(action="variant.update").count() == 1


def test_variant_update_errors(manager_client):
    post_product(manager_client)
    small = Variant.objects.get(sku="DRS-001-S")
    url = f"/api/v1/variants/{small.pk}/"
    taken = manager_client.patch(url, {"sku": "drs-001-m"}, format="json")
    assert taken.status_code == 409 and taken.json()["code"] == "duplicate_sku"
    barcode = manager_client.patch(url, {"barcodes": ["4890000000028"]}, format="json")
    assert barcode.status_code == 409 and barcode.json()["code"] == "duplicate_barcode"
    negative = manager_client.patch(url, {"channel_prices": {"web": "-5"}}, format="json")
    assert negative.status_code == 400
    channel = manager_client.patch(url, {"channel_prices": {"moon": "5.00"}}, format="json")
    assert channel.status_code == 400
    assert (
        manager_client.patch("/api/v1/variants/999999/", {"price": "1.00"}, format="json").json()["code"]
        == "variant_not_found"
    )
    small.refresh_from_db()
    assert small.sku == "DRS-001-S" and small.barcodes.get().code == "4890000000011"


def test_variant_list_filters_and_archive(manager_client):
    post_product(manager_client)
    medium = Variant.objects.get(sku="DRS-001-M")
    assert [
        v["sku"] for v in manager_client.get("/api/v1/variants/", {"sku": "drs-001-m"}).json()["results"]
    ] == ["DRS-001-M"]
    by_barcode = manager_client.get("/api/v1/variants/", {"barcode": "4890000000011"}).json()["results"]
    assert [v["sku"] for v in by_barcode] == ["DRS-001-S"]
    archived = manager_client.post(f"/api/v1/variants/{medium.pk}/archive/")
    assert archived.status_code == 200 and archived.json()["is_active"] is False
    inactive = manager_client.get("/api/v1/variants/", {"is_active": "false"}).json()["results"]
    assert [v["sku"] for v in inactive] == ["DRS-001-M"]
    assert manager_client.get(f"/api/v1/variants/{medium.pk}/").json()["name"] == "Floral dress (M)"


def test_pos_search_puts_exact_sku_and_barcode_first(api_as, cwb_cashier, manager_client):
    post_product(manager_client)
    other = ProductFactory(handle="dress-bag", name_en="Bag for DRS-001-M dresses", name_zh_hant="手袋")
    VariantFactory(product=other, sku="BAG-DRS-001-M")
    cashier = api_as(cwb_cashier)
    rows = cashier.get("/api/v1/variants/search/", {"q": "DRS-001-M", "channel": "pos"}).json()
    assert [row["sku"] for row in rows] == ["DRS-001-M", "BAG-DRS-001-M"]
    assert rows[0]["unit_price"] == "199.00" and rows[0]["product_name_zh_hant"] == "碎花連身裙"
    web = cashier.get("/api/v1/variants/search/", {"q": "4890000000028", "channel": "web"}).json()
    assert [(row["sku"], row["unit_price"]) for row in web] == [("DRS-001-M", "179.00")]
    chinese = cashier.get("/api/v1/variants/search/", {"q": "連身"}).json()
    assert {row["sku"] for row in chinese} == {"DRS-001-S", "DRS-001-M"}
    assert cashier.get("/api/v1/variants/search/").status_code == 400
    assert cashier.get("/api/v1/variants/search/", {"q": "x", "channel": "fax"}).status_code == 400


def test_search_for_a_channel_leaves_out_hidden_products(manager_client):
    post_product(manager_client)
    Product.objects.filter(handle="floral-dress").update(visible_web=False)
    assert manager_client.get("/api/v1/variants/search/", {"q": "DRS", "channel": "web"}).json() == []
    assert len(manager_client.get("/api/v1/variants/search/", {"q": "DRS", "channel": "pos"}).json()) == 2


def test_lookup_by_barcode_or_sku_and_404(api_as, cwb_cashier, manager_client):
    post_product(manager_client)
    cashier = api_as(cwb_cashier)
    by_barcode = cashier.get("/api/v1/variants/lookup/", {"code": "4890000000028"})
    assert by_barcode.status_code == 200 and by_barcode.json()["sku"] == "DRS-001-M"
    by_sku = cashier.get("/api/v1/variants/lookup/", {"code": "drs-001-s", "channel": "web"})
    assert by_sku.json()["sku"] == "DRS-001-S" and by_sku.json()["unit_price"] == "199.00"
    missing = cashier.get("/api/v1/variants/lookup/", {"code": "9999"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "variant_not_found"


# --- Categories and brands ----------------------------------------------------------------------------------


def test_category_tree_with_paths(manager_client):
    clothing = manager_client.post(
        "/api/v1/categories/", {"name_en": "Clothing", "name_zh_hant": "服裝"}, format="json"
    )
    assert clothing.status_code == 201
    dresses = manager_client.post(
        "/api/v1/categories/",
        {"name_en": "Dresses", "name_zh_hant": "連身裙", "parent": clothing.json()["id"]},
        format="json",
    )
    assert dresses.status_code == 201
    assert dresses.json()["path_en"] == "Clothing > Dresses"
    assert dresses.json()["path_zh_hant"] == "服裝 > 連身裙"
    manager_client.post("/api/v1/categories/", {"name_en": "Accessories"}, format="json")
    tree = manager_client.get("/api/v1/categories/").json()
    assert [(row["path_en"], row["depth"], row["parent"]) for row in tree] == [
        ("Accessories", 0, None),
        ("Clothing", 0, None),
        ("Clothing > Dresses", 1, clothing.json()["id"]),
    ]
    chinese = manager_client.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert chinese[2]["path"] == "服裝 > 連身裙"
    again = manager_client.post(
        "/api/v1/categories/", {"name_en": "dresses", "parent": clothing.json()["id"]}, format="json"
    )
    assert again.status_code == 400 and "name_en" in again.json()["extra"]["fields"]
    assert Category.objects.count() == 3


def test_brands_list_and_create(manager_client, api_as, cwb_cashier):
    created = manager_client.post("/api/v1/brands/", {"name": "Lune", "name_zh_hant": "月"}, format="json")
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "name": "Lune", "name_zh_hant": "月"}
    duplicate = manager_client.post("/api/v1/brands/", {"name": "LUNE"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["extra"]["fields"]["name"] == "A brand with this name exists."
    assert api_as(cwb_cashier).post("/api/v1/brands/", {"name": "Soleil"}, format="json").status_code == 403
    found = manager_client.get("/api/v1/brands/", {"search": "月"}).json()["results"]
    assert [row["name"] for row in found] == ["Lune"]
    assert AuditLog.objects.filter(action="brand.create").count() == 1


def test_cost_is_shown_to_managers_and_hidden_from_cashiers(api_as, cwb_manager, cwb_cashier):
    variant = VariantFactory(sku="MUG-01", cost=Decimal("35.00"))
    assert api_as(cwb_manager).get(f"/api/v1/variants/{variant.pk}/").json()["cost"] == "35.00"
    seen = api_as(cwb_cashier).get(f"/api/v1/variants/{variant.pk}/").json()
    assert seen["cost"] is None and seen["price"] == "199.00"
    product = api_as(cwb_cashier).get(f"/api/v1/products/{variant.product_id}/").json()
    assert product["variants"][0]["cost"] is None
