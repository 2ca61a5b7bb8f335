"""Locations: opening hours, pickup points and shipping locations, in the API and the back office."""

import pytest

from omo.models import AuditLog, Location

pytestmark = pytest.mark.django_db

CLOSED_WEEK = {"mon": "", "tue": "", "wed": "", "thu": "", "fri": "", "sat": "", "sun": ""}


def test_create_with_opening_hours_and_flags(api_as, owner):
    response = api_as(owner).post(
        "/api/v1/locations/",
        {
            "code": "TST",
            "name_en": "Tsim Sha Tsui",
            "name_zh_hant": "尖沙咀",
            "opening_hours": {"mon": "11:00-21:00", "sat": "11:00-14:00, 15:00-22:00", "sun": ""},
            "is_pickup_point": True,
            "ships_orders": False,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["opening_hours"] == {**CLOSED_WEEK, "mon": "11:00-21:00", "sat": "11:00-14:00,15:00-22:00"}
    assert (body["is_pickup_point"], body["ships_orders"]) == (True, False)
    location = Location.objects.get(code="TST")
    assert location.opening_hours["sat"] == "11:00-14:00,15:00-22:00"
    assert AuditLog.objects.get(action="location.create").after["is_pickup_point"] is True


def test_defaults_are_closed_and_off(api_as, owner, cwb):
    body = api_as(owner).get(f"/api/v1/locations/{cwb.pk}/").json()
    assert body["opening_hours"] == CLOSED_WEEK
    assert (body["is_pickup_point"], body["ships_orders"]) == (False, False)


@pytest.mark.parametrize(
    ("hours", "bad_day"),
    [
        ({"mon": "11-21"}, "mon"),
        ({"tue": "25:00-26:00"}, "tue"),
        ({"wed": "21:00-11:00"}, "wed"),
        ({"thu": "11:00-15:00,14:00-20:00"}, "thu"),
        ({"funday": "11:00-21:00"}, "funday"),
        ({"fri": 11}, "fri"),
    ],
)
def test_bad_opening_hours_are_400_naming_the_day(api_as, owner, cwb, hours, bad_day):
    response = api_as(owner).patch(f"/api/v1/locations/{cwb.pk}/", {"opening_hours": hours}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["extra"]["fields"]["opening_hours"]) == {bad_day}
    cwb.refresh_from_db()
    assert cwb.opening_hours == {}


def test_opening_hours_must_be_an_object(api_as, owner, cwb):
    response = api_as(owner).patch(f"/api/v1/locations/{cwb.pk}/", {"opening_hours": "always"}, format="json")
    assert response.status_code == 400
    assert "opening_hours" in response.json()["extra"]["fields"]


def test_update_flags_and_hours_is_audited(api_as, owner, cwb):
    response = api_as(owner).patch(
        f"/api/v1/locations/{cwb.pk}/",
        {"ships_orders": True, "opening_hours": {"sun": "12:00-20:00", "mon": ""}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["ships_orders"] is True
    assert response.json()["opening_hours"]["sun"] == "12:00-20:00"
    entry = AuditLog.objects.get(action="location.update")
    assert entry.before["ships_orders"] is False and entry.after["ships_orders"] is True
    assert entry.after["opening_hours"]["sun"] == "12:00-20:00"


def test_closing_at_midnight(api_as, owner, cwb):
    response = api_as(owner).patch(
        f"/api/v1/locations/{cwb.pk}/", {"opening_hours": {"sat": "18:00-24:00"}}, format="json"
    )
    assert response.status_code == 200 and response.json()["opening_hours"]["sat"] == "18:00-24:00"


def test_managers_cannot_change_a_location(api_as, cwb_manager, cwb):
    response = api_as(cwb_manager).patch(
        f"/api/v1/locations/{cwb.pk}/", {"ships_orders": True}, format="json"
    )
    assert response.status_code == 403


def test_back_office_shows_and_checks_the_new_fields(client, owner, cwb):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    page = client.get("/admin/omo/location/").content.decode()
    assert "is_pickup_point" in page and "ships_orders" in page
    form = {
        "code": "CWB",
        "kind": "branch",
        "name_en": "Causeway Bay",
        "name_zh_hant": "銅鑼灣",
        "address_en": "",
        "address_zh_hant": "",
        "phone": "",
        "opening_hours": '{"mon": "11:00-9pm"}',
        "is_pickup_point": "on",
        "is_active": "on",
    }
    refused = client.post(f"/admin/omo/location/{cwb.pk}/change/", form)
    assert refused.status_code == 200
    assert "mon: Use HH:MM-HH:MM" in refused.content.decode()
    cwb.refresh_from_db()
    assert cwb.is_pickup_point is False
    saved = client.post(
        f"/admin/omo/location/{cwb.pk}/change/", {**form, "opening_hours": '{"mon": "11:00-21:00"}'}
    )
    assert saved.status_code == 302
    cwb.refresh_from_db()
    assert cwb.is_pickup_point is True
    assert cwb.opening_hours == {**CLOSED_WEEK, "mon": "11:00-21:00"}


def test_pin_switch_branch_with_a_nul_byte_is_400_not_a_server_error(api, cwb):
    response = api.post(
        "/api/v1/auth/pin-switch/", {"username": "x", "pin": "1234", "branch": "C\x00"}, format="json"
    )
    assert response.status_code == 400
    assert "branch" in response.json()["extra"]["fields"]
