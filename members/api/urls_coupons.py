"""Coupon API under /api/v1/: include("members.api.urls_coupons")."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from members.api import coupons as views

router = SimpleRouter()
router.register("coupon-templates", views.CouponTemplateViewSet, basename="coupon-template")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
    path("coupons/", views.CouponListApi.as_view(), name="coupon-list"),
    path("coupons/issue/", views.CouponIssueApi.as_view(), name="coupon-issue"),
    path("coupons/check/", views.CouponCheckApi.as_view(), name="coupon-check"),
    path("coupons/offers/", views.CouponOffersApi.as_view(), name="coupon-offers"),
    path("coupons/claim/", views.CouponClaimApi.as_view(), name="coupon-claim"),
    path("coupons/<str:code>/qr.svg", views.CouponQrApi.as_view(), name="coupon-qr"),
    path("my-coupons/", views.MyCouponsApi.as_view(), name="my-coupons"),
]
