"""Catalogue and stock import (the OMO template, Shopify and WooCommerce CSV/XLSX) and export.

`services.catalog_import` is the use case; `jobs` runs it for uploads in the background with progress;
`export.catalog_export` writes the template that re-imports without a change.
"""
