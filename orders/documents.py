"""Receipts (80 mm thermal) and invoices (A4) of an order: PDFs rendered with weasyprint, signed customer
links and e-mail.

A rendered PDF is kept in `OrderDocument`, one per (order, kind, language), with a `version` that hashes the
order's state the PDF shows; `document_get_or_render` re-renders when the order has moved on (a refund, a
payment). Templates get only pre-formatted strings, built here under the document's language, so the receipt,
the invoice and the e-receipt page show the same numbers in the same words.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from omo.errors import NotFound, ValidationFailed
from omo.qr import qr_svg
from omo.services.outbox import outbox_enqueue
from orders.models import (
    DocumentKind,
    Fulfilment,
    Order,
    OrderDocument,
    OrderLine,
    Payment,
    Refund,
    RefundStatus,
    Tender,
)

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
RETURN_WINDOW_DEFAULT_DAYS = 14
LINK_MAX_AGE_DEFAULT_DAYS = 90
LINK_SALT = "orders.documents.link"
RENDER_TASK = "orders.tasks.order_documents_render_task"
# Part of every version hash: bump it when a template changes, so stored PDFs are re-rendered on next use.
LAYOUT_REVISION = "1"
TEMPLATES = {DocumentKind.RECEIPT: "orders/receipt.html", DocumentKind.INVOICE: "orders/invoice.html"}
# A thermal receipt is one continuous strip: it is laid out on a page taller than any receipt, then the page
# is cut just below the content (weasyprint has no auto-height pages).
RECEIPT_LAYOUT_HEIGHT_MM = 3000
RECEIPT_END_ANCHOR = "receipt-end"
RECEIPT_BOTTOM_MARGIN_PX = 24  # about 6 mm, the cutter's margin
# Option names come from the catalogue as typed; the usual English ones are shown in the document's language.
OPTION_LABELS = {
    "size": gettext_lazy("Size"),
    "colour": gettext_lazy("Colour"),
    "color": gettext_lazy("Colour"),
}
# Shorter than the admin's "Card (terminal)": a receipt line is 80 mm wide.
TENDER_LABELS: dict[str, Promise] = {Tender.CARD: gettext_lazy("Card")}


class DocumentLinkInvalid(NotFound):
    code = "document_link_invalid"
    default_message = gettext_lazy("This receipt link is invalid or has expired.")


@dataclass(frozen=True)
class DocumentTarget:
    """What a signed link opens: one order's document of one kind in one language."""

    order_id: int
    kind: str
    language: str


# --- selectors ----------------------------------------------------------------------------------------------


