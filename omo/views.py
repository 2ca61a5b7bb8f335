from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from omo.health import health_report


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, checks = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
