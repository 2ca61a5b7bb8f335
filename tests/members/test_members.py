"""The member record: sign-up, numbers, consent, attribution, look-ups at the counter, the QR, merging."""

import time
from decimal import Decimal

import pytest
from django.core import signing
from django.urls import include, path
from djmoney.money import Money

from members.exceptions import MemberNotFound
from members.models import (
    ConsentRecord,
    Coupon,
    CouponTemplate,
    Member,
    PointsEntry,
    SpendEntry,
    StaffAttribution,
)
from members.qr import member_from_qr, member_qr_token
from members.selectors import member_get, member_lookup_phone, members_lookup_last4
from members.services import members as svc
from members.services.members import (
    MemberMergeRefused,
    MemberPhoneTaken,
    attribution_set,
    consent_set,
    member_create,
    member_merge,
    member_qr_rotate,
    member_update,
)
from members.services.privacy import member_erase
from omo.errors import BranchAccessDenied, ValidationFailed
from omo.models import AuditLog, Location, OutboxMessage, User
from orders.members_link import members_hooks_register
from orders.models import Order
from orders.services import order_place
from tests.orders.conftest import dress, lines, pay, shop  # noqa: F401  (fixtures)

D = Decimal

# Until omo/urls.py includes members.api.urls_members, the tests serve it themselves (harmless after).
urlpatterns = [
    path("api/v1/", include("members.api.urls_members")),
    path("api/v1/", include("orders.api.urls_commission")),
    path("", include("omo.urls")),
]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def _hooks() -> None:
    members_hooks_register()


def sign_up(actor: User, phone: str = "91234567", **kw) -> Member:
    kw.setdefault("source", "pos:CWB")
    return member_create(phone=phone, actor=actor, **kw)


# --- numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["+852 9123 4567", "91234567", "852-9123-4567", "9123-4567", "+85291234567"]
)
def test_phone_normalised_to_e164(cwb_cashier: User, typed: str) -> None:
    member = sign_up(cwb_cashier, typed)
    member.refresh_from_db()
    assert str(member.phone) == "+85291234567"


def test_another_country_given_with_plus(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier, "+86 138 0013 8000")
    assert str(Member.objects.get(pk=member.pk).phone) == "+8613800138000"


