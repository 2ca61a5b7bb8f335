"""Order API under /api/v1/."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from orders.api import views

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("returns", views.ReturnViewSet, basename="return")
router.register("pickup-points", views.PickupPointViewSet, basename="pickup-point")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
    path("exchanges/", views.ExchangeCreateApi.as_view(), name="exchange-create"),
    path("checkout/", views.CheckoutApi.as_view(), name="checkout"),
    path("fps-qr/", views.FpsQrApi.as_view(), name="fps-qr"),
]
