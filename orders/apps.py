from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from orders.loyalty import PointsTender
        from orders.models import Tender
        from orders.tenders import tender_hook_register

        tender_hook_register(Tender.POINTS, PointsTender())
        from orders.coupons import coupon_hook_register

        coupon_hook_register()
        from orders.members_link import members_hooks_register

        # Orders follow a member's merge, join their data-access export and lose personal data on erasure.
        members_hooks_register()
