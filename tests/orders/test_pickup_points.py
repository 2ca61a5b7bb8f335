import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

import orders
from omo.errors import ValidationFailed
from omo.models import AuditLog
from orders.models import District, PickupPoint, PickupPointKind
from orders.selectors_pickup import pickup_point_get_active, pickup_points_list
from orders.services.pickup_points import (
    DISTRICT_NAMES,
    PickupPointNotFound,
    district_parse,
    kind_parse,
    pickup_points_import,
)

pytestmark = pytest.mark.django_db

SAMPLE = Path(orders.__file__).parent / "fixtures" / "pickup_points_sample.csv"
HEADER = ["code", "type", "name_en", "name_zh", "address_en", "address_zh", "district", "hours", "active"]


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


def row(code: str, *, kind: str = "SF Locker", district: str = "Yau Tsim Mong", **values: str) -> list[str]:
    cells = {
        "code": code,
        "type": kind,
        "name_en": f"SF Locker {code}",
        "name_zh": f"順豐智能櫃 {code}",
        "address_en": "G/F, 1 Nathan Road, Tsim Sha Tsui, Kowloon",
        "address_zh": "九龍尖沙咀彌敦道1號地下",
        "district": district,
        "hours": "24 hours",
        "active": "yes",
        **values,
    }
    return [cells[name] for name in HEADER]


def import_text(text: str, **options):
    return pickup_points_import(file=io.StringIO(text), actor="test", **options)


def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def imports() -> int:
    return AuditLog.objects.filter(action="pickup_points.import").count()


# --- the sample file, re-imports, edits ---


def test_the_sample_file_imports(owner):
    report = pickup_points_import(file=SAMPLE, actor=owner)

    assert (report.created, report.updated, report.unchanged, report.deactivated) == (12, 0, 0, 0)
    assert report.errors == []
    assert PickupPoint.objects.count() == 12
    assert len(set(PickupPoint.objects.values_list("district", flat=True))) == 12
    store = PickupPoint.objects.get(code="H852SS01")
    assert store.kind == PickupPointKind.SF_STORE
    assert store.district == District.SHAM_SHUI_PO
    assert store.name_zh_hant == "順豐站 - 深水埗鴨寮街"
    assert store.address_zh_hant == "九龍深水埗鴨寮街210號地下B舖"
    assert store.opening_hours == "Mon-Sat 09:00-20:00; Sun 10:00-18:00"
    assert store.is_active
    assert PickupPoint.objects.get(code="P852TP01").kind == PickupPointKind.PARTNER
    audit = AuditLog.objects.get(action="pickup_points.import")
    assert audit.actor == owner
    assert audit.after == {
        "file": "pickup_points_sample.csv",
        "encoding": "utf-8",
        "deactivate_missing": False,
        "rows": 12,
        "created": 12,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
    }


def test_reimporting_the_same_file_changes_nothing():
    pickup_points_import(file=SAMPLE, actor="test")
    stamps = dict(PickupPoint.objects.values_list("code", "updated_at"))

    report = pickup_points_import(file=str(SAMPLE), actor="test")

    assert (report.created, report.updated, report.unchanged, report.deactivated) == (0, 0, 12, 0)
    assert dict(PickupPoint.objects.values_list("code", "updated_at")) == stamps
    assert imports() == 2  # one audit row per import, a no-op one included


def test_an_edited_row_updates_only_that_point():
    pickup_points_import(file=SAMPLE, actor="test")
    before = PickupPoint.objects.get(code="H852FL04")
    edited = (
        sample_text().replace("H852FL04,SF Locker", "h852fl04,SF Store").replace("07:00-23:00", "24 hours")
    )

    report = import_text(edited)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 11)
    after = PickupPoint.objects.get(code="H852FL04")
    assert (after.pk, after.kind, after.opening_hours) == (before.pk, PickupPointKind.SF_STORE, "24 hours")
    assert after.updated_at > before.updated_at


