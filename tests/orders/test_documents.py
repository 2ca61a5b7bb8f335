"""Receipts and invoices: PDFs with real Chinese glyphs, signed e-receipt links, staleness, e-mail, outbox."""

import subprocess
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.db import transaction
from django.test import Client
from django.urls import include, path
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image

from members.models import Member
from omo import urls as project_urls
from omo.errors import ValidationFailed
from omo.models import Location, OutboxMessage, Role, User
from orders import documents
from orders.documents import (
    document_get_or_render,
    document_link,
    document_link_resolve,
    document_pdf_link,
    document_render,
    order_document_email,
    order_documents_enqueue,
)
from orders.models import DocumentKind, Fulfilment, Order, OrderDocument, Tender
from orders.tasks import order_document_email_task, order_documents_render_task
from tests.factories.catalog import ProductFactory, VariantFactory
from tests.factories.omo import UserFactory
from tests.factories.orders import OrderFactory, refund_add

# The project's URLs plus the e-receipt links, whether or not omo/urls.py includes them yet.
urlpatterns = list(project_urls.urlpatterns)
if not any(getattr(pattern, "namespace", None) == "order_documents" for pattern in urlpatterns):
    urlpatterns.append(path("", include("orders.urls_documents")))

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

KINDS = [DocumentKind.RECEIPT, DocumentKind.INVOICE]
LANGUAGES = ["zh-hant", "en"]
MM = 72 / 25.4  # PDF points per millimetre


