"""Property-based tests of the whole API against its own OpenAPI schema (schemathesis).

Whatever a client sends, the API answers with a 4xx it documents or a success that matches the schema, never
a server error.
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.utils.encoders import JSONEncoder
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from omo.models import Role
from omo.scopes import SCOPES
from omo.services.accounts import api_token_create
from tests.factories.omo import LocationFactory, UserFactory

# The schema the app serves at /api/schema/, made the same way (pytest-django has set Django up by now).
schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=JSONEncoder))
)
APP = get_wsgi_application()


@pytest.fixture
def wsgi_requests(db):
    # As Django's test client does: keep the test's transaction open across in-process WSGI requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db):
    LocationFactory(code="CWB")
    integration = UserFactory(role=Role.API_CLIENT)
    _, key = api_token_create(name="fuzz", user=integration, scopes=list(SCOPES), actor="test")
    return key


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_with_a_server_error(case, token, wsgi_requests):
    case.call_and_validate(
        app=APP,
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
