import os
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

from omo.models import AuditLog, Location, User
from omo.services.accounts import user_pin_verify
from omo.settings import celery_broker_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_pages_open_in_traditional_chinese_and_switch_to_english(client, settings):
    settings.LANGUAGE_CODE = "zh-hant"
    page = client.get("/")
    assert page.status_code == 200
    assert "OMO 零售平台" in page.content.decode()
    assert page["Content-Language"] == "zh-hant"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "OMO retail platform" in client.get("/").content.decode()


@pytest.mark.parametrize("language", ["zh_Hant"])
def test_every_message_is_translated_and_compiled(language):
    po_path = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(po_path))
    assert not po.untranslated_entries() and not po.fuzzy_entries()
    mo = polib.mofile(str(po_path.with_suffix(".mo")))
    compiled = {entry.msgid: entry.msgstr for entry in mo if entry.msgid}
    assert compiled == {entry.msgid: entry.msgstr for entry in po.translated_entries()}, "run make messages"


def test_seed_demo_is_idempotent_and_its_logins_work(client):
    call_command("seed_demo")
    counts = (Location.objects.count(), User.objects.count(), AuditLog.objects.count())
    call_command("seed_demo")
    assert (Location.objects.count(), User.objects.count(), AuditLog.objects.count()) == counts
    assert set(Location.objects.values_list("code", flat=True)) == {"CWB", "MK", "TST", "KC"}
    assert Location.objects.get(code="MK").name_zh_hant == "旺角"
    assert set(Location.objects.filter(is_pickup_point=True).values_list("code", flat=True)) == {
        "CWB",
        "MK",
        "TST",
    }
    assert set(Location.objects.filter(ships_orders=True).values_list("code", flat=True)) == {"CWB", "KC"}
    assert Location.objects.get(code="CWB").opening_hours["mon"] == "11:00-22:00"
    assert Location.objects.get(code="KC").opening_hours["sun"] == ""  # the warehouse is closed on Sundays
    assert client.login(username="mk-cashier", password="demo1234")
    assert user_pin_verify(username="mk-cashier", pin="4444").username == "mk-cashier"
    assert list(User.objects.get(username="mk-cashier").branches.values_list("code", flat=True)) == ["MK"]


def test_seed_demo_if_empty_leaves_existing_data(owner):
    call_command("seed_demo", "--if-empty")
    assert not Location.objects.exists()


def test_production_settings_pass_the_deploy_check():
    env = {
        **os.environ,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "shop.example.com",
        "SECRET_KEY": "kR9#vQ2!mZ7@pL4$wX8^nB6&tY3*hJ5(cF1)dG0_sA2+eU9=iO7-rT4~yW6|uP3",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # browser tests set it; production never does
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_celery_broker_url_from_redis_url():
    assert celery_broker_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert (
        celery_broker_url("unix:///srv/omo/redis.sock?db=2")
        == "redis+socket:///srv/omo/redis.sock?virtual_host=2"
    )
