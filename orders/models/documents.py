from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt (80 mm)")
    INVOICE = "invoice", _("Invoice (A4)")


class OrderDocument(models.Model):
    """A rendered PDF of an order, kept in the database so web and worker containers share it."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("kind"), max_length=8, choices=DocumentKind.choices)
    language = models.CharField(_("language"), max_length=10)
    pdf = models.BinaryField()
    # The order's state the PDF shows (a later refund re-renders it).
    version = models.CharField(max_length=64)
    rendered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "kind", "language"], name="order_document_unique")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.language}"
