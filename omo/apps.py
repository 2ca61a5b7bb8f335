from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OmoConfig(AppConfig):
    name = "omo"
    verbose_name = _("OMO platform")