def document_order_get(*, order_id: int) -> Order:
    """The order with everything a document shows, in a fixed number of queries. Raises NotFound."""
    order = (
        Order.objects.select_related("location", "member", "cashier", "staff", "pickup_location")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
            Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound(gettext_lazy("Order not found."), order_id=order_id)
    return order


def document_version(*, order: Order) -> str:
    """A hash of the order's state that a document shows; it changes when the PDF would look different."""
    money = ("subtotal", "discount", "shipping_fee", "rounding", "total", "paid", "refunded")
    refunds = [(refund.pk, refund.status, str(refund.amount.amount)) for refund in order.refunds.all()]
    state = [
        LAYOUT_REVISION,
        order.status,
        [str(getattr(order, field).amount) for field in money],
        len(refunds),
        refunds,
        order.member_id,
        order.pickup_code,
    ]
    return hashlib.sha256(repr(state).encode()).hexdigest()


def document_get(*, order_id: int, kind: str, language: str) -> OrderDocument | None:
    """The stored document, fresh or stale, or None."""
    return OrderDocument.objects.filter(order_id=order_id, kind=kind, language=language).first()


def document_filename(*, order: Order, kind: str) -> str:
    """`CWB-000123.pdf` for a receipt, `CWB-000123-invoice.pdf` for an invoice (both can share a folder)."""
    return f"{order.number}.pdf" if kind == DocumentKind.RECEIPT else f"{order.number}-{kind}.pdf"


# --- hooks --------------------------------------------------------------------------------------------------


def receipt_extras(order: Order) -> dict[str, Any]:
    """Extra context for the receipt from other apps: a member's points (orders.loyalty).

    A `points` entry (`{"points": {"earned": 120, "balance": 3450}}`) shows the points block on the receipt.
    """
    from orders.loyalty import loyalty_receipt_extras

    return loyalty_receipt_extras(order)


# --- rendering ----------------------------------------------------------------------------------------------


def document_render(*, order_id: int, kind: str, language: str) -> OrderDocument:
    """Renders the order's document as a PDF and stores it (insert or replace), whatever is stored already.

    Locks nothing while rendering; the upsert is one short transaction on the (order, kind, language) row.
    Raises NotFound for an unknown order and ValidationFailed for an unknown kind or language.
    """
    kind, language = _kind_checked(kind), _language_checked(language)
    return _document_store(order=document_order_get(order_id=order_id), kind=kind, language=language)


def document_get_or_render(*, order_id: int, kind: str, language: str) -> OrderDocument:
    """The stored document if it shows the order's current state, else a fresh rendering of it."""
    kind, language = _kind_checked(kind), _language_checked(language)
    order = document_order_get(order_id=order_id)
    document = document_get(order_id=order_id, kind=kind, language=language)
    if document is not None and document.version == document_version(order=order):
        return document
    return _document_store(order=order, kind=kind, language=language)


def order_documents_render(*, order_id: int) -> OrderDocument:
    """Brings the receipt in the order's own language up to date; a second run finds it fresh (idempotent)."""
    language = Order.objects.filter(pk=order_id).values_list("language", flat=True).first()
    if language is None:
        raise NotFound(gettext_lazy("Order not found."), order_id=order_id)
    return document_get_or_render(
        order_id=order_id, kind=DocumentKind.RECEIPT, language=_language_or_default(language)
    )


def order_documents_enqueue(order_id: int) -> None:
    """Asks for the order's receipt to be rendered once the caller's transaction commits (through the outbox).

    Call it inside the order service's transaction: if that rolls back, nothing is rendered; if the broker is
    down at commit, the outbox relay sends it later.
    """
    outbox_enqueue(task=RENDER_TASK, kwargs={"order_id": order_id})


def _document_store(*, order: Order, kind: str, language: str) -> OrderDocument:
    version = document_version(order=order)
    pdf = _pdf_render(order=order, kind=kind, language=language)
    document, _created = OrderDocument.objects.update_or_create(
        order=order,
        kind=kind,
        language=language,
        defaults={"pdf": pdf, "version": version, "rendered_at": timezone.now()},
    )
    return document


def _pdf_render(*, order: Order, kind: str, language: str) -> bytes:
    with translation.override(language), timezone.override(HONG_KONG):
        html = render_to_string(TEMPLATES[DocumentKind(kind)], document_context(order=order, kind=kind))
    # Templates embed only data: URIs; refusing every other scheme means no template or product name can make
    # the renderer fetch a URL or read a local file.
    # Imported here: the web process needs weasyprint only when a PDF is asked for before the worker made it.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"])).render()
    if kind == DocumentKind.RECEIPT:
        _receipt_cut(document)
    pdf: bytes = document.write_pdf()
    return pdf


def _receipt_cut(document: Any) -> None:
    """Shortens the receipt's tall layout page to end just below the content (the template's last anchor)."""
    if len(document.pages) != 1:
        return  # longer than the layout page: keep the pages as laid out
    page = document.pages[0]
    anchor = page.anchors.get(RECEIPT_END_ANCHOR)
    if anchor is not None:
        page.height = min(page.height, anchor[1] + RECEIPT_BOTTOM_MARGIN_PX)


# --- template context ---------------------------------------------------------------------------------------


def document_context(*, order: Order, kind: str, link: str | None = None) -> dict[str, Any]:
    """Everything the receipt, invoice and e-receipt templates show, as strings in the active language.

    Call it inside `translation.override(language)`. `link` is the e-receipt URL the QR code points to (a new
    signed link when not given).
    """
    language = translation.get_language() or settings.LANGUAGE_CODE
    if link is None:
        link = document_link(order_id=order.pk, kind=DocumentKind.RECEIPT, language=language)
    context: dict[str, Any] = {
        "kind": kind,
        "language": language,
        "title": _("Receipt") if kind == DocumentKind.RECEIPT else _("Invoice"),
        "shop_name": getattr(settings, "SHOP_NAME", ""),
        "branch": _branch(order),
        "number": order.number,
        "placed_at": _local(order.placed_at),
        "channel": str(order.get_channel_display()),
        "fulfilment": "" if order.fulfilment == Fulfilment.IN_STORE else str(order.get_fulfilment_display()),
        "cashier": _person(order.cashier),
        "staff": _person(order.staff),
        "customer": _customer(order),
        "shipping": _shipping(order),
        "lines": [_line(line) for line in order.lines.all()],
        "item_count": sum(line.qty for line in order.lines.all()),
        "totals": _totals(order),
        "total": _hkd(order.total),
        "payments": [_payment(payment) for payment in order.payments.all()],
        "balance_due": _hkd(order.balance) if order.balance.amount > 0 and order.payments.all() else "",
        "refunds": [_refund(refund) for refund in order.refunds.all()],
        "refunded": _hkd(order.refunded),
        "net_paid": _hkd(order.paid - order.refunded),
        "pickup": _pickup(order),
        "note": order.note,
        "return_days": getattr(settings, "RETURN_WINDOW_DAYS", RETURN_WINDOW_DEFAULT_DAYS),
        "layout_height_mm": RECEIPT_LAYOUT_HEIGHT_MM,
        "link": link,
        "link_qr": _qr_data_uri(link) if link else "",
    }
    context.update(receipt_extras(order))
    return context


def _branch(order: Order) -> dict[str, str]:
    location = order.location
    english = (translation.get_language() or "").startswith("en")
    return {
        "name": location.name,
        "other_name": location.name_zh_hant if english else location.name_en,
        "address": (location.address_en if english else location.address_zh_hant)
        or location.address_en
        or location.address_zh_hant,
        "phone": location.phone,
    }


def _customer(order: Order) -> dict[str, str]:
    """Who bought: a member by name and masked mobile, a named guest (web), or a walk-in at the counter."""
    if order.member is not None:
        return {
            "label": _("Member"),
            "name": order.member.name,
            "phone": _phone_masked(order.member.phone),
        }
    if order.customer_name or order.customer_phone:
        return {
            "label": _("Customer"),
            "name": order.customer_name,
            "phone": _phone_masked(order.customer_phone),
        }
    return {"label": _("Customer"), "name": _("Walk-in customer"), "phone": ""}


def _shipping(order: Order) -> dict[str, str] | None:
    if order.fulfilment != Fulfilment.SHIP or not order.ship_address:
        return None
    return {
        "name": order.ship_name,
        "phone": _phone_masked(order.ship_phone),
        "address": order.ship_address,
        "district": str(order.get_ship_district_display()) if order.ship_district else "",
        "tracking": order.tracking_number,
    }


def _line(line: OrderLine) -> dict[str, Any]:
    return {
        "name": line.name or line.name_en or line.name_zh_hant,
        "options": _options(line.options),
        "sku": line.sku,
        "qty": line.qty,
        "unit_price": _hkd(line.unit_price),
        "gross": _hkd(line.unit_price * line.qty),
        "discount": _hkd(-line.discount) if line.discount.amount else "",
        "discount_reason": line.discount_reason,
        "total": _hkd(line.total),
        "returned_qty": line.returned_qty,
    }


def _options(options: dict[str, Any] | None) -> str:
    """`{"Size": "M", "Colour": "黑"}` as `尺碼 M / 顏色 黑` (names the catalogue knows are translated)."""
    parts = []
    for name, value in (options or {}).items():
        label = OPTION_LABELS.get(str(name).strip().lower(), name)
        parts.append(f"{label} {value}")
    return " / ".join(parts)


def _totals(order: Order) -> list[dict[str, str]]:
    """The rows between the lines and the total; zero rows are left out (most sales have no shipping fee)."""
    rows = [{"label": _("Subtotal"), "amount": _hkd(order.subtotal), "note": ""}]
    if order.discount.amount:
        rows.append({"label": _("Discount"), "amount": _hkd(-order.discount), "note": order.discount_reason})
    if order.shipping_fee.amount:
        rows.append({"label": _("Shipping fee"), "amount": _hkd(order.shipping_fee), "note": ""})
    if order.rounding.amount:
        rows.append({"label": _("Cash rounding"), "amount": _hkd(order.rounding), "note": ""})
    return rows


def _payment(payment: Payment) -> dict[str, str]:
    is_cash = payment.tender == Tender.CASH
    return {
        "tender": _tender_label(payment.tender),
        "amount": _hkd(payment.amount),
        "tendered": _hkd(payment.tendered) if is_cash and payment.tendered.amount else "",
        "change": _hkd(payment.change) if is_cash and payment.tendered.amount else "",
        "reference": payment.reference,
        "refunded": _hkd(payment.refunded) if payment.refunded.amount else "",
    }


def _refund(refund: Refund) -> dict[str, str]:
    return {
        "date": _local(refund.created_at),
        "tender": _tender_label(refund.tender),
        "amount": _hkd(-refund.amount),
        "status": str(refund.get_status_display()),
        "pending": "yes" if refund.status != RefundStatus.DONE else "",
        "reference": refund.reference,
    }


def _pickup(order: Order) -> dict[str, str] | None:
    if order.fulfilment != Fulfilment.PICKUP or not order.pickup_code:
        return None
    place = order.pickup_location
    return {
        "code": order.pickup_code,
        # The code alone: the POS handover screen scans it like a typed code.
        "qr": _qr_data_uri(order.pickup_code),
        "location": place.name if place is not None else "",
        "deadline": _local(order.pickup_deadline) if order.pickup_deadline else "",
    }


def _tender_label(tender: str) -> str:
    if tender in TENDER_LABELS:
        return str(TENDER_LABELS[tender])
    return str(Tender(tender).label) if tender in Tender.values else tender


def _person(user: Any) -> str:
    """A first name (or the username): enough for a customer to ask for someone, no more."""
    if user is None:
        return ""
    return str(user.first_name or user.get_username())


def _phone_masked(phone: Any) -> str:
    """`+852 ****5678`: the customer recognises their number, a lost receipt does not give it away."""
    if not phone:
        return ""
    try:
        number = (
            phone if isinstance(phone, phonenumbers.PhoneNumber) else phonenumbers.parse(str(phone), "HK")
        )
    except phonenumbers.NumberParseException:
        return ""
    national = str(number.national_number)
    return f"+{number.country_code} {'*' * max(len(national) - 4, 0)}{national[-4:]}"


def _hkd(money: Money) -> str:
    amount = Decimal(money.amount).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}HK${abs(amount):,.2f}"


