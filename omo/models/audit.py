from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.models.locations import Location
from omo.scoping import BranchScopedQuerySet


class AuditLog(models.Model):
    """Who did what, at which branch, before and after. Written in the transaction of the act itself."""

    BRANCH_FIELD = "branch"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=150, blank=True, help_text=_("Kept when the user is deleted."))
    action = models.CharField(_("action"), max_length=64, db_index=True)
    branch = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = BranchScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
