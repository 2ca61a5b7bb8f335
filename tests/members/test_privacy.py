"""PDPO: the data-access export (JSON and CSV) and erasure, each audited; sales figures survive erasure."""

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import include, path
from djmoney.money import Money

from members.exceptions import MemberNotFound
from members.models import ConsentRecord, Member, OtpCode, PointsEntry, Segment, SpendEntry
from members.selectors import member_list, segment_members
from members.services.members import consent_set, member_create, member_merge
from members.services.privacy import member_erase, member_export, member_export_csv
from omo.errors import ValidationFailed
from omo.models import AuditLog, Location, Role, User
from orders.members_link import members_hooks_register
from orders.models import Order
from orders.services import ShipTo, order_place
from tests.factories.omo import UserFactory
from tests.orders.conftest import dress, lines, pay, shop  # noqa: F401  (fixtures)

D = Decimal

urlpatterns = [
    path("api/v1/", include("members.api.urls_members")),
    path("", include("omo.urls")),
]
pytestmark = pytest.mark.urls(__name__)

HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


@pytest.fixture(autouse=True)
def _hooks() -> None:
    members_hooks_register()


@pytest.fixture
def chan(cwb: Location, cwb_cashier: User) -> Member:
    member = member_create(
        phone="91234567",
        name="陳小姐",
        email="chan@example.com",
        birthday=(3, 14, 1990),
        tags=["VIP"],
        consents={"sms": True, "email": True},
        source="pos:CWB",
        actor=cwb_cashier,
        location_id=cwb.pk,
    )
    PointsEntry.objects.create(member=member, kind="earn", status="available", points=120, reference="CWB-X")
    SpendEntry.objects.create(
        member=member, reference="CWB-X", order_reference="CWB-X", channel="pos", amount=Money(398, "HKD")
    )
    return member


@pytest.fixture
def orders(
    chan: Member,
    cwb: Location,
    warehouse: Location,
    cwb_cashier: User,
    dress,  # noqa: F811  (the fixture imported from tests.orders.conftest)
) -> list[Order]:
    in_store = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=cwb.pk,
        lines=lines((dress[0], 2)),
        payments=[pay("card", "398", "T-1")],
        member_id=chan.pk,
    )
    delivered = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=cwb.pk,
        fulfilment="ship",
        fulfil_from_id=warehouse.pk,
        ship_to=HOME,
        lines=lines((dress[1], 1)),
        payments=[pay("fps", "199", "FPS-1")],
        member_id=chan.pk,
        customer_email="chan@example.com",
    )
    return [in_store, delivered]


def test_export_holds_everything(chan: Member, orders: list[Order], cwb_manager: User) -> None:
    consent_set(member_id=chan.pk, channel="sms", granted=False, source="web", actor="web")
    data = member_export(member_id=chan.pk, actor=cwb_manager)
    assert data["member"]["phone"] == "+85291234567"
    assert data["member"]["name"] == "陳小姐"
    assert data["member"]["birthday"] == {"month": 3, "day": 14, "year": 1990}
    assert data["member"]["consent"] == {"sms": False, "whatsapp": False, "email": True}
    assert [(r["channel"], r["granted"]) for r in data["consent_history"]] == [
        ("sms", True),
        ("email", True),
        ("sms", False),
    ]
    assert data["points_entries"][0]["points"] == 120 and data["points_balance"] == 120
    assert data["spend_entries"][0]["amount"] == "398.00"
    assert data["attributions"][0]["reason"] == "sign-up"
    numbers = [o["number"] for o in data["orders"]]
    assert numbers == [orders[0].number, orders[1].number]
    first = data["orders"][0]
    assert first["total"] == "398.00" and first["lines"][0]["qty"] == 2
    assert first["payments"][0]["tender"] == "card"
    assert data["orders"][1]["ship_address"] == HOME.address
    log = AuditLog.objects.get(action="member.export")
    assert (log.object_id, log.actor, log.after["format"]) == (str(chan.pk), cwb_manager, "json")
    json.dumps(data)  # JSON-able as it is


def test_export_csv_is_a_zip_of_csv_files(chan: Member, orders: list[Order], cwb_manager: User) -> None:
    content = member_export_csv(member_id=chan.pk, actor=cwb_manager)
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {
        "profile.csv",
        "consent_history.csv",
        "points_entries.csv",
        "orders.csv",
        "orders_lines.csv",
    } <= names

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))

    profile = {row["field"]: row["value"] for row in rows("profile.csv")}
    assert profile["phone"] == "+85291234567" and profile["name"] == "陳小姐"
    assert {row["number"] for row in rows("orders.csv")} == {o.number for o in orders}
    assert rows("orders_lines.csv")[0]["parent"] == orders[0].number
    assert AuditLog.objects.get(action="member.export").after["format"] == "csv"


