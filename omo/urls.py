from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from omo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("omo.api.urls")),
    # Each app serves its own part of the API; the strings keep omo (the bottom layer) free of app imports.
    path("api/v1/", include("catalog.api.urls")),
    path("api/v1/", include("inventory.api.urls")),
    path("api/v1/", include("orders.api.urls")),
    path("api/v1/", include("orders.api.urls_me_orders")),
    path("api/v1/", include("members.api.urls_coupons")),
    path("api/v1/", include("members.api.urls_me")),
    path("api/v1/", include("members.api.urls_members")),
    path("api/v1/", include("orders.api.urls_commission")),
    path("", include("orders.urls_documents")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
