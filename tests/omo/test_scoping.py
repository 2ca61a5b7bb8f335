"""Branch scoping lives in the base querysets: another branch's row is 404 even by its id."""

import pytest
from django.db import transaction

from omo.errors import BranchAccessDenied
from omo.models import AuditLog, Role
from omo.scoping import access_branch, branch_scope
from omo.services.accounts import api_token_create
from omo.services.audit import audit_record
from tests.factories.omo import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(cwb, mk, owner):
    with transaction.atomic():
        return {
            "cwb": audit_record(actor=owner, action="stock.adjust", branch=cwb, reason="count"),
            "mk": audit_record(actor=owner, action="stock.adjust", branch=mk, reason="damage"),
        }


def test_queryset_for_user(entries, owner, cwb_manager, mk_manager, customer):
    assert set(AuditLog.objects.for_user(owner)) == set(entries.values())
    assert list(AuditLog.objects.for_user(cwb_manager)) == [entries["cwb"]]
    assert list(AuditLog.objects.for_user(mk_manager)) == [entries["mk"]]
    assert list(AuditLog.objects.for_user(customer)) == []
    assert list(branch_scope(AuditLog.objects.all(), None)) == []


def test_other_branch_is_404_by_id(api_as, entries, cwb_manager):
    client = api_as(cwb_manager)
    assert client.get(f"/api/v1/audit-log/{entries['cwb'].pk}/").status_code == 200
    response = client.get(f"/api/v1/audit-log/{entries['mk'].pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    listed = client.get("/api/v1/audit-log/").json()["results"]
    assert [row["id"] for row in listed] == [entries["cwb"].pk]


def test_cashiers_and_customers_cannot_read_the_audit_log(api_as, entries, cwb_cashier, customer):
    assert api_as(cwb_cashier).get("/api/v1/audit-log/").status_code == 403
    assert api_as(customer).get("/api/v1/audit-log/").status_code == 403


def test_staff_of_two_branches_see_both(api_as, entries, cwb, mk):
    both = UserFactory(role=Role.MANAGER, branches=[cwb, mk])
    assert len(api_as(both).get("/api/v1/audit-log/").json()["results"]) == 2


def test_access_branch(cwb_cashier, cwb, mk, owner):
    access_branch(cwb_cashier, cwb.pk)
    access_branch(owner, mk.pk)
    with pytest.raises(BranchAccessDenied):
        access_branch(cwb_cashier, mk.pk)


def test_api_client_limited_to_its_branches(api, entries, cwb, owner):
    integration = UserFactory(role=Role.API_CLIENT, branches=[cwb])
    _, key = api_token_create(name="ERP", user=integration, scopes=["audit:read"], actor=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(f"/api/v1/audit-log/{entries['mk'].pk}/").status_code == 404
    assert api.get(f"/api/v1/audit-log/{entries['cwb'].pk}/").status_code == 200