def test_columns_the_file_leaves_out_keep_their_values():
    pickup_points_import(file=SAMPLE, actor="test")
    header = ["code", "type", "name_en", "name_zh", "district"]
    text = csv_text([["H852FL01", "locker", "Mong Kok Locker", "旺角智能櫃", "油尖旺"]], header=header)

    report = import_text(text)

    assert (report.created, report.updated) == (0, 1)
    point = PickupPoint.objects.get(code="H852FL01")
    assert (point.name_en, point.name_zh_hant) == ("Mong Kok Locker", "旺角智能櫃")
    assert point.address_zh_hant == "九龍旺角彌敦道688號地下"
    assert point.opening_hours == "24 hours"


def test_a_file_object_of_bytes_or_text_imports():
    data = SAMPLE.read_bytes()

    assert pickup_points_import(file=io.BytesIO(data), actor="test").created == 12
    assert pickup_points_import(file=io.StringIO(data.decode()), actor="test").unchanged == 12


# --- headers, districts, kinds, encodings ---


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("油尖旺", District.YAU_TSIM_MONG),
        ("油尖旺區", District.YAU_TSIM_MONG),
        ("中西區", District.CENTRAL_WESTERN),
        ("深水埗區", District.SHAM_SHUI_PO),
        ("離島區", District.ISLANDS),
        ("离岛区", District.ISLANDS),
        ("東區", District.EASTERN),
        ("北區", District.NORTH),
        ("Central and Western", District.CENTRAL_WESTERN),
        ("central & western", District.CENTRAL_WESTERN),
        ("  yau tsim   MONG ", District.YAU_TSIM_MONG),
        ("YauTsimMong", District.YAU_TSIM_MONG),
        ("Wan Chai District", District.WAN_CHAI),
        ("Outlying Islands", District.ISLANDS),
        ("sham_shui_po", District.SHAM_SHUI_PO),
        ("Shatin", District.SHA_TIN),
    ],
)
def test_districts_by_code_english_or_chinese_name(text, district):
    assert district_parse(text) == district
    report = import_text(csv_text([row("H852FL90", district=text)]))

    assert report.created == 1
    assert PickupPoint.objects.get(code="H852FL90").district == district


def test_every_district_has_its_names():
    assert set(DISTRICT_NAMES) == set(District)
    for district, names in DISTRICT_NAMES.items():
        assert all(district_parse(name) == district for name in names)
    assert district_parse("Mars") is None
    assert district_parse("東") is None  # too short to be sure


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SF Locker", "sf_locker"),
        ("順豐智能櫃", "sf_locker"),
        ("locker", "sf_locker"),
        ("sf_locker", "sf_locker"),
        ("SF Store", "sf_store"),
        ("順豐站", "sf_store"),
        ("store", "sf_store"),
        ("Partner Shop", "partner"),
        ("Parcel box", None),
    ],
)
def test_kinds_by_code_or_alias(text, kind):
    assert kind_parse(text) == kind


def test_chinese_and_mixed_case_headers():
    header = [
        "點碼",
        "類型",
        "Name (English)",
        "名稱",
        "ADDRESS_EN",
        "地址",
        "地區",
        "營業時間",
        "Active",
        "備註",
    ]
    text = csv_text(
        [
            [
                "H852FL31",
                "順豐智能櫃",
                "SF Locker - Wong Tai Sin",
                "順豐智能櫃 - 黃大仙",
                "",
                "九龍黃大仙",
                "黃大仙",
                "24小時",
                "是",
            ],
            [
                "H852SS31",
                "順豐站",
                "SF Store - Kowloon City",
                "順豐站 - 九龍城",
                "",
                "",
                "九龍城區",
                "",
                "否",
            ],
        ],
        header=header,
    )

    report = import_text(text)

    assert report.created == 2
    assert report.unknown_columns == ["備註"]
    locker, store = PickupPoint.objects.order_by("code")
    assert (locker.kind, locker.district, locker.opening_hours, locker.is_active) == (
        "sf_locker",
        District.WONG_TAI_SIN,
        "24小時",
        True,
    )
    assert (store.kind, store.district, store.is_active) == ("sf_store", District.KOWLOON_CITY, False)


