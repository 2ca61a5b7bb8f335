"""Customer sign-in for the web shop: a one-time code sent by SMS to the customer's mobile number.

Codes are six digits from `secrets`, kept only as HMAC-SHA256(SECRET_KEY, phone + code) (`salted_hmac`): a
keyed hash rather than a slow password hash, because a million possible codes fall to any offline search of
a salted slow hash, whereas without the SECRET_KEY the stored hashes give nothing away. A code expires after
OTP_TTL_MINUTES, allows OTP_MAX_ATTEMPTS tries (counted by one UPDATE ... RETURNING, so parallel guesses each
use a try), and is used once (a conditional UPDATE, so two requests racing with the right code give one
sign-in). Asking for a new code invalidates the older ones.

Sending is rate limited with atomic counters in Redis (Django's cache: `add` then `incr`), in fixed windows of
OTP_WINDOW_MINUTES: per number, per client address, and a cooldown of OTP_RESEND_SECONDS between two codes
for one number. While Redis is down no code is sent (each one costs money and can be abused); checking a code
still works, since its tries are counted in PostgreSQL.

Nothing here says whether a number belongs to a member: a request answers the same either way, and a wrong,
expired, used or absent code gives the same error.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from members.exceptions import MemberNotFound
from members.models import Member, OtpCode
from members.selectors import member_get
from members.services.members import MemberPhoneTaken, member_create, member_phone_clean
from members.sms import sms_sender
from omo.errors import DomainError, PermissionDenied
from omo.models import Role, User

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
HASH_SALT = "members.otp"


class OtpRateLimited(DomainError):
    code = "otp_rate_limited"
    http_status = 429
    default_message = _("Too many codes requested. Please wait and try again.")


class OtpInvalid(DomainError):
    code = "otp_invalid"
    default_message = _("The code is wrong or has expired. Please check it or ask for a new one.")


class OtpUnavailable(DomainError):
    code = "otp_unavailable"
    http_status = 503
    default_message = _("Sign-in codes cannot be sent right now. Please try again in a minute.")


class SignInNotAllowed(PermissionDenied):
    code = "sign_in_not_allowed"
    default_message = _("This number cannot sign in to the web shop. Please contact the shop.")


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def otp_ttl_seconds() -> int:
    return _setting("OTP_TTL_MINUTES", 5) * 60


def otp_hash(*, phone: str, code: str) -> str:
    return salted_hmac(HASH_SALT, f"{phone}:{code}", algorithm="sha256").hexdigest()


def otp_message(code: str) -> str:
    minutes = _setting("OTP_TTL_MINUTES", 5)
    return f"OMO 驗證碼 / code: {code} ({minutes} 分鐘內有效 / valid {minutes} min)"


# --- Rate limits ----------------------------------------------------------------------------------------


def _count_in_window(name: str, *, window: int) -> tuple[int, int]:
    """Counts one more hit for `name` in the current fixed window of `window` seconds, atomically in Redis.

    Returns the count including this hit and the seconds until the window ends.
    """
    now = time.time()
    index = int(now // window)
    retry_after = max(1, math.ceil((index + 1) * window - now))
    key = f"otp:{name}:{index}"
    for _try in range(3):
        cache.add(key, 0, timeout=retry_after + 5)
        try:
            return int(cache.incr(key)), retry_after
        except ValueError:  # the key expired between add and incr: start it again
            continue
    raise RedisError(f"could not count {key}")


def _cooldown(phone: str) -> None:
    seconds = _setting("OTP_RESEND_SECONDS", 30)
    if seconds <= 0:
        return
    until = time.time() + seconds
    if not cache.add(f"otp:cooldown:{phone}", until, timeout=seconds):
        held = cache.get(f"otp:cooldown:{phone}")
        left = math.ceil(float(held) - time.time()) if held is not None else seconds
        raise OtpRateLimited(
            _("Please wait a moment before asking for another code."), retry_after=max(1, left)
        )


def _limit_request(phone: str, client_ip: str) -> None:
    window = _setting("OTP_WINDOW_MINUTES", 15) * 60
    try:
        # The address is counted first, so that a client cycling through numbers is held back too.
        count, retry_after = _count_in_window(f"ip:{client_ip}", window=window)
        if count > _setting("OTP_MAX_PER_IP", 20):
            raise OtpRateLimited(retry_after=retry_after)
        _cooldown(phone)
        count, retry_after = _count_in_window(f"number:{phone}", window=window)
        if count > _setting("OTP_MAX_PER_NUMBER", 5):
            raise OtpRateLimited(retry_after=retry_after)
    except RedisError as error:
        logger.error("no sign-in code sent, the rate limit cache is unavailable: %s", error)
        raise OtpUnavailable() from error


def _limit_verify(client_ip: str) -> None:
    window = _setting("OTP_WINDOW_MINUTES", 15) * 60
    try:
        count, retry_after = _count_in_window(f"verify-ip:{client_ip}", window=window)
    except RedisError as error:  # each code's own tries are still limited, in PostgreSQL
        logger.warning("sign-in code checked without the per-address limit, cache unavailable: %s", error)
        return
    if count > _setting("OTP_MAX_VERIFY_PER_IP", 50):
        raise OtpRateLimited(_("Too many tries. Please wait and try again."), retry_after=retry_after)


# --- Services -------------------------------------------------------------------------------------------


@transaction.atomic
def otp_request(*, phone: str, client_ip: str) -> None:
    """Sends a new sign-in code to `phone` (after the commit, so a rolled-back request sends nothing) and
    invalidates the number's older codes. The same for members and strangers: nothing tells them apart.

    Locks nothing; the rate limits are counters in Redis. Raises ValidationFailed (not a mobile number; a
    landline cannot receive the code), OtpRateLimited (429, `retry_after` seconds) and OtpUnavailable (503,
    Redis is down).
    """
    number = member_phone_clean(phone)
    _limit_request(number, client_ip)
    now = timezone.now()
    OtpCode.objects.filter(phone=number, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    OtpCode.objects.create(
        phone=number,
        code_hash=otp_hash(phone=number, code=code),
        created_at=now,
        expires_at=now + timedelta(seconds=otp_ttl_seconds()),
    )
    text = otp_message(code)
    transaction.on_commit(lambda: sms_sender().send(phone=number, text=text), robust=True)


def _attempt(phone: str, now: datetime) -> tuple[int, str, int] | None:
    """Uses one try of the number's newest live code: (id, hash, tries so far), or None when there is no live
    code with tries left. One statement, so parallel guesses each use up a try."""
    table = OtpCode._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET attempts = attempts + 1
            WHERE id = (
                SELECT id FROM {table}
                WHERE phone = %(phone)s AND used_at IS NULL AND expires_at > %(now)s
                ORDER BY created_at DESC, id DESC LIMIT 1
            )
            AND used_at IS NULL AND expires_at > %(now)s AND attempts < %(max)s
            RETURNING id, code_hash, attempts
            """,  # noqa: S608  (the table name is ours, the values are parameters)
            {"phone": phone, "now": now, "max": _setting("OTP_MAX_ATTEMPTS", 5)},
        )
        row = cursor.fetchone()
    return (int(row[0]), str(row[1]), int(row[2])) if row else None


