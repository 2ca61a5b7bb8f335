"""Inventory API under /api/v1/."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("stock", views.StockViewSet, basename="stock")
router.register("movements", views.MovementViewSet, basename="movement")
router.register("low-stock-alerts", views.LowStockAlertViewSet, basename="low-stock-alert")
router.register("reservations", views.ReservationViewSet, basename="reservation")
router.register("holds", views.HoldViewSet, basename="hold")
router.register("transfers", views.TransferViewSet, basename="transfer")
router.register("stock-counts", views.StockCountViewSet, basename="stock-count")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("inventory.api.import_urls")),
    path("", include(router.urls)),
    path(
        "variants/<int:variant_id>/availability/",
        views.VariantAvailabilityApi.as_view(),
        name="variant-availability",
    ),
    path("availability/", views.AvailabilityBatchApi.as_view(), name="availability"),
    path(
        "products/<int:product_id>/where-available/",
        views.WhereAvailableApi.as_view(),
        name="product-where-available",
    ),
    path("replenishment/", views.ReplenishmentApi.as_view(), name="replenishment"),
]
