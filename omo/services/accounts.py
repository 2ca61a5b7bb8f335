"""Staff PINs and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omo.errors import DomainError, NotFound, ValidationFailed
from omo.models import STAFF_ROLES, ApiToken, Location, User
from omo.scopes import SCOPES
from omo.scoping import access_branch
from omo.services.audit import audit_record


class PinInvalid(DomainError):
    code = "pin_invalid"
    http_status = 401
    default_message = _("Wrong user or PIN.")


class PinLocked(DomainError):
    code = "pin_locked"
    http_status = 423
    default_message = _("Too many wrong PINs. Ask a manager, or try again later.")


def pin_validate(pin: str) -> None:
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 6):
        raise ValidationFailed(_("A PIN is 4 to 6 digits."), field="pin")


@transaction.atomic
def user_pin_set(*, user: User, pin: str, actor: Any) -> None:
    """Sets a staff member's PIN (hashed) and clears any lock. Audited."""
    pin_validate(pin)
    if user.role not in STAFF_ROLES:
        raise ValidationFailed(_("Only staff have a PIN."))
    User.objects.filter(pk=user.pk).update(pin_hash=make_password(pin), pin_failures=0, pin_locked_until=None)
    audit_record(actor=actor, action="user.pin_set", obj=user)


def user_pin_verify(*, username: str, pin: str, location: Location | None = None) -> User:
    """Checks a PIN for switching cashier on a shared iPad.

    Failures are counted by one atomic UPDATE (two iPads guessing at once both count); at PIN_MAX_FAILURES
    the PIN locks for PIN_LOCK_MINUTES. Raises PinInvalid, PinLocked, BranchAccessDenied.
    """
    user = User.objects.filter(username=username, is_active=True, role__in=STAFF_ROLES).first()
    if user is None or not user.pin_hash:
        make_password(pin)  # the same work either way, so timing does not tell who exists
        raise PinInvalid()
    now = timezone.now()
    if user.pin_locked_until and user.pin_locked_until > now:
        raise PinLocked(locked_until=user.pin_locked_until.isoformat())
    if not check_password(pin, user.pin_hash):
        failures, locked_until = pin_failure_record(user_id=user.pk, now=now)
        if locked_until is not None and locked_until > now:
            raise PinLocked(locked_until=locked_until.isoformat())
        raise PinInvalid(attempts_left=max(settings.PIN_MAX_FAILURES - failures, 0))
    # A lock set by a concurrent failure after our read still holds.
    cleared = (
        User.objects.filter(pk=user.pk)
        .exclude(pin_locked_until__gt=now)
        .update(pin_failures=0, pin_locked_until=None)
    )
    if not cleared:
        raise PinLocked()
    if location is not None:
        access_branch(user, location.pk)
    return user


def pin_failure_record(*, user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """Counts one failure in a single statement; an expired lock starts the count again."""
    until = now + timedelta(minutes=settings.PIN_LOCK_MINUTES)
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET
              pin_failures = CASE WHEN pin_locked_until <= %(now)s THEN 1 ELSE pin_failures + 1 END,
              pin_locked_until = CASE
                WHEN pin_locked_until > %(now)s THEN pin_locked_until
                WHEN (CASE WHEN pin_locked_until <= %(now)s THEN 1 ELSE pin_failures + 1 END) >= %(limit)s
                  THEN %(until)s::timestamptz
                ELSE NULL END
            WHERE id = %(id)s
            RETURNING pin_failures, pin_locked_until
            """,  # noqa: S608  (the table name is ours, the values are parameters)
            {"now": now, "until": until, "limit": settings.PIN_MAX_FAILURES, "id": user_id},
        )
        failures, locked_until = cursor.fetchone()
    return failures, locked_until


def api_token_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, name: str, user: User, scopes: list[str], actor: Any) -> tuple[ApiToken, str]:
    """Creates a token for an integration; returns it with the raw key (shown once, never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationFailed(
            _("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(unknown)}, field="scopes"
        )
    if not name.strip():
        raise ValidationFailed(_("Give the token a name."), field="name")
    prefix = secrets.token_hex(4)
    raw_key = f"omo_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name.strip(),
        user=user,
        key_prefix=prefix,
        key_hash=api_token_hash(raw_key),
        scopes=sorted(set(scopes)),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor, action="api_token.create", obj=token, after={"name": token.name, "scopes": token.scopes}
    )
    return token, raw_key


@transaction.atomic
def api_token_revoke(*, token_id: int, actor: Any) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_token.revoke", obj=token)
    return token
