from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A saved filter of members: tier, tags, spend, last purchase, channel behaviour. Lists and exports
    always leave out members without consent for the channel they are for."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    tiers = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    min_spend_12m = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    max_spend_12m = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    purchased_within_days = models.PositiveIntegerField(null=True, blank=True)
    not_purchased_within_days = models.PositiveIntegerField(null=True, blank=True)
    # "online_only", "store_only", "both" or "" (any)
    channel_behaviour = models.CharField(max_length=12, blank=True)
    created_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