def test_erasure_removes_personal_data_but_keeps_sales(
    chan: Member, orders: list[Order], cwb_manager: User
) -> None:
    OtpCode.objects.create(phone="+85291234567", code_hash="x", expires_at=chan.created_at)
    nonce = chan.qr_nonce
    totals = {o.pk: (o.total, o.paid) for o in orders}

    member_erase(member_id=chan.pk, actor=cwb_manager, reason="customer asked in writing")

    chan.refresh_from_db()
    assert (chan.name, chan.phone, chan.email, chan.tags) == ("", None, "", [])
    assert (chan.birth_month, chan.birth_day, chan.birth_year) == (None, None, None)
    assert not (chan.consent_sms or chan.consent_email or chan.consent_whatsapp)
    assert chan.qr_nonce != nonce and chan.erased_at is not None
    assert not OtpCode.objects.exists()
    # Sales figures stay: points, spend, orders with their totals.
    assert PointsEntry.objects.filter(member=chan).count() == 1
    assert SpendEntry.objects.get(member=chan).amount == Money(398, "HKD")
    assert ConsentRecord.objects.filter(member=chan).count() == 2
    for order in Order.objects.filter(pk__in=totals):
        assert order.member_id == chan.pk
        assert (order.total, order.paid) == totals[order.pk]
        assert order.customer_name == order.customer_phone == order.customer_email == ""
        assert order.ship_name == order.ship_phone == order.ship_address == ""
    # Audited, and earlier audit records no longer hold the personal data.
    log = AuditLog.objects.get(action="member.erase")
    assert log.reason == "customer asked in writing" and log.actor == cwb_manager
    created = AuditLog.objects.get(action="member.create")
    assert created.after["phone"] == created.after["name"] == created.after["email"] == "[erased]"
    # Gone from look-ups, segments and exports.
    assert not member_list(q="91234567").exists()
    segment = Segment.objects.create(name="everyone")
    assert not segment_members(segment, channel="email").exists()
    with pytest.raises(MemberNotFound):
        member_export(member_id=chan.pk, actor=cwb_manager)
    # The number can sign up again, as a new member.
    assert member_create(phone="91234567", source="web", actor="web").pk != chan.pk


def test_erasure_deactivates_the_web_account_and_is_idempotent(chan: Member, cwb_manager: User) -> None:
    account = UserFactory(username="m-chan", role=Role.CUSTOMER, email="chan@example.com")
    Member.objects.filter(pk=chan.pk).update(user=account)
    with pytest.raises(ValidationFailed):
        member_erase(member_id=chan.pk, actor=cwb_manager, reason="")
    member_erase(member_id=chan.pk, actor=cwb_manager, reason="asked")
    account.refresh_from_db()
    assert not account.is_active and account.email == "" and "chan" not in account.username
    assert not account.has_usable_password()
    member_erase(member_id=chan.pk, actor=cwb_manager, reason="asked again")
    assert AuditLog.objects.filter(action="member.erase").count() == 1


def test_erasing_a_merged_member_erases_the_person(
    chan: Member, cwb_cashier: User, cwb_manager: User
) -> None:
    duplicate = member_create(phone="61234567", name="Chan", source="web", actor="web")
    member_merge(survivor_id=chan.pk, duplicate_id=duplicate.pk, actor=cwb_manager, reason="same")
    member_erase(member_id=duplicate.pk, actor=cwb_manager, reason="asked")
    chan.refresh_from_db()
    duplicate.refresh_from_db()
    assert chan.erased_at is not None and duplicate.erased_at is not None
    assert duplicate.name == "" and chan.name == ""
    merge_log = AuditLog.objects.get(action="member.merge")
    assert merge_log.before["duplicate"]["phone"] == "[erased]"


def test_api_export_and_erase_are_for_managers(
    api_as, chan: Member, cwb_cashier: User, cwb_manager: User, owner: User
) -> None:
    cashier = api_as(cwb_cashier)
    assert cashier.get(f"/api/v1/members/{chan.pk}/export/").status_code == 403
    assert (
        cashier.post(f"/api/v1/members/{chan.pk}/erase/", {"reason": "x"}, format="json").status_code == 403
    )
    manager = api_as(cwb_manager)
    exported = manager.get(f"/api/v1/members/{chan.pk}/export/")
    assert exported.status_code == 200 and exported.json()["member"]["phone"] == "+85291234567"
    zipped = manager.get(f"/api/v1/members/{chan.pk}/export/", {"as": "csv"})
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    assert "profile.csv" in zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert AuditLog.objects.filter(action="member.export").count() == 2
    assert manager.post(f"/api/v1/members/{chan.pk}/erase/", {}, format="json").status_code == 400
    erased = api_as(owner).post(f"/api/v1/members/{chan.pk}/erase/", {"reason": "asked"}, format="json")
    assert erased.status_code == 200 and erased.json()["erased_at"]
    assert manager.get(f"/api/v1/members/{chan.pk}/").status_code == 404
