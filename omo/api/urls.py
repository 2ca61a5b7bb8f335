from django.urls import include, path
from rest_framework.routers import DefaultRouter

from omo.api import views

router = DefaultRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("audit-log", views.AuditLogViewSet, basename="audit-log")
router.register("api-tokens", views.ApiTokenViewSet, basename="api-token")
router.register("webhook-endpoints", views.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("ping/", views.PingApi.as_view(), name="ping"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
    path("auth/pin-switch/", views.PinSwitchApi.as_view(), name="pin-switch"),
    path("", include(router.urls)),
]