@pytest.mark.parametrize("typed", ["1234", "", "2123 4567", "1234 5678", "abc", "+852 9123 456"])
def test_not_a_mobile_number_refused(cwb_cashier: User, typed: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        sign_up(cwb_cashier, typed)
    assert "phone" in error.value.extra["fields"]
    assert not Member.objects.exists()


def test_duplicate_number_refused_naming_the_member(cwb_cashier: User) -> None:
    first = sign_up(cwb_cashier, "91234567")
    with pytest.raises(MemberPhoneTaken) as error:
        sign_up(cwb_cashier, "+852 9123-4567")
    assert error.value.http_status == 409
    assert error.value.extra == {"member_id": first.pk}


def test_two_tills_at_once_the_unique_index_decides(cwb_cashier: User, monkeypatch) -> None:
    """The other till's insert lands between the check and the insert: its IntegrityError is a 409."""
    first = sign_up(cwb_cashier, "91234567")
    calls = []

    def owner_not_seen_yet(phone: str):
        calls.append(phone)
        return None if len(calls) == 1 else Member.objects.filter(phone=phone).first()

    monkeypatch.setattr(svc, "phone_owner", owner_not_seen_yet)
    with pytest.raises(MemberPhoneTaken) as error:
        sign_up(cwb_cashier, "91234567")
    assert error.value.extra == {"member_id": first.pk}
    assert Member.objects.count() == 1


# --- sign-up ----------------------------------------------------------------------------------------------


def test_sign_up_in_store(cwb: Location, cwb_cashier: User) -> None:
    member = sign_up(
        cwb_cashier,
        name="  陳  小姐 ",
        email="Chan@Example.com",
        birthday=(2, 29, None),
        tags=["VIP", "vip", " dresses "],
        consents={"sms": True, "email": False},
        location_id=cwb.pk,
    )
    member.refresh_from_db()
    assert (member.name, member.email) == ("陳 小姐", "chan@example.com")
    assert (member.birth_month, member.birth_day, member.birth_year) == (2, 29, None)
    assert member.tags == ["VIP", "dresses"]
    assert (member.consent_sms, member.consent_whatsapp, member.consent_email) == (True, False, False)
    assert member.joined_at_location == cwb
    assert member.qr_nonce
    records = list(ConsentRecord.objects.filter(member=member).values_list("channel", "granted", "source"))
    assert records == [("sms", True, "pos:CWB")]
    assert ConsentRecord.objects.get(member=member).actor_label == "cwb-cashier"
    # Signed up in store: attributed to the cashier.
    assert member.attributed_staff == cwb_cashier
    assert StaffAttribution.objects.get(member=member).reason == "sign-up"
    log = AuditLog.objects.get(action="member.create")
    assert (log.object_id, log.actor, log.branch_id) == (str(member.pk), cwb_cashier, cwb.pk)
    assert OutboxMessage.objects.filter(
        task_name="members.tasks.coupons_welcome_issue_task", kwargs={"member_id": member.pk}
    ).exists()


def test_consent_is_off_by_default(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier)
    assert not any(member.consent(channel) for channel in ("sms", "whatsapp", "email"))
    assert not ConsentRecord.objects.exists()


def test_attributed_to_another_staff_member(cwb_cashier: User, cwb_manager: User, customer: User) -> None:
    member = sign_up(cwb_cashier, attributed_staff_id=cwb_manager.pk)
    assert member.attributed_staff == cwb_manager
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, "61234567", attributed_staff_id=customer.pk)


def test_web_sign_up_is_not_attributed(cwb_cashier: User) -> None:
    member = member_create(phone="91234567", source="web", actor="web")
    assert member.attributed_staff is None
    assert not StaffAttribution.objects.exists()


def test_a_cashier_signs_up_at_their_own_branch_only(mk: Location, cwb_cashier: User) -> None:
    with pytest.raises(BranchAccessDenied):
        sign_up(cwb_cashier, location_id=mk.pk)


@pytest.mark.parametrize(
    "birthday", [(2, 30, None), (2, 29, 2001), (13, 1, None), (0, 1, None), (4, 31, 1990), (1, 1, 1800)]
)
def test_birthday_must_be_a_real_date(cwb_cashier: User, birthday) -> None:
    with pytest.raises(ValidationFailed) as error:
        sign_up(cwb_cashier, birthday=birthday)
    assert "birthday" in error.value.extra["fields"]


def test_sign_up_checks_email_language_channel(cwb_cashier: User) -> None:
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, email="not-an-email")
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, language="fr")
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, consents={"fax": True})
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, source="")
    with pytest.raises(ValidationFailed):
        sign_up(cwb_cashier, location_id=999999)


def test_update(cwb_cashier: User, cwb_manager: User) -> None:
    member = sign_up(cwb_cashier, name="Chan", birthday=(5, 6, 1990))
    member_update(member_id=member.pk, actor=cwb_manager, name="Chan Siu Ming", birthday=None, tags=["VIP"])
    member.refresh_from_db()
    assert (member.name, member.birth_month, member.tags) == ("Chan Siu Ming", None, ["VIP"])
    log = AuditLog.objects.get(action="member.update")
    assert log.before == {"name": "Chan", "birthday": [5, 6, 1990], "tags": []}
    assert log.after == {"name": "Chan Siu Ming", "birthday": None, "tags": ["VIP"]}


# --- consent and attribution --------------------------------------------------------------------------------


