from django.db import models
from django.utils import timezone


class OtpCode(models.Model):
    """A one-time sign-in code sent by SMS. Only its hash is kept; it expires and allows a few tries."""

    phone = models.CharField(max_length=20, db_index=True)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.phone} {self.created_at:%Y-%m-%d %H:%M}"
