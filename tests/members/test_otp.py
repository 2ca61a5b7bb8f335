"""Sign-in by mobile number and a one-time code: hashed, expiring, used once, tries and sends rate limited."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from members import sms
from members.models import Member, OtpCode
from members.selectors import phone_normalise
from members.services.otp import (
    OtpInvalid,
    OtpRateLimited,
    OtpUnavailable,
    SignInNotAllowed,
    otp_codes_purge,
    otp_request,
    otp_verify,
)
from omo.errors import ValidationFailed
from omo.models import Role, User
from tests.factories.omo import UserFactory

IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _memory_sms(settings: Any) -> Iterator[None]:
    settings.SMS_SENDER = "members.sms.MemorySmsSender"
    cache.clear()  # this test run's own Redis database: the rate-limit windows start empty
    sms.SENT.clear()
    yield
    sms.SENT.clear()


@pytest.fixture
def request_code(django_capture_on_commit_callbacks: Any) -> Callable[..., str]:
    """Asks for a code (running the after-commit send) and returns the code the SMS carried."""

    def ask(phone: str, *, ip: str = IP) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            otp_request(phone=phone, client_ip=ip)
        return last_code(phone_normalise(phone) or phone)

    return ask


def last_code(phone: str) -> str:
    message = [m for m in sms.SENT if m.phone == phone][-1]
    match = re.search(r"code: (\d{6})", message.text)
    assert match, message.text
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.django_db
def test_request_sends_a_bilingual_code_and_keeps_only_its_hash(request_code):
    code = request_code("9123 4567")
    [message] = sms.SENT
    assert message.phone == "+85291234567"
    assert "驗證碼" in message.text and "valid 5 min" in message.text
    row = OtpCode.objects.get()
    assert row.phone == "+85291234567"
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert timedelta(minutes=4, seconds=59) < row.expires_at - row.created_at <= timedelta(minutes=5)
    assert not Member.objects.exists()  # asking for a code creates nobody


@pytest.mark.django_db
def test_first_sign_in_creates_member_and_customer_user_with_consent_off(request_code):
    code = request_code("+852 9123 4567")
    member = otp_verify(phone="91234567", code=code, client_ip=IP)
    member.refresh_from_db()
    assert str(member.phone) == "+85291234567"
    assert not (member.consent_sms or member.consent_whatsapp or member.consent_email)
    user = User.objects.get(pk=member.user_id)
    assert user.username == f"m{member.pk}"
    assert user.role == Role.CUSTOMER
    assert not user.has_usable_password()
    assert OtpCode.objects.get().used_at is not None


@pytest.mark.django_db
def test_second_sign_in_reuses_the_member_and_user(request_code):
    first = otp_verify(phone="91234567", code=request_code("91234567"), client_ip=IP)
    cache.clear()  # past the resend cooldown
    second = otp_verify(phone="91234567", code=request_code("91234567"), client_ip=IP)
    assert second.pk == first.pk and second.user_id == first.user_id
    assert Member.objects.count() == 1 and User.objects.count() == 1


@pytest.mark.django_db
def test_an_existing_member_signs_in_to_their_record(request_code):
    member = Member.objects.create(phone="+85291234567", name="陳小姐")
    signed_in = otp_verify(phone="91234567", code=request_code("91234567"), client_ip=IP)
    assert signed_in.pk == member.pk
    assert Member.objects.get(pk=member.pk).user is not None


@pytest.mark.django_db
def test_a_merged_member_signs_in_as_the_survivor(request_code):
    survivor = Member.objects.create(phone="+85261234567")
    Member.objects.create(phone="+85291234567", merged_into=survivor)
    assert otp_verify(phone="91234567", code=request_code("91234567"), client_ip=IP).pk == survivor.pk


@pytest.mark.django_db
def test_wrong_codes_count_tries_and_lock_the_code(request_code, settings):
    settings.OTP_MAX_ATTEMPTS = 3
    code = request_code("91234567")
    for left in (2, 1, 0):
        with pytest.raises(OtpInvalid) as error:
            otp_verify(phone="91234567", code=wrong(code), client_ip=IP)
        assert error.value.extra == {"attempts_left": left}
    assert OtpCode.objects.get().attempts == 3
    with pytest.raises(OtpInvalid) as error:  # locked: even the right code is refused now
        otp_verify(phone="91234567", code=code, client_ip=IP)
    assert error.value.extra == {"attempts_left": 0}
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_expired_code_is_refused(request_code):
    code = request_code("91234567")
    OtpCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(OtpInvalid):
        otp_verify(phone="91234567", code=code, client_ip=IP)


@pytest.mark.django_db
def test_code_is_used_once(request_code):
    code = request_code("91234567")
    otp_verify(phone="91234567", code=code, client_ip=IP)
    with pytest.raises(OtpInvalid) as error:
        otp_verify(phone="91234567", code=code, client_ip=IP)
    assert error.value.message == OtpInvalid.default_message


@pytest.mark.django_db
def test_absent_code_gives_the_same_error_as_a_wrong_one():
    with pytest.raises(OtpInvalid) as error:
        otp_verify(phone="91234567", code="123456", client_ip=IP)
    assert error.value.message == OtpInvalid.default_message


@pytest.mark.django_db
def test_a_new_code_invalidates_the_older_one(request_code, settings):
    settings.OTP_RESEND_SECONDS = 0
    old = request_code("91234567")
    new = request_code("91234567")
    if old != new:
        with pytest.raises(OtpInvalid):
            otp_verify(phone="91234567", code=old, client_ip=IP)
    assert otp_verify(phone="91234567", code=new, client_ip=IP)


@pytest.mark.django_db
def test_a_code_is_for_its_own_number(request_code):
    code = request_code("91234567")
    with pytest.raises(OtpInvalid):
        otp_verify(phone="61234567", code=code, client_ip=IP)


@pytest.mark.django_db
def test_not_a_mobile_number():
    with pytest.raises(ValidationFailed) as error:
        otp_request(phone="12", client_ip=IP)
    assert "phone" in error.value.extra["fields"]
    assert not sms.SENT


@pytest.mark.django_db
def test_cooldown_between_two_codes_for_one_number(request_code, settings):
    settings.OTP_RESEND_SECONDS = 30
    request_code("91234567")
    with pytest.raises(OtpRateLimited) as error:
        otp_request(phone="91234567", client_ip="198.51.100.1")
    assert 1 <= error.value.extra["retry_after"] <= 30
    assert OtpCode.objects.count() == 1 and len(sms.SENT) == 1
    request_code("61234567")  # another number is not held back


@pytest.mark.django_db
def test_codes_per_number_are_limited_in_a_window(request_code, settings):
    settings.OTP_RESEND_SECONDS = 0
    settings.OTP_MAX_PER_NUMBER = 2
    request_code("91234567", ip="198.51.100.1")
    request_code("91234567", ip="198.51.100.2")
    with pytest.raises(OtpRateLimited) as error:
        otp_request(phone="91234567", client_ip="198.51.100.3")
    assert 1 <= error.value.extra["retry_after"] <= 15 * 60
    request_code("61234567", ip="198.51.100.3")


@pytest.mark.django_db
def test_codes_per_client_address_are_limited_in_a_window(request_code, settings):
    settings.OTP_MAX_PER_IP = 2
    request_code("91234567")
    request_code("61234567")
    with pytest.raises(OtpRateLimited):
        otp_request(phone="51234567", client_ip=IP)
    request_code("51234567", ip="198.51.100.9")


@pytest.mark.django_db
def test_tries_per_client_address_are_limited(request_code, settings):
    settings.OTP_MAX_VERIFY_PER_IP = 2
    code = request_code("91234567")
    for _ in range(2):
        with pytest.raises(OtpInvalid):
            otp_verify(phone="91234567", code=wrong(code), client_ip=IP)
    with pytest.raises(OtpRateLimited):
        otp_verify(phone="91234567", code=code, client_ip=IP)
    assert otp_verify(phone="91234567", code=code, client_ip="198.51.100.9")


@pytest.mark.django_db
def test_no_code_is_sent_while_redis_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with pytest.raises(OtpUnavailable):
        otp_request(phone="91234567", client_ip=IP)
    assert not OtpCode.objects.exists() and not sms.SENT


@pytest.mark.django_db
def test_a_rolled_back_request_sends_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        otp_request(phone="91234567", client_ip=IP)
        raise RuntimeError("the caller's transaction fails")
    assert not callbacks and not sms.SENT
    assert not OtpCode.objects.exists()


@pytest.mark.django_db
def test_a_staff_account_cannot_be_reached_by_a_code(request_code):
    staff = UserFactory(username="cashier", role=Role.CASHIER)
    Member.objects.create(phone="+85291234567", user=staff)
    with pytest.raises(SignInNotAllowed):
        otp_verify(phone="91234567", code=request_code("91234567"), client_ip=IP)


@pytest.mark.django_db
def test_purge_deletes_codes_a_day_after_they_expired(request_code, settings):
    settings.OTP_RESEND_SECONDS = 0
    request_code("91234567")
    request_code("61234567")
    OtpCode.objects.filter(phone="+85291234567").update(expires_at=timezone.now() - timedelta(hours=25))
    assert otp_codes_purge(batch_size=1) == 1
    assert otp_codes_purge() == 0
    assert list(OtpCode.objects.values_list("phone", flat=True)) == ["+85261234567"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_two_requests_racing_with_one_code_sign_in_once():
    otp_request(phone="91234567", client_ip=IP)  # autocommit: the SMS goes out at once
    code = last_code("+85291234567")
    clients = 8
    barrier = threading.Barrier(clients)
    outcomes: list[Any] = [None] * clients

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcomes[index] = otp_verify(phone="91234567", code=code, client_ip=f"198.51.100.{index}")
        except BaseException as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    members = [o for o in outcomes if isinstance(o, Member)]
    assert len(members) == 1, outcomes
    assert all(isinstance(o, OtpInvalid) for o in outcomes if not isinstance(o, Member)), outcomes
    assert Member.objects.count() == 1 and User.objects.filter(role=Role.CUSTOMER).count() == 1
