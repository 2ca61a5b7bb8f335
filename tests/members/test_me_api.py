"""The web shop customer's API: sign-in by one-time code with a session, then their own profile, consent,
points, tier, coupons, QR and orders. Staff and anonymous callers get 403; another customer's order is 404."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import include, path
from django.utils import timezone
from rest_framework.test import APIClient

from members import sms
from members.models import (
    ConsentRecord,
    Coupon,
    CouponTemplate,
    Member,
    OtpCode,
    PointsEntry,
    SpendEntry,
)
from members.qr import member_from_qr
from omo.models import Location, Role, User
from omo.urls import urlpatterns as site_urlpatterns
from orders.services import order_place
from tests.factories.omo import UserFactory
from tests.orders.conftest import cash, dress, lines, shop  # noqa: F401  (fixtures used below)

# The site's URLs with the customer API included as omo/urls.py includes it.
urlpatterns = [
    path("api/v1/", include("members.api.urls_me")),
    path("api/v1/", include("orders.api.urls_me_orders")),
    *site_urlpatterns,
]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PHONE = "+85291234567"


@pytest.fixture(autouse=True)
def _memory_sms(settings: Any) -> Iterator[None]:
    settings.SMS_SENDER = "members.sms.MemorySmsSender"
    cache.clear()
    sms.SENT.clear()
    yield
    sms.SENT.clear()


@pytest.fixture
def ask_code(django_capture_on_commit_callbacks: Any) -> Callable[[APIClient, str], str]:
    def ask(client: APIClient, phone: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/auth/otp/request/", {"phone": phone}, format="json")
        assert response.status_code == 202, response.data
        assert response.data == {"sent": True, "expires_in": 300}
        match = re.search(r"code: (\d{6})", sms.SENT[-1].text)
        assert match
        return match.group(1)

    return ask


@pytest.fixture
def signed_in(ask_code: Callable[[APIClient, str], str]) -> APIClient:
    """A browser that signed in by code, with CSRF checks on as in a real browser."""
    client = APIClient(enforce_csrf_checks=True)
    code = ask_code(client, "9123 4567")
    response = client.post("/api/v1/auth/otp/verify/", {"phone": "9123 4567", "code": code}, format="json")
    assert response.status_code == 200, response.data
    return client


def csrf(client: APIClient) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def customer_of(member: Member) -> User:
    user = UserFactory(username=f"m{member.pk}", role=Role.CUSTOMER)
    member.user = user
    member.save(update_fields=["user"])
    return user


@pytest.fixture
def me(db: None) -> Member:
    return Member.objects.create(phone=PHONE, name="陳小姐", qr_nonce="n1")


@pytest.fixture
def me_client(me: Member, api_as: Callable[[User], APIClient]) -> APIClient:
    return api_as(customer_of(me))


# --- Sign-in ------------------------------------------------------------------------------------------------


def test_sign_in_by_code_starts_a_session_and_writes_need_the_csrf_token(signed_in):
    member = Member.objects.get(phone=PHONE)
    assert member.user is not None and member.user.role == Role.CUSTOMER
    assert not (member.consent_sms or member.consent_whatsapp or member.consent_email)

    profile = signed_in.get("/api/v1/me/")
    assert profile.status_code == 200
    assert profile.data["phone"] == PHONE and profile.data["consent"] == {
        "sms": False,
        "whatsapp": False,
        "email": False,
    }

    refused = signed_in.patch("/api/v1/me/", {"name": "Chan Tai Man"}, format="json")
    assert refused.status_code == 403  # no CSRF token
    changed = signed_in.patch("/api/v1/me/", {"name": "Chan Tai Man"}, format="json", **csrf(signed_in))
    assert changed.status_code == 200, changed.data
    assert changed.data["name"] == "Chan Tai Man"

    consent = signed_in.post(
        "/api/v1/me/consent/", {"channel": "whatsapp", "granted": True}, format="json", **csrf(signed_in)
    )
    assert consent.status_code == 200, consent.data
    assert consent.data["consent"]["whatsapp"] is True
    record = ConsentRecord.objects.get(member=member)
    assert (record.channel, record.granted, record.source) == ("whatsapp", True, "web")


def test_the_verify_response_is_the_profile(ask_code):
    client = APIClient(enforce_csrf_checks=True)
    code = ask_code(client, PHONE)
    response = client.post(
        "/api/v1/auth/otp/verify/",
        {"phone": PHONE, "code": code},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-Hant",
    )
    assert response.status_code == 200
    assert response.data["phone"] == PHONE and response.data["tier"] == "silver"
    assert response.data["language"] == "zh-hant"  # the language the shop was browsed in
    assert "sessionid" in response.cookies and "csrftoken" in response.cookies


def test_a_signed_in_browser_can_sign_in_again_without_a_csrf_token(signed_in, ask_code):
    cache.clear()  # past the resend cooldown
    code = ask_code(signed_in, PHONE)
    response = signed_in.post("/api/v1/auth/otp/verify/", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 200
    assert Member.objects.count() == 1


def test_request_answers_the_same_for_members_and_strangers(ask_code, me):
    client = APIClient()
    ask_code(client, PHONE)  # a member
    ask_code(client, "61234567")  # nobody


def test_wrong_code_says_how_many_tries_are_left(ask_code):
    client = APIClient()
    code = ask_code(client, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post("/api/v1/auth/otp/verify/", {"phone": PHONE, "code": wrong}, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "otp_invalid" and response.data["extra"] == {"attempts_left": 4}
    assert OtpCode.objects.get().attempts == 1
    assert client.get("/api/v1/me/").status_code == 403


def test_too_many_requests_is_429_with_retry_after(ask_code):
    client = APIClient()
    ask_code(client, PHONE)
    response = client.post("/api/v1/auth/otp/request/", {"phone": PHONE}, format="json")
    assert response.status_code == 429
    assert response.data["code"] == "otp_rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 30


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_limit(ask_code, settings):
    settings.OTP_MAX_PER_IP = 2
    client = APIClient()
    ask_code(client, "91234567")
    ask_code(client, "61234567")
    response = client.post(
        "/api/v1/auth/otp/request/", {"phone": "51234567"}, format="json", HTTP_X_FORWARDED_FOR="192.0.2.99"
    )
    assert response.status_code == 429


def test_not_a_mobile_number_is_400():
    landline = "2123 4567"
    response = APIClient().post("/api/v1/auth/otp/request/", {"phone": landline}, format="json")
    assert response.status_code == 400
    assert "phone" in response.data["extra"]["fields"]
    assert not sms.SENT


def test_sign_in_takes_json_only(ask_code):
    """A cross-site HTML form cannot post JSON, so it cannot sign a visitor in to another account."""
    client = APIClient()
    code = ask_code(client, PHONE)
    response = client.post("/api/v1/auth/otp/verify/", {"phone": PHONE, "code": code})  # multipart
    assert response.status_code == 415


def test_logout_ends_the_session(signed_in):
    assert signed_in.post("/api/v1/auth/logout/").status_code == 403  # CSRF token needed while signed in
    assert signed_in.post("/api/v1/auth/logout/", **csrf(signed_in)).status_code == 204
    assert signed_in.get("/api/v1/me/").status_code == 403


# --- Who may call /me ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["me/", "me/points/", "me/tier/", "me/coupons/", "me/qr/", "me/orders/"])
def test_anonymous_staff_and_memberless_customers_get_403(url, api, api_as, owner, cwb_cashier, customer):
    assert api.get(f"/api/v1/{url}").status_code == 403
    assert api_as(owner).get(f"/api/v1/{url}").status_code == 403
    assert api_as(cwb_cashier).get(f"/api/v1/{url}").status_code == 403
    assert api_as(customer).get(f"/api/v1/{url}").status_code == 403  # a customer user with no member


def test_an_erased_member_has_no_me(me, me_client):
    Member.objects.filter(pk=me.pk).update(erased_at=timezone.now(), phone=None)
    assert me_client.get("/api/v1/me/").status_code == 403


# --- Profile, points, tier, coupons, QR ---------------------------------------------------------------------


def test_profile_changes_and_the_phone_stays(me, me_client):
    response = me_client.patch(
        "/api/v1/me/",
        {
            "email": "Chan@Example.com",
            "birth_month": 2,
            "birth_day": 29,
            "language": "en",
            "phone": "61234567",
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    me.refresh_from_db()
    assert (me.email, me.birth_month, me.birth_day, me.birth_year, me.language) == (
        "chan@example.com",
        2,
        29,
        None,
        "en",
    )
    assert str(me.phone) == PHONE
    # 29 February 1990 and 31 April do not exist; French is not offered.
    for refused in ({"birth_year": 1990}, {"birth_day": 31, "birth_month": 4}, {"language": "fr"}):
        assert me_client.patch("/api/v1/me/", refused, format="json").status_code == 400, refused
    cleared = me_client.patch("/api/v1/me/", {"birth_month": None, "birth_day": None}, format="json")
    assert cleared.status_code == 200 and cleared.data["birth_month"] is None


def test_consent_channel_must_be_known(me_client):
    response = me_client.post("/api/v1/me/consent/", {"channel": "fax", "granted": True}, format="json")
    assert response.status_code == 400


def test_points_available_pending_and_history(me, me_client):
    other = Member.objects.create(phone="+85261234567")
    PointsEntry.objects.create(member=me, kind="earn", status="available", points=120, reference="CWB-1")
    PointsEntry.objects.create(member=me, kind="earn", status="pending", points=30, reference="WEB-2")
    PointsEntry.objects.create(member=me, kind="redeem", status="available", points=-20, reference="CWB-3-P")
    PointsEntry.objects.create(member=other, kind="earn", status="available", points=999, reference="MK-9")
    response = me_client.get("/api/v1/me/points/")
    assert response.status_code == 200
    assert (response.data["available"], response.data["pending"]) == (100, 30)
    assert [row["points"] for row in response.data["history"]] == [-20, 30, 120]


def test_tier_with_spend_and_what_the_next_tier_needs(me, me_client):
    SpendEntry.objects.create(
        member=me, reference="CWB-1", order_reference="CWB-1", channel="pos", amount=800
    )
    SpendEntry.objects.create(
        member=me, reference="WEB-2", order_reference="WEB-2", channel="web", amount=400
    )
    SpendEntry.objects.create(
        member=me,
        reference="OLD",
        order_reference="OLD",
        channel="pos",
        amount=9000,
        at=timezone.now() - timedelta(days=400),
    )
    response = me_client.get("/api/v1/me/tier/")
    assert response.status_code == 200
    assert response.data["tier"] == "silver"
    assert Decimal(response.data["spend_12m"]) == Decimal("1200")
    assert response.data["next_tier"] == "gold"
    assert Decimal(response.data["to_next_tier"]) == Decimal("3800")
    Member.objects.filter(pk=me.pk).update(tier="platinum")
    top = me_client.get("/api/v1/me/tier/").data
    assert top["next_tier"] is None and top["to_next_tier"] is None


def test_coupons_are_the_members_own(me, me_client):
    template = CouponTemplate.objects.create(
        code="welcome", name_en="Welcome", name_zh_hant="歡迎", kind="amount", value=Decimal("50")
    )
    other = Member.objects.create(phone="+85261234567")
    Coupon.objects.create(template=template, member=me, code="MINE1", source="welcome")
    Coupon.objects.create(
        template=template,
        member=me,
        code="MINE2",
        source="welcome",
        status="redeemed",
        redeemed_at=timezone.now(),
        issue_key="x",
    )
    Coupon.objects.create(template=template, member=other, code="THEIRS", source="welcome")
    every = me_client.get("/api/v1/me/coupons/")
    assert every.status_code == 200
    assert sorted(row["code"] for row in every.data) == ["MINE1", "MINE2"]
    usable = me_client.get("/api/v1/me/coupons/?usable=true").data
    assert [row["code"] for row in usable] == ["MINE1"]
    assert usable[0]["value"] == "50.00" and usable[0]["name_zh_hant"] == "歡迎"


def test_qr_is_a_fresh_token_for_the_member(me, me_client):
    response = me_client.get("/api/v1/me/qr/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert member_from_qr(response.data["token"]).pk == me.pk
    assert response.data["svg"].startswith("<svg") and response.data["expires_in"] == 300


# --- Orders -------------------------------------------------------------------------------------------------


def test_my_orders_are_only_my_own(me, me_client, cwb_cashier, shop, dress):  # noqa: F811
    other = Member.objects.create(phone="+85261234567")

    def sale(member: Member) -> str:
        location: Location = shop["cwb"]
        order = order_place(
            actor=cwb_cashier,
            channel="pos",
            location_id=location.pk,
            lines=lines((dress[0], 1)),
            payments=[cash("200")],
            member_id=member.pk,
        )
        return order.number

    mine, theirs = sale(me), sale(other)
    listed = me_client.get("/api/v1/me/orders/")
    assert listed.status_code == 200
    assert [row["number"] for row in listed.data["results"]] == [mine]
    assert listed.data["results"][0]["total"] == "199.00"

    detail = me_client.get(f"/api/v1/me/orders/{mine}/")
    assert detail.status_code == 200
    assert detail.data["lines"][0]["sku"] == "DRESS-S"
    assert detail.data["payments"] == [
        {"tender": "cash", "amount": "199.00", "created_at": detail.data["payments"][0]["created_at"]}
    ]
    assert "cashier" not in detail.data and "note" not in detail.data
    assert detail.data["receipt_url"]

    assert me_client.get(f"/api/v1/me/orders/{theirs}/").status_code == 404
    assert me_client.get("/api/v1/me/orders/NOPE-1/").status_code == 404