def _local(moment: datetime) -> str:
    return timezone.localtime(moment, HONG_KONG).strftime("%Y-%m-%d %H:%M")


def _qr_data_uri(data: str) -> str:
    # SVG keeps the modules sharp at any printer resolution.
    svg = qr_svg(data).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _kind_checked(kind: str) -> str:
    if kind not in DocumentKind.values:
        raise ValidationFailed(gettext_lazy("Unknown document kind."), kind=kind)
    return str(DocumentKind(kind).value)  # a plain str, also when given the enum member


def _language_or_default(language: str) -> str:
    """The order's language if the site offers it, else the site's default (an old order may say `zh-hk`)."""
    try:
        return _language_checked(language)
    except ValidationFailed:
        return _language_checked(settings.LANGUAGE_CODE)


def _language_checked(language: str) -> str:
    """`zh-hant` or `en` (also accepts `zh_Hant`, `zh-Hant`), as listed in settings.LANGUAGES."""
    normalised = (language or "").replace("_", "-").lower()
    if normalised not in {code for code, _name in settings.LANGUAGES}:
        raise ValidationFailed(gettext_lazy("Unsupported language."), language=language)
    return normalised


# --- signed links -------------------------------------------------------------------------------------------


def document_link(*, order_id: int, kind: str, language: str, absolute: bool = True) -> str:
    """The customer's e-receipt URL for one document: `/r/<token>/`, no login needed.

    The token is the (order, kind, language) signed with SECRET_KEY and a timestamp, so it cannot be guessed
    or edited to open another order, and it expires after DOCUMENT_LINK_MAX_AGE_DAYS.
    """
    token = _link_token(order_id=order_id, kind=_kind_checked(kind), language=_language_checked(language))
    path = reverse("order_documents:page", kwargs={"token": token})
    return _absolute(path) if absolute else path


