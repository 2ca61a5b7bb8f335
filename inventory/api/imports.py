"""Catalogue import uploads (checked in the background, then committed) and catalogue/stock downloads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.imports.export import EXPORT_TYPES, catalog_export
from inventory.imports.formats import FORMAT_CHOICES
from inventory.imports.jobs import import_job_commit, import_job_create, import_size_check
from inventory.models import ImportJob
from omo.models import Role

MANAGERS = frozenset({Role.OWNER, Role.MANAGER})


class ImportUploadInput(serializers.Serializer[dict]):
    file = serializers.FileField(
        help_text="CSV or XLSX: the OMO template, a Shopify or a WooCommerce export."
    )
    format = serializers.ChoiceField(choices=FORMAT_CHOICES, default="auto")
    location = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shopify/WooCommerce: the location whose on-hand the file's quantities are.",
    )
    skip_invalid = serializers.BooleanField(default=False)
    no_stock = serializers.BooleanField(default=False)


class ImportJobOutput(serializers.ModelSerializer[ImportJob]):
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    percent = serializers.SerializerMethodField()
    report = serializers.JSONField(read_only=True, allow_null=True)
    options = serializers.JSONField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "file_format",
            "sha256",
            "status",
            "commit",
            "options",
            "rows_total",
            "rows_done",
            "percent",
            "report",
            "error",
            "created_at",
            "finished_at",
            "created_by",
        ]

    def get_percent(self, job: ImportJob) -> int:
        if job.status == "done":
            return 100
        return min(99, job.rows_done * 100 // job.rows_total) if job.rows_total else 0


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImportJob]):
    """Uploads to check (dry run, in the background), their progress and report, and their commit."""

    queryset = ImportJob.objects.select_related("created_by").defer("data")
    serializer_class = ImportJobOutput
    parser_classes = [MultiPartParser, FormParser]
    lookup_value_regex = r"\d+"
    scope = "inventory"
    allowed_roles = MANAGERS
    filterset_fields = ["status", "commit", "file_format"]
    ordering_fields = ["created_at"]

    @extend_schema(request={"multipart/form-data": ImportUploadInput}, responses={202: ImportJobOutput})
    def create(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is not None:
            import_size_check(upload.size or 0)  # before reading it into memory
        data = ImportUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = import_job_create(
            actor=request.user,
            filename=upload.name or "upload",
            data=upload.read(),
            file_format=data.validated_data["format"],
            location=data.validated_data["location"],
            skip_invalid=data.validated_data["skip_invalid"],
            no_stock=data.validated_data["no_stock"],
        )
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportJobOutput})
    @action(detail=True, methods=["post"])
    def commit(self, request: Request, pk: str) -> Response:
        job = import_job_commit(actor=request.user, job_id=int(pk))
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class JsonErrorsOnly(BaseContentNegotiation):
    """Downloads are files whatever the Accept header says; only errors are rendered (as JSON)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None
    ) -> Any:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class CatalogExportApi(APIView):
    """The catalogue with on-hand per location, as the OMO import template."""

    file_type = "csv"
    scope = "inventory"
    allowed_roles = MANAGERS
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrorsOnly

    def get(self, request: Request) -> HttpResponse:
        codes = [code for value in request.query_params.getlist("location") for code in value.split(",")]
        body = catalog_export(file_type=self.file_type, location_codes=codes or None)
        response = HttpResponse(body, content_type=EXPORT_TYPES[self.file_type])
        response["Content-Disposition"] = f'attachment; filename="catalog.{self.file_type}"'
        return response


LOCATION_PARAMETER = OpenApiParameter(
    "location",
    OpenApiTypes.STR,
    many=True,
    description="Location codes whose stock to export (default: all active).",
)


@extend_schema_view(
    get=extend_schema(
        operation_id="catalog_export_csv",
        parameters=[LOCATION_PARAMETER],
        responses={
            (200, EXPORT_TYPES["csv"]): OpenApiResponse(OpenApiTypes.BINARY, description="The OMO template")
        },
    )
)
class CatalogExportCsvApi(CatalogExportApi):
    file_type = "csv"


@extend_schema_view(
    get=extend_schema(
        operation_id="catalog_export_xlsx",
        parameters=[LOCATION_PARAMETER],
        responses={
            (200, EXPORT_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY, description="The OMO template")
        },
    )
)
class CatalogExportXlsxApi(CatalogExportApi):
    file_type = "xlsx"
