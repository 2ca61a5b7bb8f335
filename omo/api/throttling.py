import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class TolerantScopedRateThrottle(ScopedRateThrottle):
    """Rate limits through the Redis cache, but lets requests through while Redis is down.

    A Redis outage must not lock every cashier out of the till; the PIN lockout itself lives in PostgreSQL.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("rate limit skipped, the cache is unavailable: %s", error)
            return True
