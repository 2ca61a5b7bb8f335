"""Stock counts API: open a sheet, record scans and typed figures, variance, post (managers), cancel."""

import pytest

from catalog.models import Barcode
from inventory.models import CountStatus, StockCount
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements

pytestmark = pytest.mark.django_db


@pytest.fixture
def cashier(api_as, cwb_cashier):
    return api_as(cwb_cashier)


def open_count(client, location, **extra):
    response = client.post("/api/v1/stock-counts/", {"location": location.pk, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_count_scan_variance_and_post(cashier, api_as, cwb_manager, variant, cwb, stocked):
    stocked(5)
    Barcode.objects.create(variant=variant, code="4890000000028")
    count = open_count(cashier, cwb, note="Monday count")
    assert (count["status"], count["location_code"], count["lines"]) == ("open", "CWB", [])
    url = f"/api/v1/stock-counts/{count['id']}"
    first = cashier.post(f"{url}/record/", {"code": "4890000000028"}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json() == {
        "variant": variant.pk,
        "sku": "DRS-001-M",
        "name": first.json()["name"],
        "counted": 1,
    }
    assert cashier.post(f"{url}/record/", {"code": "drs-001-m"}, format="json").json()["counted"] == 2
    assert (
        cashier.post(
            f"{url}/record/", {"variant": variant.pk, "qty": 4, "mode": "set"}, format="json"
        ).json()["counted"]
        == 4
    )
    assert (
        cashier.post(f"{url}/record/", {"code": "drs-001-m", "qty": -1}, format="json").json()["counted"] == 3
    )
    variance = cashier.get(f"{url}/variance/").json()
    assert [(row["sku"], row["counted"], row["expected"], row["variance"]) for row in variance] == [
        ("DRS-001-M", 3, 5, -2)
    ]
    detail = cashier.get(f"{url}/").json()
    assert [(line["sku"], line["counted"], line["counted_by"]) for line in detail["lines"]] == [
        ("DRS-001-M", 3, "cwb-cashier")
    ]

    refused = cashier.post(f"{url}/post/")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert level(variant, cwb) == (5, 0)
    posted = api_as(cwb_manager).post(f"{url}/post/")
    assert posted.status_code == 200
    assert posted.json()["status"] == "posted" and posted.json()["posted_by"] == "cwb-manager"
    assert posted.json()["lines"][0]["expected"] == 5
    assert level(variant, cwb) == (3, 0)
    assert movements(variant, cwb)[-1] == ("count_adjustment", -2, 3)
    closed = cashier.post(f"{url}/record/", {"code": "drs-001-m"}, format="json")
    assert closed.status_code == 409 and closed.json()["code"] == "stock_count_closed"


def test_unknown_code_is_404(cashier, cwb):
    count = open_count(cashier, cwb)
    response = cashier.post(f"/api/v1/stock-counts/{count['id']}/record/", {"code": "0000"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "variant_not_found"
    by_id = cashier.post(f"/api/v1/stock-counts/{count['id']}/record/", {"variant": 999999}, format="json")
    assert by_id.status_code == 404 and by_id.json()["code"] == "variant_not_found"


def test_record_input_errors(cashier, variant, cwb):
    count = open_count(cashier, cwb)
    url = f"/api/v1/stock-counts/{count['id']}/record/"
    assert cashier.post(url, {}, format="json").status_code == 400
    assert cashier.post(url, {"code": "X", "variant": variant.pk}, format="json").status_code == 400
    assert (
        cashier.post(url, {"variant": variant.pk, "qty": -1, "mode": "set"}, format="json").status_code == 400
    )
    assert cashier.post(url, {"variant": variant.pk, "mode": "guess"}, format="json").status_code == 400
    below_zero = cashier.post(url, {"variant": variant.pk, "qty": -1}, format="json")
    assert below_zero.status_code == 400


def test_a_retried_scan_counts_once(cashier, variant, cwb):
    count = open_count(cashier, cwb)
    url = f"/api/v1/stock-counts/{count['id']}/record/"
    for _ in range(2):
        response = cashier.post(url, {"variant": variant.pk}, format="json", HTTP_IDEMPOTENCY_KEY="scan-0001")
        assert response.json()["counted"] == 1
    assert (
        cashier.post(url, {"variant": variant.pk}, format="json", HTTP_IDEMPOTENCY_KEY="scan-0002").json()[
            "counted"
        ]
        == 2
    )


def test_full_count_variance_lists_uncounted_stock(cashier, variant, cwb, stocked):
    stocked(5)
    tee = stocked(2, of=VariantFactory(sku="TEE-S"))
    count = open_count(cashier, cwb, full=True)
    cashier.post(
        f"/api/v1/stock-counts/{count['id']}/record/", {"variant": variant.pk, "qty": 5}, format="json"
    )
    variance = cashier.get(f"/api/v1/stock-counts/{count['id']}/variance/").json()
    assert [(row["sku"], row["counted"], row["expected"]) for row in variance] == [
        ("DRS-001-M", 5, 5),
        ("TEE-S", 0, 2),
    ]
    assert tee.sku == "TEE-S"


def test_counts_are_branch_scoped(cashier, api_as, mk_manager, cwb, mk):
    count = open_count(cashier, cwb)
    other = open_count(api_as(mk_manager), mk)
    assert [row["id"] for row in cashier.get("/api/v1/stock-counts/").json()["results"]] == [count["id"]]
    assert cashier.get(f"/api/v1/stock-counts/{other['id']}/").status_code == 404
    assert cashier.get(f"/api/v1/stock-counts/{other['id']}/variance/").status_code == 404
    elsewhere = cashier.post("/api/v1/stock-counts/", {"location": mk.pk}, format="json")
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "branch_access_denied"


def test_cancel(cashier, api_as, cwb_manager, cwb):
    count = open_count(cashier, cwb)
    response = api_as(cwb_manager).post(f"/api/v1/stock-counts/{count['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert StockCount.objects.get(pk=count["id"]).status == CountStatus.CANCELLED
    again = api_as(cwb_manager).post(f"/api/v1/stock-counts/{count['id']}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "stock_count_closed"
