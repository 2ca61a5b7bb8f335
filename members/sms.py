"""Sending text messages (sign-in codes), through a sender named in settings so a gateway can be plugged in.

`SMS_SENDER` is the dotted path of a class with `send(*, phone, text)`; the default writes to the log, which
is what a developer wants. A gateway's sender lives in its own module, named in the production settings.
Senders are called after the commit of the act that made the message, and a failure to send is logged, not
raised: the customer simply asks for another code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

DEFAULT_SMS_SENDER = "members.sms.ConsoleSmsSender"


class SmsSender(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


class ConsoleSmsSender:
    """Development: the message goes to the log (and so to the console of `runserver`)."""

    def send(self, *, phone: str, text: str) -> None:
        logger.warning("SMS to %s: %s", phone, text)


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str


# Every message MemorySmsSender was given, oldest first; tests read and clear it.
SENT: list[SentSms] = []


class MemorySmsSender:
    """Tests: keeps each message in the module-level list `SENT`."""

    def send(self, *, phone: str, text: str) -> None:
        SENT.append(SentSms(phone=phone, text=text))


def sms_sender() -> SmsSender:
    """A new instance of the class named by `SMS_SENDER` (read at each call, so tests can switch it)."""
    sender_class = import_string(getattr(settings, "SMS_SENDER", DEFAULT_SMS_SENDER))
    sender: SmsSender = sender_class()
    return sender