def test_consent_history_and_effect(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier)
    consent_set(member_id=member.pk, channel="whatsapp", granted=True, source="pos:CWB", actor=cwb_cashier)
    member.refresh_from_db()
    assert member.consent_whatsapp
    consent_set(member_id=member.pk, channel="whatsapp", granted=False, source="web", actor="web")
    member.refresh_from_db()
    assert not member.consent_whatsapp
    history = list(
        ConsentRecord.objects.filter(member=member).order_by("pk").values_list("granted", "source")
    )
    assert history == [(True, "pos:CWB"), (False, "web")]
    assert AuditLog.objects.filter(action="member.consent", object_id=str(member.pk)).count() == 2
    with pytest.raises(ValidationFailed):
        consent_set(member_id=member.pk, channel="fax", granted=True, source="web", actor="web")


def test_attribution_by_staff_action_needs_a_reason(cwb_cashier: User, cwb_manager: User) -> None:
    member = member_create(phone="91234567", source="web", actor="web")
    with pytest.raises(ValidationFailed):
        attribution_set(member_id=member.pk, staff_id=cwb_cashier.pk, reason=" ", actor=cwb_manager)
    attribution_set(
        member_id=member.pk, staff_id=cwb_cashier.pk, reason="Served her on Saturday", actor=cwb_manager
    )
    member.refresh_from_db()
    assert member.attributed_staff == cwb_cashier and member.attributed_at is not None
    row = StaffAttribution.objects.get(member=member)
    assert (row.reason, row.actor_label) == ("Served her on Saturday", "cwb-manager")
    assert AuditLog.objects.get(action="member.attribution").reason == "Served her on Saturday"


# --- look-ups ----------------------------------------------------------------------------------------------


def test_lookup_by_full_number_any_format(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier, "91234567")
    for typed in ("9123 4567", "+852-9123-4567", "85291234567"):
        assert member_lookup_phone(typed) == member
    with pytest.raises(MemberNotFound):
        member_lookup_phone("61234567")
    with pytest.raises(ValidationFailed):
        member_lookup_phone("12")


def test_lookup_by_last_four_and_name(cwb_cashier: User) -> None:
    chan = sign_up(cwb_cashier, "91234567", name="Chan Tai Man")
    sign_up(cwb_cashier, "61234567", name="Wong")
    sign_up(cwb_cashier, "91230000", name="Chan Siu Ming")
    assert members_lookup_last4(last4="4567", name="chan") == [chan]
    assert members_lookup_last4(last4="4567", name="nobody") == []
    for last4, name in (("4567", ""), ("456", "chan"), ("45a7", "chan"), ("", "chan")):
        with pytest.raises(ValidationFailed):
            members_lookup_last4(last4=last4, name=name)


def test_lookup_by_last_four_gives_at_most_ten(cwb_cashier: User) -> None:
    for n in range(12):
        sign_up(cwb_cashier, f"6{n + 100:03d}4567", name=f"Chan {n}")
    assert len(members_lookup_last4(last4="4567", name="chan")) == 10


def test_lookups_never_show_erased_members(cwb_cashier: User, cwb_manager: User) -> None:
    member = sign_up(cwb_cashier, "91234567", name="Chan")
    member_erase(member_id=member.pk, actor=cwb_manager, reason="customer asked by e-mail")
    with pytest.raises(MemberNotFound):
        member_lookup_phone("91234567")
    assert members_lookup_last4(last4="4567", name="chan") == []


# --- QR ----------------------------------------------------------------------------------------------------


def test_qr_token_reads_the_member(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier)
    assert member_from_qr(member_qr_token(member)) == member


def test_qr_token_edited_for_another_member_refused(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier, "91234567")
    other = sign_up(cwb_cashier, "61234567")
    token = member_qr_token(member)
    _value, stamp, signature = token.rsplit(":", 2)
    forged = f"{other.pk}.{other.qr_nonce}:{stamp}:{signature}"
    with pytest.raises(MemberNotFound):
        member_from_qr(forged)
    for junk in ("", "garbage", token + "x", f"{other.pk}"):
        with pytest.raises(MemberNotFound):
            member_from_qr(junk)


