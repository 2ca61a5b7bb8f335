"""Catalogue and stock imports and exports under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from inventory.api.imports import CatalogExportCsvApi, CatalogExportXlsxApi, ImportViewSet

router = SimpleRouter()
router.register("imports", ImportViewSet, basename="import")

urlpatterns: list[URLPattern | URLResolver] = [
    path("exports/catalog.csv", CatalogExportCsvApi.as_view(), name="catalog-export-csv"),
    path("exports/catalog.xlsx", CatalogExportXlsxApi.as_view(), name="catalog-export-xlsx"),
    *router.urls,
]
