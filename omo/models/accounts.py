from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.models.locations import Location


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    CASHIER = "cashier", _("Cashier")
    CUSTOMER = "customer", _("Customer")
    API_CLIENT = "api_client", _("API client")


STAFF_ROLES = frozenset({Role.OWNER, Role.MANAGER, Role.CASHIER})


class User(AbstractUser):
    """Staff, customers and integration users. Staff act at the branches they belong to."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    branches = models.ManyToManyField(Location, blank=True, related_name="staff", verbose_name=_("branches"))
    # The PIN lets staff switch user on a shared iPad; it is hashed like a password and locks after failures.
    pin_hash = models.CharField(max_length=128, blank=True, editable=False)
    pin_failures = models.PositiveIntegerField(default=0, editable=False)
    pin_locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER or self.is_superuser

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES or self.is_superuser


class ApiToken(models.Model):
    """A token an integration presents as `Authorization: Token <key>`. Only a hash of the key is stored."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=40), default=list, verbose_name=_("scopes"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"
