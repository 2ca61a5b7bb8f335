"""Segments: saved filters whose lists and exports leave out everyone without consent for the channel."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import include, path
from django.utils import timezone
from djmoney.money import Money

from members.models import Member, Segment, SpendEntry
from members.selectors import segment_members
from members.services.members import consent_set, member_create, member_merge
from members.services.privacy import member_erase
from members.services.segments import (
    SegmentNameTaken,
    segment_create,
    segment_delete,
    segment_export_csv,
    segment_update,
)
from omo.errors import ValidationFailed
from omo.models import AuditLog, User

D = Decimal

urlpatterns = [
    path("api/v1/", include("members.api.urls_members")),
    path("", include("omo.urls")),
]
pytestmark = pytest.mark.urls(__name__)

ALL = ("sms", "whatsapp", "email")


def member(phone: str, name: str, *, tier: str = "silver", tags=(), consents=ALL, email: str = "") -> Member:
    made = member_create(
        phone=phone,
        name=name,
        email=email or f"{name.lower()}@example.com",
        tags=tags,
        consents=dict.fromkeys(consents, True),
        source="web",
        actor="web",
    )
    Member.objects.filter(pk=made.pk).update(tier=tier)
    made.refresh_from_db()
    return made


def spend(who: Member, amount: str, *, channel: str = "pos", days_ago: int = 1) -> None:
    n = SpendEntry.objects.count() + 1
    SpendEntry.objects.create(
        member=who,
        reference=f"R-{n}",
        order_reference=f"O-{n}",
        channel=channel,
        amount=Money(D(amount), "HKD"),
        at=timezone.now() - timedelta(days=days_ago),
    )


def ids(segment: Segment, channel: str = "sms") -> set[int]:
    return set(segment_members(segment, channel=channel).values_list("pk", flat=True))


@pytest.fixture
def people(db: None) -> dict[str, Member]:
    store = member("91234567", "Store", tier="gold", tags=["VIP"])
    spend(store, "3000", channel="pos", days_ago=10)
    online = member("61234567", "Online", tier="silver", tags=["dresses"])
    spend(online, "800", channel="web", days_ago=100)
    spend(online, "200", channel="social", days_ago=400)  # older than 12 months
    both = member("51234567", "Both", tier="platinum")
    spend(both, "6000", channel="pos", days_ago=5)
    spend(both, "1000", channel="phone", days_ago=20)
    spend(both, "-1000", channel="phone", days_ago=2)  # a return: net 6000, not a purchase
    never = member("98765432", "Never", tier="silver", tags=["vip"])
    return {"store": store, "online": online, "both": both, "never": never}


def test_filters(people: dict[str, Member], cwb_manager: User) -> None:
    p = {key: m.pk for key, m in people.items()}
    everyone = segment_create(name="everyone", actor=cwb_manager)
    assert ids(everyone) == set(p.values())
    assert ids(segment_create(name="gold+", tiers=["gold", "platinum"], actor=cwb_manager)) == {
        p["store"],
        p["both"],
    }
    # Any of the tags, in any case: "VIP" finds "vip".
    assert ids(segment_create(name="vip", tags=["VIP", "dresses"], actor=cwb_manager)) == {
        p["store"],
        p["online"],
        p["never"],
    }
    big = segment_create(name="big", min_spend_12m=D("1000"), actor=cwb_manager)
    assert ids(big) == {p["store"], p["both"]}
    small = segment_create(name="small", max_spend_12m="1000", actor=cwb_manager)
    assert ids(small) == {p["online"], p["never"]}  # 800 within 12 months; nothing is 0
    assert ids(segment_create(name="recent", purchased_within_days=30, actor=cwb_manager)) == {
        p["store"],
        p["both"],
    }
    lapsed = segment_create(name="lapsed", not_purchased_within_days=30, actor=cwb_manager)
    assert ids(lapsed) == {p["online"], p["never"]}
    assert ids(segment_create(name="store", channel_behaviour="store_only", actor=cwb_manager)) == {
        p["store"]
    }
    assert ids(segment_create(name="web", channel_behaviour="online_only", actor=cwb_manager)) == {
        p["online"]
    }
    assert ids(segment_create(name="omni", channel_behaviour="both", actor=cwb_manager)) == {p["both"]}
    assert AuditLog.objects.filter(action="segment.create").count() == 10


def test_consent_erasure_and_merge_leave_members_out(people: dict[str, Member], cwb_manager: User) -> None:
    no_consent = member("92345678", "Quiet", consents=())
    whatsapp_only = member("93456789", "Chat", consents=("whatsapp",))
    everyone = segment_create(name="everyone", actor=cwb_manager)
    assert no_consent.pk not in ids(everyone, "sms")
    assert whatsapp_only.pk not in ids(everyone, "sms") and whatsapp_only.pk in ids(everyone, "whatsapp")
    member_erase(member_id=people["never"].pk, actor=cwb_manager, reason="asked")
    member_merge(
        survivor_id=people["store"].pk, duplicate_id=people["online"].pk, actor=cwb_manager, reason="same"
    )
    for channel in ALL:
        found = ids(everyone, channel)
        assert people["never"].pk not in found and people["online"].pk not in found
        assert people["store"].pk in found
    with pytest.raises(ValidationFailed):
        segment_members(everyone, channel="fax")


def test_an_opt_out_takes_effect_at_once_in_the_export(people: dict[str, Member], cwb_manager: User) -> None:
    vip = segment_create(name="vip", tags=["vip"], actor=cwb_manager)
    before = segment_export_csv(vip, channel="sms", actor=cwb_manager)
    rows = list(csv.reader(io.StringIO(before.decode("utf-8-sig"))))
    assert rows[0] == ["phone", "name", "tier", "language"]
    assert sorted(row[0] for row in rows[1:]) == ["+85291234567", "+85298765432"]

    consent_set(member_id=people["store"].pk, channel="sms", granted=False, source="web", actor="web")

    after = segment_export_csv(vip, channel="sms", actor=cwb_manager)
    rows = list(csv.reader(io.StringIO(after.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["+85298765432"]
    # The e-mail export is another channel, still consented.
    emails = list(
        csv.reader(
            io.StringIO(segment_export_csv(vip, channel="email", actor=cwb_manager).decode("utf-8-sig"))
        )
    )
    assert emails[0][0] == "email" and sorted(r[0] for r in emails[1:]) == [
        "never@example.com",
        "store@example.com",
    ]
    logs = AuditLog.objects.filter(action="segment.export").order_by("pk")
    assert [(log.after["channel"], log.after["rows"]) for log in logs] == [
        ("sms", 2),
        ("sms", 1),
        ("email", 2),
    ]


def test_segment_checks_update_and_delete(cwb_manager: User) -> None:
    for bad in (
        {"tiers": ["bronze"]},
        {"min_spend_12m": "-1"},
        {"min_spend_12m": "500", "max_spend_12m": "100"},
        {"purchased_within_days": 0},
        {"channel_behaviour": "sometimes"},
        {"purchased_within_days": 90, "not_purchased_within_days": 30},
        {"colour": "red"},
    ):
        with pytest.raises(ValidationFailed):
            segment_create(name="bad", actor=cwb_manager, **bad)
    segment = segment_create(name="gold", tiers=["gold"], actor=cwb_manager)
    with pytest.raises(SegmentNameTaken):
        segment_create(name="gold", actor=cwb_manager)
    segment_update(segment_id=segment.pk, actor=cwb_manager, tiers=["platinum"], name="top")
    segment.refresh_from_db()
    assert (segment.name, segment.tiers) == ("top", ["platinum"])
    segment_delete(segment_id=segment.pk, actor=cwb_manager)
    assert not Segment.objects.exists()
    assert [log.action for log in AuditLog.objects.order_by("pk")] == [
        "segment.create",
        "segment.update",
        "segment.delete",
    ]


def test_api_segments(api_as, people: dict[str, Member], cwb_cashier: User, cwb_manager: User) -> None:
    assert api_as(cwb_cashier).get("/api/v1/segments/").status_code == 403
    client = api_as(cwb_manager)
    created = client.post(
        "/api/v1/segments/", {"name": "gold+", "tiers": ["gold", "platinum"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    sid = created.json()["id"]
    assert client.get("/api/v1/segments/").json()["results"][0]["name"] == "gold+"
    listed = client.get(f"/api/v1/segments/{sid}/members/", {"channel": "sms"}).json()["results"]
    assert {m["id"] for m in listed} == {people["store"].pk, people["both"].pk}
    assert client.get(f"/api/v1/segments/{sid}/members/", {"channel": "fax"}).status_code == 400
    consent_set(member_id=people["both"].pk, channel="sms", granted=False, source="web", actor="web")
    exported = client.get(f"/api/v1/segments/{sid}/export/", {"channel": "sms"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode("utf-8-sig").splitlines()[1:] == ["+85291234567,Store,gold,zh-hant"]
    patched = client.patch(f"/api/v1/segments/{sid}/", {"min_spend_12m": "5000"}, format="json")
    assert patched.status_code == 200 and patched.json()["min_spend_12m"] == "5000.00"
    duplicate = client.post("/api/v1/segments/", {"name": "gold+"}, format="json")
    assert duplicate.status_code == 409
    assert client.delete(f"/api/v1/segments/{sid}/").status_code == 204
    assert client.get(f"/api/v1/segments/{sid}/").status_code == 404


@pytest.mark.django_db
def test_a_coupon_campaign_goes_to_the_segment_members_who_consented(api_as, owner):
    from django.db import transaction

    from members.models import Coupon, Segment
    from members.services.coupons import coupon_template_create
    from members.services.members import member_create
    from members.tasks import coupon_campaign_issue_task
    from omo.models import OutboxMessage

    yes = member_create(phone="+85261234501", source="api", actor="test", consents={"sms": True})
    member_create(phone="+85261234502", source="api", actor="test")
    segment = Segment.objects.create(name="Everyone")
    template = coupon_template_create(
        actor=owner, code="SPRING", name_en="Spring", name_zh_hant="春日", kind="amount", value=Decimal("30")
    )
    answer = api_as(owner).post(
        f"/api/v1/segments/{segment.pk}/campaign/",
        {"template": template.pk, "campaign_key": "spring", "channel": "sms"},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    assert answer.json() == {"members": 1}
    message = OutboxMessage.objects.get(task_name="members.tasks.coupon_campaign_issue_task")
    with transaction.atomic():
        coupon_campaign_issue_task(**message.kwargs)
        coupon_campaign_issue_task(**message.kwargs)
    assert list(Coupon.objects.values_list("member_id", flat=True)) == [yes.pk]
