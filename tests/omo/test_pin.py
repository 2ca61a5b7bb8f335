import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from omo.errors import BranchAccessDenied, ValidationFailed
from omo.models import AuditLog, Role, User
from omo.services.accounts import PinInvalid, PinLocked, user_pin_set, user_pin_verify
from tests.factories.omo import UserFactory

pytestmark = pytest.mark.django_db


def test_pin_is_hashed_and_verifies(cwb_cashier, owner):
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    cwb_cashier.refresh_from_db()
    assert cwb_cashier.pin_hash and "4821" not in cwb_cashier.pin_hash
    assert user_pin_verify(username="cwb-cashier", pin="4821") == cwb_cashier
    assert AuditLog.objects.filter(action="user.pin_set", object_id=str(cwb_cashier.pk)).count() == 1


@pytest.mark.parametrize("pin", ["123", "1234567", "12a4", "", "１２３４"])
def test_pin_must_be_4_to_6_ascii_digits(cwb_cashier, owner, pin):
    with pytest.raises(ValidationFailed):
        user_pin_set(user=cwb_cashier, pin=pin, actor=owner)
    cwb_cashier.refresh_from_db()
    assert cwb_cashier.pin_hash == ""


def test_customers_have_no_pin(customer, owner):
    with pytest.raises(ValidationFailed):
        user_pin_set(user=customer, pin="1234", actor=owner)


def test_wrong_pins_lock_after_the_limit_and_a_right_pin_then_fails(cwb_cashier, owner, settings):
    settings.PIN_MAX_FAILURES = 3
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    for left in (2, 1):
        with pytest.raises(PinInvalid) as error:
            user_pin_verify(username="cwb-cashier", pin="0000")
        assert error.value.extra["attempts_left"] == left
    with pytest.raises(PinLocked):
        user_pin_verify(username="cwb-cashier", pin="0000")
    with pytest.raises(PinLocked):
        user_pin_verify(username="cwb-cashier", pin="4821")


def test_lock_expires_and_counting_starts_again(cwb_cashier, owner, settings):
    settings.PIN_MAX_FAILURES = 2
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    for _ in range(2):
        with pytest.raises((PinInvalid, PinLocked)):
            user_pin_verify(username="cwb-cashier", pin="0000")
    User.objects.filter(pk=cwb_cashier.pk).update(pin_locked_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(PinInvalid) as error:
        user_pin_verify(username="cwb-cashier", pin="0000")
    assert error.value.extra["attempts_left"] == 1
    assert user_pin_verify(username="cwb-cashier", pin="4821") == cwb_cashier
    cwb_cashier.refresh_from_db()
    assert cwb_cashier.pin_failures == 0 and cwb_cashier.pin_locked_until is None


def test_success_resets_the_failure_count(cwb_cashier, owner):
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    with pytest.raises(PinInvalid):
        user_pin_verify(username="cwb-cashier", pin="0000")
    user_pin_verify(username="cwb-cashier", pin="4821")
    cwb_cashier.refresh_from_db()
    assert cwb_cashier.pin_failures == 0


def test_unknown_user_and_user_without_pin_are_the_same_error(cwb_cashier):
    with pytest.raises(PinInvalid):
        user_pin_verify(username="nobody", pin="1234")
    with pytest.raises(PinInvalid):
        user_pin_verify(username="cwb-cashier", pin="1234")


def test_pin_for_another_branch_is_refused(cwb_cashier, owner, mk):
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    with pytest.raises(BranchAccessDenied):
        user_pin_verify(username="cwb-cashier", pin="4821", location=mk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted(cwb):
    """Twelve iPads guessing at once: every failure counts, so the lock cannot be raced past."""
    user = UserFactory(username="racer", role=Role.CASHIER, branches=[cwb])
    user_pin_set(user=user, pin="4821", actor="test")
    attempts = 12
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            barrier.wait()
            user_pin_verify(username="racer", pin="0000")
        except (PinInvalid, PinLocked) as error:
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    user.refresh_from_db()
    assert len(outcomes) == attempts
    assert user.pin_locked_until is not None
    assert outcomes.count("PinInvalid") <= 4  # at most limit-1 guesses are told "wrong" rather than "locked"
    with pytest.raises(PinLocked):
        user_pin_verify(username="racer", pin="4821")


def test_pin_switch_api_signs_the_staff_member_in(api, cwb_cashier, owner, cwb):
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    response = api.post(
        "/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "4821", "branch": "CWB"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "cashier"
    assert api.get("/api/v1/auth/me/").json()["username"] == "cwb-cashier"


def test_pin_switch_api_errors(api, cwb_cashier, owner, mk, settings):
    settings.PIN_MAX_FAILURES = 2
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    wrong = api.post("/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "0000"})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "code": "pin_invalid",
        "message": "Wrong user or PIN.",
        "extra": {"attempts_left": 1},
    }
    other_branch = api.post(
        "/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "4821", "branch": "MK"}
    )
    assert other_branch.status_code == 403
    assert other_branch.json()["code"] == "branch_access_denied"
    for _ in range(2):  # the right PIN above reset the count
        api.post("/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "0000"})
    locked = api.post("/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "4821"})
    assert locked.status_code == 423
    assert locked.json()["code"] == "pin_locked"
    assert api.get("/api/v1/auth/me/").status_code in (401, 403)


def test_pin_switch_is_rate_limited_per_client(api, cwb_cashier, owner, monkeypatch):
    from django.core.cache import cache

    from omo.api.throttling import TolerantScopedRateThrottle

    cache.clear()
    monkeypatch.setattr(TolerantScopedRateThrottle, "THROTTLE_RATES", {"pin": "3/min"})
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    statuses = [
        api.post("/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "0000"}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_pin_switch_works_while_the_cache_is_down(api, cwb_cashier, owner, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent.sock",
        }
    }
    user_pin_set(user=cwb_cashier, pin="4821", actor=owner)
    response = api.post("/api/v1/auth/pin-switch/", {"username": "cwb-cashier", "pin": "4821"})
    assert response.status_code == 200
