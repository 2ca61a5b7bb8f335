import pytest
from django.db import transaction

from omo.services.audit import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(cwb, mk, owner):
    with transaction.atomic():
        audit_record(actor=owner, action="refund.cwb", branch=cwb)
        audit_record(actor=owner, action="refund.mk", branch=mk)


def test_owner_signs_in_to_the_back_office(client, owner):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    assert client.get("/admin/omo/location/add/").status_code == 200


def test_manager_sees_the_audit_log_of_own_branch_only(client, cwb_manager, entries):
    cwb_manager.is_staff = True
    cwb_manager.save()
    client.force_login(cwb_manager)
    page = client.get("/admin/omo/auditlog/").content.decode()
    assert "refund.cwb" in page and "refund.mk" not in page
    assert client.get("/admin/omo/location/add/").status_code == 403


def test_cashier_has_no_back_office(client, cwb_cashier):
    client.force_login(cwb_cashier)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_login_page_signs_staff_in(client, cwb_cashier):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    response = client.post("/accounts/login/", {"username": "cwb-cashier", "password": "pass-1234"})
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me/").json()["username"] == "cwb-cashier"
