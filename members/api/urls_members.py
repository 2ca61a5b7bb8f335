"""Member API under /api/v1/: include("members.api.urls_members")."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from members.api import members as views

router = SimpleRouter()
router.register("members", views.MemberViewSet, basename="member")
router.register("segments", views.SegmentViewSet, basename="segment")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
    path("segments/<int:pk>/campaign/", views.SegmentCampaignApi.as_view(), name="segment-campaign"),
]
