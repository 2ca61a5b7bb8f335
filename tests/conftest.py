from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from omo.models import Location, LocationKind, Role, User
from tests.factories.omo import LocationFactory, UserFactory


@pytest.fixture(autouse=True)
def _english_by_default(settings: Any) -> None:
    """Assertions read English messages unless a test asks for Chinese (the product default is zh-hant)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def cwb(db: None) -> Location:
    return LocationFactory(code="CWB", name_en="Causeway Bay", name_zh_hant="銅鑼灣")


@pytest.fixture
def mk(db: None) -> Location:
    return LocationFactory(code="MK", name_en="Mong Kok", name_zh_hant="旺角")


@pytest.fixture
def warehouse(db: None) -> Location:
    return LocationFactory(code="KC", kind=LocationKind.WAREHOUSE, name_en="Kwai Chung", name_zh_hant="葵涌")


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory(username="owner", role=Role.OWNER)


@pytest.fixture
def cwb_manager(cwb: Location) -> User:
    return UserFactory(username="cwb-manager", role=Role.MANAGER, branches=[cwb])


@pytest.fixture
def mk_manager(mk: Location) -> User:
    return UserFactory(username="mk-manager", role=Role.MANAGER, branches=[mk])


@pytest.fixture
def cwb_cashier(cwb: Location) -> User:
    return UserFactory(username="cwb-cashier", role=Role.CASHIER, branches=[cwb])


@pytest.fixture
def customer(db: None) -> User:
    return UserFactory(username="customer", role=Role.CUSTOMER)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make