def test_a_utf8_file_with_a_bom_imports():
    report = pickup_points_import(file=io.BytesIO(b"\xef\xbb\xbf" + SAMPLE.read_bytes()), actor="test")

    assert (report.created, report.encoding, report.unknown_columns) == (12, "utf-8", [])
    assert PickupPoint.objects.get(code="H852FL01").name_zh_hant == "順豐智能櫃 - 旺角彌敦道"


def test_a_big5_file_imports():
    # 埗 (深水埗) is one of the Hong Kong characters plain Big5 lacks: Excel in Hong Kong saves Big5-HKSCS.
    data = sample_text().encode("big5hkscs")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    report = pickup_points_import(file=io.BytesIO(data), actor="test")

    assert (report.created, report.encoding) == (12, "big5hkscs")
    assert PickupPoint.objects.get(code="H852SS01").address_zh_hant == "九龍深水埗鴨寮街210號地下B舖"
    assert "it was read as big5hkscs" in report.as_text()


def test_a_cp950_file_with_chinese_headers_imports():
    text = csv_text([row("H852FL41", district="觀塘", name_zh="順豐智能櫃 - 觀塘")], header=HEADER)
    text = text.replace("name_zh", "名稱").replace("district", "地區")

    report = pickup_points_import(file=io.BytesIO(text.encode("cp950")), actor="test")

    assert report.created == 1
    assert PickupPoint.objects.get().name_zh_hant == "順豐智能櫃 - 觀塘"


# --- errors ---


def test_every_error_is_reported_by_row_and_column_and_nothing_is_written():
    pickup_points_import(file=SAMPLE, actor="test")
    text = csv_text(
        [
            row("H852FL01", name_en="Renamed"),  # row 2: fine, but not written either
            row("", district="Mars"),  # row 3
            row("H852FL50", kind="Parcel box", active="maybe"),  # row 4
            row("H852FL51", name_zh="", district=""),  # row 5
            row("H852 FL52", name_en="x" * 201),  # row 6
            row("h852fl01"),  # row 7: the same code as row 2
        ]
    )

    with pytest.raises(ValidationFailed) as failed:
        import_text(text)

    assert str(failed.value.message) == "The file has 9 errors; nothing was imported."
    assert failed.value.extra["errors"] == [
        {"row": 3, "column": "code", "message": "The code is required."},
        {
            "row": 3,
            "column": "district",
            "message": "Unknown district “Mars”: use one of Hong Kong's 18 districts.",
        },
        {
            "row": 4,
            "column": "type",
            "message": "Unknown type “Parcel box”: use SF Locker, SF Store or Partner.",
        },
        {"row": 4, "column": "active", "message": "Use yes or no (or 1 or 0)."},
        {"row": 5, "column": "name_zh", "message": "This value is required."},
        {"row": 5, "column": "district", "message": "The district is required."},
        {"row": 6, "column": "code", "message": "Use only letters, digits, '-', '_' and '.' in a code."},
        {"row": 6, "column": "name_en", "message": "Use at most 200 characters."},
        {"row": 7, "column": "code", "message": "The code H852FL01 is also in row 2."},
    ]
    assert PickupPoint.objects.count() == 12
    assert PickupPoint.objects.get(code="H852FL01").name_en == "SF Locker - Mong Kok Nathan Road"
    assert imports() == 1


def test_a_missing_column_is_reported_on_the_header_row():
    text = csv_text([["H852FL01", "locker", "Locker"]], header=["Code", "Type", "Name_EN"])

    with pytest.raises(ValidationFailed) as failed:
        import_text(text)

    assert failed.value.extra["errors"] == [
        {"row": 1, "column": "name_zh", "message": "This column is missing."},
        {"row": 1, "column": "district", "message": "This column is missing."},
    ]
    assert not PickupPoint.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b" \r\n", "The file is empty."),
        (",".join(HEADER).encode() + b"\r\n", "The file has no pickup points."),
    ],
)
def test_an_empty_file_is_an_error(data, message):
    report = pickup_points_import(file=io.BytesIO(data), actor="test", dry_run=True)

    assert report.errors == [{"row": None, "column": "", "message": message}]
    with pytest.raises(ValidationFailed):
        pickup_points_import(file=io.BytesIO(data), actor="test", deactivate_missing=True)


