"""The customer's e-receipt: a page and its PDF, opened by a signed link (no login; the token is the key).

A bad, tampered or expired token, or one whose order is gone, is a 404 page in both languages, never a 500.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from omo.errors import NotFound
from orders.documents import (
    document_filename,
    document_get_or_render,
    document_link_resolve,
    e_receipt_context,
)


@require_safe
@never_cache
def document_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = document_link_resolve(token=token)
        context = e_receipt_context(target=target)
    except NotFound:
        return _link_invalid(request)
    # The link's language, not the browser's: the customer gets the receipt in the language it was issued in
    # (the page links to the other one).
    with translation.override(target.language):
        response = render(request, "orders/e_receipt.html", context)
    response["Content-Language"] = target.language
    return _private(response)


@require_safe
@never_cache
def document_pdf(request: HttpRequest, token: str) -> HttpResponse:
    # Renders on demand when the stored PDF is missing or stale, so the link works while the worker is down.
    try:
        target = document_link_resolve(token=token)
        document = document_get_or_render(
            order_id=target.order_id, kind=target.kind, language=target.language
        )
    except NotFound:
        return _link_invalid(request)
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    filename = document_filename(order=document.order, kind=target.kind)
    response["Content-Disposition"] = content_disposition_header(as_attachment=False, filename=filename) or ""
    return _private(response)


def _link_invalid(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "orders/e_receipt.html", {"invalid": True}, status=404))


def _private(response: HttpResponse) -> HttpResponse:
    # The token is in the URL: keep it out of Referer headers sent to other sites and out of search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
