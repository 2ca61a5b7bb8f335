from typing import Any

import factory
from factory.django import DjangoModelFactory

from omo.models import Location, LocationKind, Role, User


class LocationFactory(DjangoModelFactory[Location]):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:03d}")
    kind = LocationKind.BRANCH
    name_en = factory.LazyAttribute(lambda o: f"Branch {o.code}")
    name_zh_hant = factory.LazyAttribute(lambda o: f"分店{o.code}")


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.CASHIER
    password = factory.django.Password("pass-1234")

    @factory.post_generation
    def branches(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.branches.set(extracted)


def outbox_events() -> list[tuple[str, dict[str, Any]]]:
    """Every event in the outbox as (topic, payload), oldest first, whether stored one per row or as the
    events of one act in one row."""
    from omo.models import OutboxMessage

    found: list[tuple[str, dict[str, Any]]] = []
    for message in OutboxMessage.objects.order_by("pk"):
        for event in message.kwargs.get("events", [message.kwargs]):
            if "topic" in event:
                found.append((event["topic"], event["payload"]))
    return found


def event_sent(topic: str, **payload: Any) -> bool:
    """Whether the outbox holds an event of this topic whose payload has these values."""
    return any(
        found == topic and all(body.get(key) == value for key, value in payload.items())
        for found, body in outbox_events()
    )
