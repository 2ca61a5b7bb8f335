"""Commission API under /api/v1/: include("orders.api.urls_commission")."""

from django.urls import URLPattern, path

from orders.api.commission import CommissionStatementApi

urlpatterns: list[URLPattern] = [
    path("commission/statement/", CommissionStatementApi.as_view(), name="commission-statement"),
]
