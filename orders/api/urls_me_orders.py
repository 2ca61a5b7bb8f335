"""A signed-in web shop customer's own orders, under /api/v1/me/orders/."""

from django.urls import URLPattern, path

from orders.api import me_orders

urlpatterns: list[URLPattern] = [
    path("me/orders/", me_orders.MyOrderListApi.as_view(), name="customer-orders"),
    path("me/orders/<str:number>/", me_orders.MyOrderDetailApi.as_view(), name="customer-order"),
]