# --- helpers ------------------------------------------------------------------------------------------------


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text with all whitespace removed (CJK text may come out with spaces between glyphs)."""
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], capture_output=True, check=True, text=True
    )
    return "".join(out.stdout.split())


def squash(text: str) -> str:
    return "".join(text.split())


def pdf_page_size_mm(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    source = tmp_path / "size.pdf"
    source.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(source)], capture_output=True, check=True, text=True).stdout
    line = next(row for row in info.splitlines() if row.startswith("Page size:"))
    width, _x, height = line.split(":", 1)[1].split()[:3]
    return float(width) / MM, float(height) / MM


def translated(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture
def branch(cwb: Location) -> Location:
    cwb.address_en = "Shop 12, 1/F, 500 Hennessy Road, Causeway Bay"
    cwb.address_zh_hant = "銅鑼灣軒尼詩道500號1樓12號舖"
    cwb.phone = "2890 1234"
    cwb.save()
    return cwb


@pytest.fixture
def cashier(branch: Location) -> User:
    return UserFactory(username="amy", first_name="Amy", role=Role.CASHIER, branches=[branch])


@pytest.fixture
def member() -> Member:
    return Member.objects.create(phone="+85291235678", name="陳大文")


def dress_and_tee() -> list[dict[str, Any]]:
    dress = ProductFactory(
        name_en="Floral midi dress", name_zh_hant="碎花中長連身裙", option_names=["Size", "Colour"]
    )
    tee = ProductFactory(name_en="Cotton tee", name_zh_hant="純棉T恤")
    return [
        {
            "variant": VariantFactory(
                product=dress, sku="DRS-001-M-BK", option_values={"Size": "M", "Colour": "黑"}
            ),
            "qty": 2,
            "unit_price": "299",
            "discount": "20",
            "discount_reason": "員工介紹",
        },
        {
            "variant": VariantFactory(product=tee, sku="TEE-010-L", option_values={"Size": "L"}),
            "unit_price": "129.95",
        },
    ]


@pytest.fixture
def order(branch: Location, cashier: User, member: Member) -> Order:
    """578.00 + 129.95 - 50 (VIP) - 0.05 rounding = 657.90: 300 by card, the rest in cash (500 tendered)."""
    return OrderFactory(
        location=branch,
        member=member,
        cashier=cashier,
        staff=UserFactory(username="ben", first_name="Ben", branches=[branch]),
        lines=dress_and_tee(),
        discount="50",
        discount_reason="VIP 95折",
        rounding="-0.05",
        payments=[
            {"tender": Tender.CARD, "amount": "300", "reference": "T-88231"},
            {"tender": Tender.CASH, "tendered": "500"},
        ],
    )


@pytest.fixture
def pickup_order(branch: Location, mk: Location) -> Order:
    return OrderFactory(
        location=branch,
        channel="web",
        fulfilment=Fulfilment.PICKUP,
        pickup_location=mk,
        pickup_code="K7Q2MX",
        customer_name="Chan Siu Ming",
        customer_phone="+85298765432",
        language="en",
        payments=[{"tender": Tender.FPS, "reference": "FPS20250131"}],
    )


# --- the factory itself -------------------------------------------------------------------------------------


def test_factory_totals_add_up(order: Order) -> None:
    lines = list(order.lines.order_by("position"))
    assert [line.total.amount for line in lines] == [Decimal("578.00"), Decimal("129.95")]
    assert order.subtotal.amount == Decimal("707.95")
    assert order.total.amount == Decimal("657.90")
    assert order.paid == order.total
    cash = order.payments.get(tender=Tender.CASH)
    assert (cash.amount.amount, cash.tendered.amount, cash.change.amount) == (
        Decimal("357.90"),
        Decimal("500.00"),
        Decimal("142.10"),
    )


# --- rendering ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_render_has_the_order_in_the_language(order: Order, kind: str, language: str, tmp_path: Path) -> None:
    document = document_render(order_id=order.pk, kind=kind, language=language)

    pdf = bytes(document.pdf)
    assert pdf.startswith(b"%PDF")
    assert OrderDocument.objects.filter(order=order, kind=kind, language=language).count() == 1
    text = pdf_text(pdf, tmp_path)
    assert order.number in text
    assert "銅鑼灣" in text  # the branch's Chinese name, in both languages
    assert "+852****5678" in text and "91235678" not in text  # the member's masked mobile
    assert squash(translated(language, "Total")) in text
    assert squash(translated(language, "Change given")) in text
    assert "HK$657.90" in text and "HK$142.10" in text  # total and the change given
    assert "T-88231" in text  # the card terminal's reference
    if language == "zh-hant":
        assert "碎花中長連身裙" in text and "Floral" not in text
        assert "員工介紹" in text and "VIP95折" in text  # discount reasons, as typed
    else:
        assert "Floralmididress" in text and "碎花" not in text
    assert "Amy" in text and "Ben" in text  # cashier and attributed staff


def test_receipt_is_an_80mm_strip_cut_below_the_content(order: Order, tmp_path: Path) -> None:
    pdf = bytes(document_render(order_id=order.pk, kind=DocumentKind.RECEIPT, language="zh-hant").pdf)

    width, height = pdf_page_size_mm(pdf, tmp_path)
    assert round(width) == 80
    assert 120 < height < 400


def test_invoice_is_a4(order: Order, tmp_path: Path) -> None:
    pdf = bytes(document_render(order_id=order.pk, kind=DocumentKind.INVOICE, language="en").pdf)

    assert tuple(round(side) for side in pdf_page_size_mm(pdf, tmp_path)) == (210, 297)


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_rasterises_to_a_printed_page(order: Order, kind: str, tmp_path: Path) -> None:
    source = tmp_path / "doc.pdf"
    source.write_bytes(bytes(document_render(order_id=order.pk, kind=kind, language="zh-hant").pdf))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(source), str(tmp_path / "page")], check=True
    )

    image = Image.open(tmp_path / "page.png").convert("L")
    dark = sum(image.histogram()[:128])
    assert dark / (image.width * image.height) > 0.01  # text and QR code, not a blank page


@pytest.mark.parametrize("kind", KINDS)
def test_chinese_glyphs_come_from_an_embedded_noto_cjk_font(order: Order, kind: str, tmp_path: Path) -> None:
    source = tmp_path / "doc.pdf"
    source.write_bytes(bytes(document_render(order_id=order.pk, kind=kind, language="zh-hant").pdf))
    fonts = subprocess.run(["pdffonts", str(source)], capture_output=True, check=True, text=True).stdout

    cjk = [row for row in fonts.splitlines() if "NotoSansCJK" in row.replace("-", "")]
    assert cjk, fonts
    assert all(" yes " in row for row in cjk)  # emb column: the glyphs travel with the PDF


def test_pickup_receipt_shows_the_code(pickup_order: Order, tmp_path: Path) -> None:
    text = pdf_text(
        bytes(document_render(order_id=pickup_order.pk, kind="receipt", language="en").pdf), tmp_path
    )

    assert "K7Q2MX" in text
    assert squash(translated("en", "Pickup code")) in text
    assert "MongKok" in text  # where to collect
    assert "ChanSiuMing" in text and "+852****5432" in text


def test_walk_in_customer(branch: Location, tmp_path: Path) -> None:
    walk_in = OrderFactory(location=branch)

    text = pdf_text(bytes(document_render(order_id=walk_in.pk, kind="receipt", language="en").pdf), tmp_path)

    assert squash(translated("en", "Walk-in customer")) in text


def test_points_block_only_with_the_hook(
    order: Order, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "receipt_extras", lambda order: {})
    without = pdf_text(bytes(document_render(order_id=order.pk, kind="receipt", language="en").pdf), tmp_path)
    monkeypatch.setattr(
        documents, "receipt_extras", lambda order: {"points": {"earned": 657, "balance": 4321}}
    )
    with_points = pdf_text(
        bytes(document_render(order_id=order.pk, kind="receipt", language="en").pdf), tmp_path
    )

    assert "Pointsbalance" not in without
    assert "Pointsbalance" in with_points and "4321" in with_points


def test_return_policy_reads_the_setting(order: Order, tmp_path: Path, settings: Any) -> None:
    settings.RETURN_WINDOW_DAYS = 7
    text = pdf_text(bytes(document_render(order_id=order.pk, kind="receipt", language="en").pdf), tmp_path)

    assert "within7daysofpurchase" in text


def test_unknown_kind_or_language_is_refused(order: Order) -> None:
    with pytest.raises(ValidationFailed):
        document_render(order_id=order.pk, kind="label", language="en")
    with pytest.raises(ValidationFailed):
        document_render(order_id=order.pk, kind="receipt", language="fr")


# --- staleness ----------------------------------------------------------------------------------------------


def test_fresh_document_is_reused(order: Order) -> None:
    first = document_get_or_render(order_id=order.pk, kind="receipt", language="zh-hant")
    again = document_get_or_render(order_id=order.pk, kind="receipt", language="zh-hant")

    assert (again.pk, again.version, again.rendered_at) == (first.pk, first.version, first.rendered_at)


def test_refund_makes_the_document_stale(order: Order, tmp_path: Path) -> None:
    first = document_get_or_render(order_id=order.pk, kind="receipt", language="en")
    refund_add(order, "100", reference="RF-1")

    again = document_get_or_render(order_id=order.pk, kind="receipt", language="en")

    assert again.pk == first.pk
    assert again.version != first.version
    text = pdf_text(bytes(again.pdf), tmp_path)
    assert "-HK$100.00" in text and "RF-1" in text
    assert squash(translated("en", "Net paid")) in text and "HK$557.90" in text


# --- signed links -------------------------------------------------------------------------------------------


def token_of(url: str) -> str:
    return url.split("/r/", 1)[1].split("/", 1)[0]


def test_link_is_absolute_on_the_site_url(order: Order, settings: Any) -> None:
    settings.SITE_URL = "https://shop.example.hk/"
    link = document_link(order_id=order.pk, kind="receipt", language="zh-hant")

    assert link.startswith("https://shop.example.hk/r/") and link.endswith("/")
    assert document_link(order_id=order.pk, kind="receipt", language="zh-hant", absolute=False).startswith(
        "/r/"
    )


def test_link_opens_the_e_receipt_page(order: Order, client: Client) -> None:
    response = client.get(
        document_link(order_id=order.pk, kind="receipt", language="zh-hant", absolute=False)
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert order.number in page and "碎花中長連身裙" in page
    assert page.count("/pdf") >= 2  # receipt and invoice downloads
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Content-Language"] == "zh-hant"


@pytest.mark.parametrize(("language", "browser"), [("zh-hant", "en"), ("en", "zh-hant")])
def test_page_speaks_the_links_language_not_the_browsers(
    order: Order, client: Client, language: str, browser: str
) -> None:
    link = document_link(order_id=order.pk, kind="receipt", language=language, absolute=False)

    page = client.get(link, HTTP_ACCEPT_LANGUAGE=browser).content.decode()

    assert translated(language, "Cashier") in page
    assert translated(browser, "Cashier") not in page


def test_pdf_link_renders_on_demand(order: Order, client: Client) -> None:
    assert not OrderDocument.objects.exists()  # as if the worker were down

    response = client.get(document_pdf_link(order_id=order.pk, kind="receipt", language="en", absolute=False))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{order.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    assert OrderDocument.objects.filter(order=order, kind="receipt", language="en").exists()


def test_invoice_pdf_link(order: Order, client: Client) -> None:
    response = client.get(
        document_pdf_link(order_id=order.pk, kind="invoice", language="zh-hant", absolute=False)
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="{order.number}-invoice.pdf"'


def assert_link_refused(client: Client, token: str) -> None:
    for url in (f"/r/{token}/", f"/r/{token}/pdf"):
        response = client.get(url)
        assert response.status_code == 404, url
        page = response.content.decode()
        assert 'lang="en"' in page and 'lang="zh-Hant-HK"' in page  # the message in both languages
        assert squash(translated("en", "Link not available")) in squash(page)


def test_tampered_token_is_a_404(order: Order, client: Client) -> None:
    token = token_of(document_link(order_id=order.pk, kind="receipt", language="en"))
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert_link_refused(client, flipped)
    assert_link_refused(client, "not-a-token")
    # The same payload signed without the links' salt (e.g. a cookie or another feature's token).
    assert_link_refused(client, signing.dumps({"o": order.pk, "k": "receipt", "l": "en"}))


def test_expired_token_is_a_404(
    order: Order, client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.DOCUMENT_LINK_MAX_AGE_DAYS = 90
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 91 * 24 * 3600)
    old = document_link(order_id=order.pk, kind="receipt", language="en", absolute=False)
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 89 * 24 * 3600)
    recent = document_link(order_id=order.pk, kind="receipt", language="en", absolute=False)
    monkeypatch.undo()

    assert_link_refused(client, token_of(old))
    assert client.get(recent).status_code == 200


def test_link_of_one_order_cannot_open_another(order: Order, branch: Location, client: Client) -> None:
    other = OrderFactory(location=branch)
    token_a = token_of(document_link(order_id=order.pk, kind="receipt", language="en"))
    token_b = token_of(document_link(order_id=other.pk, kind="receipt", language="en"))

    # B's payload with A's timestamp and signature: the signature covers the payload.
    payload_b = token_b.split(":", 1)[0]
    forged = payload_b + token_a[len(token_a.split(":", 1)[0]) :]
    assert_link_refused(client, forged)
    assert document_link_resolve(token=token_a).order_id == order.pk
    page = client.get(f"/r/{token_a}/").content.decode()
    assert order.number in page and other.number not in page


def test_link_of_a_deleted_order_is_a_404(branch: Location, client: Client) -> None:
    gone = OrderFactory(location=branch, payments=[])
    link = document_link(order_id=gone.pk, kind="receipt", language="en", absolute=False)
    gone.lines.all().delete()
    gone.delete()

    assert_link_refused(client, token_of(link))


# --- e-mail -------------------------------------------------------------------------------------------------


def test_email_attaches_the_pdf_and_links_it(order: Order, mailoutbox: list[Any]) -> None:
    order_document_email(order_id=order.pk, to="chan@example.com", language="en")

    (message,) = mailoutbox
    assert message.to == ["chan@example.com"]
    assert order.number in message.subject
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"{order.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert "/r/" in message.body
    assert OrderDocument.objects.filter(order=order, kind="receipt", language="en").exists()


def test_email_defaults_to_the_orders_language(order: Order, mailoutbox: list[Any]) -> None:
    order_document_email_task(order.pk, "chan@example.com", kind="invoice")

    assert mailoutbox[0].attachments[0][0] == f"{order.number}-invoice.pdf"
    assert OrderDocument.objects.filter(order=order, kind="invoice", language=order.language).exists()


def test_email_refuses_a_bad_address(order: Order, mailoutbox: list[Any]) -> None:
    with pytest.raises(ValidationFailed):
        order_document_email(order_id=order.pk, to="not an address")
    assert mailoutbox == []


# --- the outbox and the task --------------------------------------------------------------------------------


def test_enqueue_stores_an_outbox_message_sent_after_commit(
    order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        order_documents_enqueue(order.pk)

    message = OutboxMessage.objects.get(task_name="orders.tasks.order_documents_render_task")
    assert message.kwargs == {"order_id": order.pk}
    assert message.sent_at is None
    assert len(callbacks) == 1  # the relay, run only once the order's transaction commits


def test_enqueue_rolled_back_with_the_order(order: Order) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        order_documents_enqueue(order.pk)
        raise RuntimeError("the sale failed")

    assert not OutboxMessage.objects.filter(task_name="orders.tasks.order_documents_render_task").exists()


def test_render_task_is_idempotent(order: Order) -> None:
    order_documents_render_task(order.pk)
    first = OrderDocument.objects.get(order=order)
    order_documents_render_task(order.pk)

    again = OrderDocument.objects.get(order=order)
    assert (again.kind, again.language) == ("receipt", order.language)
    assert (again.version, again.rendered_at) == (first.version, first.rendered_at)


def test_rendering_fetches_nothing_but_data_uris(
    order: Order, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A product name that looks like markup stays text, and nothing is fetched from the network or disk.
    order.lines.filter(position=1).update(name_zh_hant='<img src="http://169.254.169.254/latest">')
    fetched: list[str] = []
    original_open = urllib.request.OpenerDirector.open

    def spy(self: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        full_url = url.full_url if isinstance(url, urllib.request.Request) else url
        if not full_url.startswith("data:"):
            fetched.append(full_url)
        return original_open(self, url, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", spy)

    text = pdf_text(
        bytes(document_render(order_id=order.pk, kind="receipt", language="zh-hant").pdf), tmp_path
    )

    assert fetched == []
    assert "169.254.169.254" in text
