import pytest
from django.db import transaction

from omo.models import AuditLog
from omo.services.audit import audit_record
from omo.services.locations import location_create, location_update

pytestmark = pytest.mark.django_db


def test_audit_row_commits_with_the_act(owner):
    location = location_create(actor=owner, code="ST", name_en="Sha Tin", name_zh_hant="沙田")
    location_update(actor=owner, location_id=location.pk, name_en="Sha Tin Plaza")
    entry = AuditLog.objects.get(action="location.update")
    assert entry.actor == owner and entry.actor_label == "owner" and entry.branch == location
    assert entry.before["name_en"] == "Sha Tin" and entry.after["name_en"] == "Sha Tin Plaza"
    assert entry.object_type == "omo.Location" and entry.object_id == str(location.pk)


def test_audit_row_rolls_back_with_the_act(owner):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        location_create(actor=owner, code="ST", name_en="Sha Tin", name_zh_hant="沙田")
        raise Boom
    assert not AuditLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_audit_outside_a_transaction_is_refused(owner):
    with pytest.raises(RuntimeError):
        audit_record(actor=owner, action="refund")
    assert not AuditLog.objects.exists()


def test_failed_act_writes_no_audit_row(owner, cwb):
    from omo.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        location_update(actor=owner, location_id=cwb.pk, name_en="  ")
    assert not AuditLog.objects.filter(action="location.update").exists()