def test_qr_token_expires(cwb_cashier: User, monkeypatch, settings) -> None:
    settings.MEMBER_QR_MAX_AGE_SECONDS = 300
    member = sign_up(cwb_cashier)
    real = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() - 301)
    old = member_qr_token(member)
    monkeypatch.setattr(signing.time, "time", lambda: real() - 200)
    recent = member_qr_token(member)
    monkeypatch.setattr(signing.time, "time", real)
    with pytest.raises(MemberNotFound):
        member_from_qr(old)
    assert member_from_qr(recent) == member


def test_qr_token_refused_after_rotation(cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier)
    token = member_qr_token(member)
    rotated = member_qr_rotate(member_id=member.pk, actor=cwb_cashier)
    with pytest.raises(MemberNotFound):
        member_from_qr(token)
    assert member_from_qr(member_qr_token(rotated)) == member
    assert AuditLog.objects.filter(action="member.qr_rotate").exists()


# --- merge -------------------------------------------------------------------------------------------------


@pytest.fixture
def welcome() -> CouponTemplate:
    return CouponTemplate.objects.create(
        code="welcome", name_en="Welcome", name_zh_hant="迎新", kind="amount", value=D("50")
    )


def history(member: Member, welcome: CouponTemplate, tag: str) -> None:
    PointsEntry.objects.create(
        member=member, kind="earn", status="available", points=100, reference=f"{tag}-1"
    )
    SpendEntry.objects.create(
        member=member,
        reference=f"{tag}-1",
        order_reference=f"{tag}-1",
        channel="pos",
        amount=Money(500, "HKD"),
    )
    Coupon.objects.create(
        template=welcome, member=member, code=f"W{tag}", source="welcome", issue_key="welcome"
    )


def test_merge_moves_everything_and_is_audited(
    cwb: Location,
    cwb_cashier: User,
    cwb_manager: User,
    welcome: CouponTemplate,
    dress,  # noqa: F811  (the fixture imported from tests.orders.conftest)
) -> None:
    survivor = sign_up(cwb_cashier, "91234567", name="Chan", tags=["VIP"], consents={"sms": True})
    duplicate = member_create(
        phone="61234567",
        source="web",
        actor="web",
        email="chan@example.com",
        birthday=(7, 8, None),
        tags=["dresses", "vip"],
        consents={"email": True},
    )
    history(survivor, welcome, "S")
    history(duplicate, welcome, "D")
    # Later, on the duplicate, the SMS consent given on the survivor is withdrawn: the latest wins.
    consent_set(member_id=duplicate.pk, channel="sms", granted=False, source="web", actor="web")
    attribution_set(member_id=duplicate.pk, staff_id=cwb_manager.pk, reason="regular", actor=cwb_manager)
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=cwb.pk,
        lines=lines((dress[0], 1)),
        payments=[pay("card", "199", "T-1")],
        member_id=duplicate.pk,
    )

    merged = member_merge(
        survivor_id=survivor.pk,
        duplicate_id=duplicate.pk,
        actor=cwb_manager,
        reason="same person, two numbers",
    )

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert merged == survivor
    assert PointsEntry.objects.filter(member=survivor).count() == 2
    assert SpendEntry.objects.filter(member=survivor).count() == 2
    assert Coupon.objects.filter(member=survivor).count() == 2
    assert set(Coupon.objects.filter(member=survivor).values_list("issue_key", flat=True)) == {
        "welcome",
        f"welcome:m{duplicate.pk}",
    }
    assert ConsentRecord.objects.filter(member=survivor).count() == 3
    assert StaffAttribution.objects.filter(member=survivor).count() == 2
    assert not any(
        model.objects.filter(member=duplicate).exists()
        for model in (PointsEntry, SpendEntry, Coupon, ConsentRecord, StaffAttribution)
    )
    # Orders follow (the orders hook).
    assert Order.objects.get(pk=order.pk).member_id == survivor.pk
    # Consent: the most recent record per channel.
    assert (survivor.consent_sms, survivor.consent_email, survivor.consent_whatsapp) == (False, True, False)
    assert survivor.tags == ["VIP", "dresses"]
    assert (survivor.name, survivor.email, survivor.birth_month, survivor.birth_day) == (
        "Chan",
        "chan@example.com",
        7,
        8,
    )
    assert survivor.attributed_staff == cwb_manager
    assert str(survivor.phone) == "+85291234567"
    assert duplicate.merged_into == survivor and duplicate.phone is None
    assert member_get(duplicate.pk) == survivor
    log = AuditLog.objects.get(action="member.merge")
    assert log.object_id == str(survivor.pk) and log.reason == "same person, two numbers"
    assert log.before["duplicate"]["phone"] == "+85261234567"
    assert log.before["survivor"]["email"] == "" and log.after["survivor"]["email"] == "chan@example.com"
    assert log.after["moved"]["points_entries"] == 1
    assert AuditLog.objects.get(action="member.merged_into").object_id == str(duplicate.pk)
    # The duplicate's number is free again.
    assert member_create(phone="61234567", source="web", actor="web").pk != duplicate.pk


