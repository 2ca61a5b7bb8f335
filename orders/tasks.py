"""Celery tasks of the orders app: thin, they take ids and call one service."""

from celery import shared_task

from orders.documents import order_document_email, order_documents_render

# --- documents: receipts and invoices (orders.documents) ----------------------------------------------------
# Rendering is idempotent (a fresh stored PDF is left alone), so a redelivered message is harmless; a failed
# render leaves its outbox row unprocessed and the relay sends it again. The e-mail task is not retried
# automatically: a retry after a send that timed out could mail the customer twice.


@shared_task
def order_documents_render_task(order_id: int) -> None:
    order_documents_render(order_id=order_id)


@shared_task
def order_document_email_task(
    order_id: int, to: str, kind: str = "receipt", language: str | None = None
) -> None:
    order_document_email(order_id=order_id, to=to, kind=kind, language=language)


# --- order expiry ---
# Pickup orders not collected by their deadline, and unpaid orders whose holds ran out, are cancelled in
# batches. Each order is claimed under its lock and checked again, so a redelivered or overlapping run is
# harmless (it finds nothing left to do).


@shared_task
def orders_uncollected_cancel_task() -> int:
    from orders.services.expiry import orders_uncollected_cancel

    return orders_uncollected_cancel()


@shared_task
def orders_unpaid_cancel_task() -> int:
    from orders.services.expiry import orders_unpaid_cancel

    return orders_unpaid_cancel()
