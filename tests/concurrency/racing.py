"""The race every concurrency test runs: clients in threads, each with its own database connection, released
together, so they meet on the rows rather than on connecting."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def race(clients: Sequence[Callable[[], Any]]) -> list[Any]:
    """Runs each client in its own thread, all released together; returns what each returned or raised."""
    barrier = threading.Barrier(len(clients))
    outcomes: list[Any] = [None] * len(clients)

    def run(index: int, client: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()  # connected before the start, so the race is on the rows
            barrier.wait(timeout=30)
            outcomes[index] = client()
        except BaseException as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a client hung (a lock never released?)"
    return outcomes


def errors_of(outcomes: Sequence[Any], *allowed: type[BaseException]) -> list[BaseException]:
    """Every exception that is not one of the allowed kinds: a deadlock, an IntegrityError, a bug."""
    return [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, allowed)]