def document_pdf_link(*, order_id: int, kind: str, language: str, absolute: bool = True) -> str:
    """The URL of the PDF itself (`/r/<token>/pdf`), for download buttons and e-mails."""
    token = _link_token(order_id=order_id, kind=_kind_checked(kind), language=_language_checked(language))
    path = reverse("order_documents:pdf", kwargs={"token": token})
    return _absolute(path) if absolute else path


def document_link_resolve(*, token: str) -> DocumentTarget:
    """What a token opens. Raises DocumentLinkInvalid when it is tampered with, malformed or expired."""
    max_age = timedelta(days=getattr(settings, "DOCUMENT_LINK_MAX_AGE_DAYS", LINK_MAX_AGE_DEFAULT_DAYS))
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=max_age)
        order_id, kind, language = value.split(".")
        target = DocumentTarget(
            order_id=int(order_id), kind=_kind_checked(kind), language=_language_checked(language)
        )
    except (signing.BadSignature, ValueError, ValidationFailed) as error:
        raise DocumentLinkInvalid() from error
    return target


def e_receipt_context(*, target: DocumentTarget) -> dict[str, Any]:
    """The e-receipt page of a resolved link: the receipt as HTML, PDF downloads and the other language.

    Raises NotFound when the order is gone.
    """
    order = document_order_get(order_id=target.order_id)
    other = next(code for code, _name in settings.LANGUAGES if code != target.language)
    with translation.override(target.language):
        context = document_context(order=order, kind=DocumentKind.RECEIPT, link="")
        context["downloads"] = [
            {"label": label, "url": document_pdf_link(order_id=order.pk, kind=kind, language=target.language)}
            for kind, label in (
                (DocumentKind.RECEIPT, _("Receipt (PDF)")),
                (DocumentKind.INVOICE, _("Invoice (PDF)")),
            )
        ]
    # Each language is named in itself, whatever the page's language.
    context["other_language"] = {
        "label": "English" if other == "en" else "繁體中文",
        "url": document_link(order_id=order.pk, kind=target.kind, language=other, absolute=False),
    }
    return context


