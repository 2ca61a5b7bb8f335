"""The customer's e-receipt links: `/r/<token>/` (a page) and `/r/<token>/pdf` (the PDF). No login: the signed
token is the key. Included from omo/urls.py with `path("", include("orders.urls_documents"))`."""

from django.urls import path

from orders import views_documents

app_name = "order_documents"

urlpatterns = [
    path("r/<str:token>/", views_documents.document_page, name="page"),
    path("r/<str:token>/pdf", views_documents.document_pdf, name="pdf"),
]
