"""The member QR shown in the web shop and scanned at the POS.

The token is the member's id and QR nonce, signed with the site's secret and a timestamp
(`<id>.<nonce>:<time>:<signature>`): it cannot be guessed, nor edited to read another member (the id is under
the signature), and it stops working after MEMBER_QR_MAX_AGE_SECONDS (300 by default), so a screenshot passed
around is soon useless. Rotating the nonce (a lost phone, an erasure, a merge) invalidates every token shown
before at once.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from members.exceptions import MemberNotFound
from members.models import Member

SALT = "members.qr"


def qr_max_age() -> int:
    return int(getattr(settings, "MEMBER_QR_MAX_AGE_SECONDS", 300))


def member_qr_token(member: Member) -> str:
    """A fresh signed token for the member's QR (the web shop asks for a new one every few minutes)."""
    return signing.TimestampSigner(salt=SALT).sign(f"{member.pk}.{member.qr_nonce}")


def member_from_qr(token: str) -> Member:
    """The member a scanned token stands for. A token that is malformed, tampered with, expired, or made
    before the member's nonce was rotated, and the token of an erased or merged member, raise MemberNotFound
    (the POS says "no such member" whatever the cause, so nothing is learnt by trying)."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(str(token).strip(), max_age=qr_max_age())
    except signing.BadSignature:  # SignatureExpired is one too
        raise MemberNotFound() from None
    member_id, _sep, nonce = value.partition(".")
    if not member_id.isdigit():
        raise MemberNotFound()
    member = Member.objects.active().filter(pk=int(member_id), qr_nonce=nonce).first()
    if member is None:
        raise MemberNotFound()
    return member