def _link_token(*, order_id: int, kind: str, language: str) -> str:
    # `123.receipt.zh-hant:<timestamp>:<signature>`: plain and short, so the QR code on an 80 mm receipt stays
    # coarse enough to scan. The id is not a secret; the signature over it is what opens the document.
    return signing.TimestampSigner(salt=LINK_SALT).sign(f"{order_id}.{kind}.{language}")


def _absolute(path: str) -> str:
    return getattr(settings, "SITE_URL", "http://localhost:8000").rstrip("/") + path


# --- e-mail -------------------------------------------------------------------------------------------------


def order_document_email(
    *, order_id: int, to: str, kind: str = DocumentKind.RECEIPT, language: str | None = None
) -> None:
    """E-mails the order's document (PDF attached, rendered if missing or stale) and its e-receipt link.

    `language` defaults to the order's. Raises ValidationFailed for a bad address, kind or language, NotFound
    for an unknown order. Not idempotent: each call sends one e-mail.
    """
    try:
        validate_email(to)
    except DjangoValidationError as error:
        raise ValidationFailed(gettext_lazy("Enter a valid e-mail address."), to=to) from error
    order = document_order_get(order_id=order_id)
    language = _language_checked(language) if language else _language_or_default(order.language)
    document = document_get_or_render(order_id=order_id, kind=kind, language=language)
    link = document_link(order_id=order_id, kind=kind, language=language)
    with translation.override(language):
        subject, body = _email_text(order=order, kind=kind, link=link)
    message = EmailMessage(subject=subject, body=body, to=[to])
    message.attach(document_filename(order=order, kind=kind), bytes(document.pdf), "application/pdf")
    message.send()


def _email_text(*, order: Order, kind: str, link: str) -> tuple[str, str]:
    values = {"number": order.number, "branch": order.location.name, "link": link}
    if kind == DocumentKind.INVOICE:
        subject = _("Invoice for order %(number)s") % values
        intro = _("Your invoice for order %(number)s is attached.") % values
    else:
        subject = _("Receipt for order %(number)s") % values
        intro = _("Your receipt for order %(number)s is attached.") % values
    outro = _("You can also view it online: %(link)s") % values
    thanks = _("Thank you for shopping at %(branch)s.") % values
    return subject, f"{thanks}\n\n{intro}\n{outro}\n"
