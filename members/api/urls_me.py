"""The web shop customer's API under /api/v1/: sign-in by one-time code, and `me/`."""

from django.urls import URLPattern, path

from members.api import me

urlpatterns: list[URLPattern] = [
    path("auth/otp/request/", me.OtpRequestApi.as_view(), name="customer-auth-otp-request"),
    path("auth/otp/verify/", me.OtpVerifyApi.as_view(), name="customer-auth-otp-verify"),
    path("auth/logout/", me.LogoutApi.as_view(), name="customer-auth-logout"),
    path("me/", me.MeProfileApi.as_view(), name="customer-me"),
    path("me/consent/", me.MeConsentApi.as_view(), name="customer-me-consent"),
    path("me/points/", me.MePointsApi.as_view(), name="customer-me-points"),
    path("me/tier/", me.MeTierApi.as_view(), name="customer-me-tier"),
    path("me/coupons/", me.MeCouponsApi.as_view(), name="customer-me-coupons"),
    path("me/qr/", me.MeQrApi.as_view(), name="customer-me-qr"),
]
