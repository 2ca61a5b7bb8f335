"""Idempotency-Key for writes a POS or a client may retry (sale, payment, refund, checkout).

- same key, same body: the first response again (header `Idempotent-Replayed: true`), nothing runs twice;
- same key, another body (or another endpoint): 422;
- same key while the first request is still running: 409;
- keys are scoped per client (API token, else user, else browser session).

The first request takes a transaction-scoped advisory lock on (client, key), runs the view, and stores its
response in the same transaction as the view's own writes. So the effect and the stored response commit
together; a crash stores neither and the retry simply runs. Error responses are not stored: the view's
writes were rolled back, and the client may fix the cause and retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from omo.errors import DomainError, ValidationFailed
from omo.models import ApiToken, IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = 422
    default_message = _("This Idempotency-Key was already used for a different request.")


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    http_status = 409
    default_message = _("A request with this Idempotency-Key is still being processed. Retry shortly.")


def client_scope(request: Request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    session = request._request.session
    if not session.session_key:
        session.save()
    return f"session:{session.session_key}"


def request_fingerprint(request: Request) -> str:
    try:
        body: Any = request.data
        canonical = json.dumps(body, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    except (TypeError, ValueError):
        canonical = request._request.body.decode("utf-8", "replace")
    payload = f"{request.method}\n{request.path}\n{canonical}"
    return hashlib.sha256(payload.encode()).hexdigest()


def advisory_lock_try(scope: str, key: str) -> bool:
    digest = hashlib.sha256(f"idempotency\n{scope}\n{key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        return bool(cursor.fetchone()[0])


def replay(record: IdempotencyKey) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorates a DRF view method (post, put, patch, delete) to honour the Idempotency-Key header."""

    @wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            raise ValidationFailed(_("An Idempotency-Key is 1 to 255 ASCII characters."), header=HEADER)
        scope = client_scope(request)
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            if not advisory_lock_try(scope, key):
                raise IdempotencyInProgress()
            record = IdempotencyKey.objects.filter(scope=scope, key=key).first()
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return replay(record)
            response = view_method(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            IdempotencyKey.objects.create(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                method=request.method or "",
                path=request.path[:255],
                response_status=response.status_code,
                response_body=json.loads(json.dumps(response.data, cls=JSONEncoder)),
            )
            return response

    return wrapper
