"""Inventory API under /api/v1/."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("inventory.api.import_urls")),
]