def test_merge_refusals(cwb_cashier: User, cwb_manager: User) -> None:
    a = sign_up(cwb_cashier, "91234567")
    b = sign_up(cwb_cashier, "61234567")
    c = sign_up(cwb_cashier, "51234567")
    with pytest.raises(MemberMergeRefused):
        member_merge(survivor_id=a.pk, duplicate_id=a.pk, actor=cwb_manager, reason="x")
    with pytest.raises(ValidationFailed):
        member_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=cwb_manager, reason=" ")
    with pytest.raises(MemberNotFound):
        member_merge(survivor_id=a.pk, duplicate_id=999999, actor=cwb_manager, reason="x")
    member_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=cwb_manager, reason="same")
    with pytest.raises(MemberMergeRefused):  # into a merged member
        member_merge(survivor_id=b.pk, duplicate_id=c.pk, actor=cwb_manager, reason="x")
    with pytest.raises(MemberMergeRefused):  # a merged member again
        member_merge(survivor_id=c.pk, duplicate_id=b.pk, actor=cwb_manager, reason="x")
    member_erase(member_id=c.pk, actor=cwb_manager, reason="asked")
    with pytest.raises(MemberMergeRefused):  # into an erased member
        member_merge(survivor_id=c.pk, duplicate_id=a.pk, actor=cwb_manager, reason="x")
    assert AuditLog.objects.filter(action="member.merge").count() == 1


# --- API ---------------------------------------------------------------------------------------------------


