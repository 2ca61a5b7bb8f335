"""A private Redis server that a test may stop and start again (the devstack's embedded one, elsewhere)."""

import redis

from omo.devstack.services import EmbeddedRedis


class PrivateRedis(EmbeddedRedis):
    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    @property
    def broker_url(self) -> str:
        return f"redis+socket://{self.socket}"

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket))