def otp_verify(*, phone: str, code: str, client_ip: str, language: str = "zh-hant") -> Member:
    """Checks a sign-in code and returns the member of the number, creating the member at the first sign-in
    (`member_create`: source "web", every consent off, preferring `language`) and linking their customer
    user (`m<member id>`, no password) if they have none yet.

    Call it outside a transaction: a wrong try is committed on its own before OtpInvalid is raised. The code
    is marked used by a conditional UPDATE (its row lock makes a second request with the same code wait and
    then fail); the member row is locked (select_for_update) while its user is linked.

    Raises ValidationFailed (not a mobile number), OtpInvalid (400; wrong, expired, used or absent code;
    `attempts_left`), OtpRateLimited (429, too many tries from one address) and SignInNotAllowed (403, the
    number's user is staff or disabled).
    """
    number = member_phone_clean(phone)
    _limit_verify(client_ip)
    now = timezone.now()
    attempt = _attempt(number, now)
    if attempt is None:
        raise OtpInvalid(attempts_left=0)
    otp_id, code_hash, attempts = attempt
    given = "".join((code or "").split())
    if not hmac.compare_digest(code_hash, otp_hash(phone=number, code=given)):
        raise OtpInvalid(attempts_left=max(0, _setting("OTP_MAX_ATTEMPTS", 5) - attempts))
    with transaction.atomic():
        if not OtpCode.objects.filter(pk=otp_id, used_at__isnull=True).update(used_at=now):
            raise OtpInvalid(attempts_left=0)
        member = _member_for_sign_in(number, language=language)
        _link_customer_user(member)
    return member


def _member_for_sign_in(phone: str, *, language: str) -> Member:
    existing = Member.objects.filter(phone=phone).first()
    if existing is None:
        try:
            return member_create(phone=phone, source="web", actor="web", language=language)
        except MemberPhoneTaken:  # a till signed the same number up a moment ago
            existing = Member.objects.filter(phone=phone).first()
            if existing is None:
                raise
    try:
        return member_get(existing.pk)  # a merged member signs in as the one it was merged into
    except MemberNotFound as error:
        raise SignInNotAllowed() from error


def _link_customer_user(member: Member) -> User:
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.user_id is None:
        user = User.objects.create_user(username=f"m{locked.pk}", role=Role.CUSTOMER)
        locked.user = user
        locked.save(update_fields=["user"])
    else:
        user = User.objects.get(pk=locked.user_id)
    # A staff account must not be reachable with a code sent to a phone.
    if user.role != Role.CUSTOMER or user.is_superuser or not user.is_active:
        raise SignInNotAllowed()
    member.user = user
    return user


def otp_codes_purge(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Deletes codes that expired more than OTP_KEEP_HOURS (24) ago, in batches; returns how many. Idempotent
    (beat runs it daily; a second run finds nothing). Locks nothing but the rows it deletes."""
    cutoff = (now or timezone.now()) - timedelta(hours=_setting("OTP_KEEP_HOURS", 24))
    deleted = 0
    while True:
        ids = list(OtpCode.objects.filter(expires_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += OtpCode.objects.filter(pk__in=ids).delete()[0]
