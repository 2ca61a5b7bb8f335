"""Catalogue API under /api/v1/."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("variants", views.VariantViewSet, basename="variant")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("brands", views.BrandViewSet, basename="brand")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
]