# --- deactivating, dry runs ---


def test_deactivate_missing_turns_off_the_points_the_carrier_dropped():
    pickup_points_import(file=SAMPLE, actor="test")
    lines = sample_text().splitlines(keepends=True)
    shorter = "".join(line for line in lines if not line.startswith(("H852FL07", "P852TP01")))

    kept = import_text(shorter)
    assert (kept.unchanged, kept.deactivated) == (10, 0)
    assert PickupPoint.objects.filter(is_active=True).count() == 12

    dropped = import_text(shorter, deactivate_missing=True)
    assert (dropped.unchanged, dropped.deactivated) == (10, 2)
    assert set(PickupPoint.objects.filter(is_active=False).values_list("code", flat=True)) == {
        "H852FL07",
        "P852TP01",
    }
    assert AuditLog.objects.filter(action="pickup_points.import").latest("id").after["deactivated"] == 2

    back = pickup_points_import(file=SAMPLE, actor="test", deactivate_missing=True)
    assert (back.updated, back.unchanged, back.deactivated) == (2, 10, 0)
    assert not PickupPoint.objects.filter(is_active=False).exists()


def test_a_dry_run_counts_but_writes_nothing():
    first = pickup_points_import(file=SAMPLE, actor="test", dry_run=True)

    assert (first.created, first.dry_run) == (12, True)
    assert not PickupPoint.objects.exists()
    assert imports() == 0

    pickup_points_import(file=SAMPLE, actor="test")
    edited = "".join(
        line for line in sample_text().splitlines(keepends=True) if not line.startswith("H852FL07")
    ).replace("24 hours", "24/7")
    report = import_text(edited, dry_run=True, deactivate_missing=True)

    assert (report.created, report.updated, report.unchanged, report.deactivated) == (0, 5, 6, 1)
    assert PickupPoint.objects.filter(opening_hours="24 hours").count() == 5
    assert PickupPoint.objects.filter(is_active=True).count() == 12
    assert imports() == 1


def test_a_dry_run_returns_errors_instead_of_raising():
    report = import_text(csv_text([row("H852FL01", district="Mars")]), dry_run=True)

    assert report.errors == [
        {
            "row": 2,
            "column": "district",
            "message": "Unknown district “Mars”: use one of Hong Kong's 18 districts.",
        }
    ]
    assert not report.ok
    assert not PickupPoint.objects.exists()