def test_api_sign_up_and_lookups_at_the_counter(api_as, cwb: Location, cwb_cashier: User) -> None:
    client = api_as(cwb_cashier)
    created = client.post(
        "/api/v1/members/",
        {"phone": "9123 4567", "name": "Chan", "location": cwb.pk, "consents": {"sms": True}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["phone"] == "+85291234567" and body["consent"]["sms"] is True
    assert ConsentRecord.objects.get().source == "pos:CWB"
    again = client.post("/api/v1/members/", {"phone": "+85291234567"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "member_phone_taken"
    assert again.json()["extra"]["member_id"] == body["id"]
    assert client.post("/api/v1/members/", {"phone": "1234"}, format="json").status_code == 400

    by_phone = client.get("/api/v1/members/lookup/", {"phone": "91234567"}).json()["results"]
    assert [m["id"] for m in by_phone] == [body["id"]]
    assert client.get("/api/v1/members/lookup/", {"phone": "61234567"}).status_code == 404
    found = client.get("/api/v1/members/lookup/", {"last4": "4567", "name": "CHA"}).json()["results"]
    assert [m["id"] for m in found] == [body["id"]]
    assert client.get("/api/v1/members/lookup/", {"last4": "4567"}).status_code == 400
    assert client.get("/api/v1/members/", {"q": "4567"}).json()["results"][0]["id"] == body["id"]
    assert client.get("/api/v1/members/", {"q": "Ch\x00an"}).status_code == 200
    assert client.get("/api/v1/members/lookup/", {"last4": "4567", "name": "\x00"}).status_code == 400
    assert client.get("/api/v1/members/999999999999999999999/").status_code == 404

    member = Member.objects.get(pk=body["id"])
    scanned = client.post("/api/v1/members/qr-lookup/", {"token": member_qr_token(member)}, format="json")
    assert scanned.status_code == 200 and scanned.json()["id"] == member.pk
    bad = client.post("/api/v1/members/qr-lookup/", {"token": "1.x:abc:def"}, format="json")
    assert bad.status_code == 404

    consent = client.post(
        f"/api/v1/members/{member.pk}/consent/", {"channel": "sms", "granted": False}, format="json"
    )
    assert consent.status_code == 200 and consent.json()["consent"]["sms"] is False
    assert len(client.get(f"/api/v1/members/{member.pk}/consent/").json()) == 2


def test_api_manager_only_acts(api_as, cwb_cashier: User, cwb_manager: User) -> None:
    a = sign_up(cwb_cashier, "91234567")
    b = sign_up(cwb_cashier, "61234567")
    cashier = api_as(cwb_cashier)
    merge = {"survivor": a.pk, "duplicate": b.pk, "reason": "same"}
    assert cashier.post("/api/v1/members/merge/", merge, format="json").status_code == 403
    assert cashier.patch(f"/api/v1/members/{a.pk}/", {"name": "X"}, format="json").status_code == 403
    assert (
        cashier.post(
            f"/api/v1/members/{a.pk}/attribution/", {"staff": cwb_cashier.pk, "reason": "r"}, format="json"
        ).status_code
        == 403
    )
    manager = api_as(cwb_manager)
    assert manager.patch(f"/api/v1/members/{a.pk}/", {"name": "X"}, format="json").json()["name"] == "X"
    merged = manager.post("/api/v1/members/merge/", merge, format="json")
    assert merged.status_code == 200 and merged.json()["id"] == a.pk
    again = manager.post("/api/v1/members/merge/", merge, format="json")
    assert again.status_code == 409 and again.json()["code"] == "member_merge_refused"
    attributed = manager.post(
        f"/api/v1/members/{a.pk}/attribution/", {"staff": cwb_cashier.pk, "reason": "r"}, format="json"
    )
    assert attributed.status_code == 200 and attributed.json()["attributed_staff"] == cwb_cashier.pk


def test_api_customers_never_see_members(api_as, customer: User, cwb_cashier: User) -> None:
    member = sign_up(cwb_cashier)
    client = api_as(customer)
    assert client.get("/api/v1/members/").status_code == 403
    assert client.get(f"/api/v1/members/{member.pk}/").status_code == 403
    assert client.get("/api/v1/members/lookup/", {"phone": "91234567"}).status_code == 403
    assert client.post("/api/v1/members/", {"phone": "61234567"}, format="json").status_code == 403
    assert client.get("/api/v1/segments/").status_code == 403


def test_api_anonymous_refused(api) -> None:
    assert api.get("/api/v1/members/").status_code in (401, 403)


def test_admin_finds_and_shows_members(client, cwb_cashier: User) -> None:
    from tests.factories.omo import UserFactory

    member = sign_up(cwb_cashier, name="Chan")
    PointsEntry.objects.create(member=member, kind="earn", status="available", points=10, reference="A-1")
    admin_user = UserFactory(username="admin", role="owner", is_superuser=True, is_staff=True)
    client.force_login(admin_user)
    found = client.get("/admin/members/member/", {"q": "+85291234567"})
    assert found.status_code == 200 and "Chan" in found.content.decode()
    page = client.get(f"/admin/members/member/{member.pk}/change/")
    assert page.status_code == 200 and "A-1" in page.content.decode()
    assert client.get("/admin/members/segment/").status_code == 200