# --- the command ---


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("pickup_points_import", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_imports_and_prints_the_report():
    out = run(str(SAMPLE), "--dry-run")
    assert out.startswith("Dry run of pickup_points_sample.csv (12 rows): nothing was written.")
    assert not PickupPoint.objects.exists()

    out = run(str(SAMPLE))
    assert out == (
        "Imported pickup_points_sample.csv (12 rows).\n"
        "Pickup points: 12 created, 0 updated, 0 unchanged, 0 deactivated\n"
    )
    assert PickupPoint.objects.count() == 12

    assert "0 created, 0 updated, 12 unchanged, 0 deactivated" in run(str(SAMPLE), "--deactivate-missing")


def test_the_command_exits_1_on_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(csv_text([row("H852FL01"), row("H852FL02", district="Mars")]), encoding="utf-8")

    for args in ([str(path)], [str(path), "--dry-run"]):
        out = io.StringIO()
        with pytest.raises(CommandError) as failed:
            call_command("pickup_points_import", *args, stdout=out)
        assert failed.value.returncode == 1
        assert out.getvalue().startswith("bad.csv has errors; nothing was imported.\n")
        assert "  row 3 [district]: Unknown district “Mars”" in out.getvalue()
    assert not PickupPoint.objects.exists()

    with pytest.raises(CommandError) as missing:
        run(str(tmp_path / "nowhere.csv"))
    assert missing.value.returncode == 2


# --- the selectors ---


@pytest.fixture
def directory() -> None:
    pickup_points_import(file=SAMPLE, actor="test")
    PickupPoint.objects.filter(code="H852FL02").update(is_active=False)


def codes(points) -> list[str]:
    return [point.code for point in points]


@pytest.mark.usefixtures("directory")
def test_pickup_points_list_filters():
    assert len(pickup_points_list()) == 11
    assert len(pickup_points_list(active_only=False)) == 12
    assert codes(pickup_points_list(district=District.YAU_TSIM_MONG)) == ["H852FL01"]
    assert codes(pickup_points_list(district=District.WAN_CHAI)) == []
    assert codes(pickup_points_list(district=District.WAN_CHAI, active_only=False)) == ["H852FL02"]
    assert codes(pickup_points_list(kind=PickupPointKind.SF_STORE)) == [
        "H852SS02",  # eastern
        "H852SS01",  # sham_shui_po
        "H852SS04",  # tuen_mun
        "H852SS03",  # yuen_long
    ]
    assert codes(pickup_points_list(kind=PickupPointKind.PARTNER)) == ["P852TP01"]
    assert codes(pickup_points_list(q=" 旺角 ")) == ["H852FL01"]  # the Chinese name and address
    assert codes(pickup_points_list(q="apliu")) == ["H852SS01"]  # the English address
    assert codes(pickup_points_list(q="h852ss0", kind="sf_store", district="tuen_mun")) == ["H852SS04"]
    assert codes(pickup_points_list(q="kwong fat")) == ["P852TP01"]
    assert codes(pickup_points_list(q="Percival")) == []
    assert codes(pickup_points_list(q="Percival", active_only=False)) == ["H852FL02"]


@pytest.mark.usefixtures("directory")
def test_pickup_point_get_active():
    point = PickupPoint.objects.get(code="H852SS01")

    assert pickup_point_get_active("H852SS01") == point
    assert pickup_point_get_active(" h852ss01 ") == point
    assert pickup_point_get_active(point.pk) == point
    assert pickup_point_get_active(str(point.pk)) == point

    for missing in ("H852XX99", "", 0):
        with pytest.raises(PickupPointNotFound) as not_found:
            pickup_point_get_active(missing)
        assert (not_found.value.code, not_found.value.http_status) == ("pickup_point_not_found", 404)
        assert str(not_found.value.message) == "No such pickup point."
    with pytest.raises(PickupPointNotFound) as closed:
        pickup_point_get_active("H852FL02")
    assert str(closed.value.message) == "This pickup point is no longer in service; please choose another."
    assert closed.value.extra == {"pickup_point": "H852FL02"}


@pytest.mark.usefixtures("directory")
def test_a_code_of_digits_wins_over_an_id():
    other = PickupPoint.objects.get(code="H852SS01")
    digits = PickupPoint.objects.create(
        code=str(other.pk), kind="partner", name_en="Shop", name_zh_hant="店", district="tai_po"
    )

    assert pickup_point_get_active(str(other.pk)) == digits
    assert pickup_point_get_active(other.pk) == other


# --- queries ---


def import_queries(count: int, *, existing: bool) -> int:
    rows = [row(f"H852FL{number:03d}") for number in range(count)]
    if existing:
        import_text(csv_text(rows))
        rows = [row(f"H852FL{number:03d}", hours="07:00-23:00") for number in range(count)]
    with CaptureQueriesContext(connection) as queries:
        report = import_text(csv_text(rows), deactivate_missing=True)
    assert (report.created, report.updated) == ((0, count) if existing else (count, 0))
    return len(queries)


@pytest.mark.parametrize("existing", [False, True])
def test_an_import_runs_the_same_queries_for_2_or_20_rows(existing):
    few = import_queries(2, existing=existing)
    PickupPoint.objects.all().delete()

    assert import_queries(20, existing=existing) == few
    # select the codes, insert or update, deactivate, the audit row, and the savepoint around it all
    assert few == 6
