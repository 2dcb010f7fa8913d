"""The CSV export: a file per tenant table, the practice's rows only, no link secrets."""

import csv
import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Invitation
from care.models import Client
from portal.audit.models import AuditEvent
from portal.exports import csv_export
from portal.exports.tests.support import populate
from portal.testing import InvitationFactory


def _read(archive, name):
    return list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))


@pytest.fixture
def two_practices(world_a, world_b):
    populate(world_a)
    populate(world_b, marker="Bbmarker")
    InvitationFactory(practice=world_a.practice)
    return world_a, world_b


def test_the_zip_has_a_file_per_tenant_table_with_only_this_practices_rows(two_practices, tmp_path):
    a, b = two_practices
    path = tmp_path / "a.zip"
    with a.scope():
        counts = csv_export.write_zip(a.practice, path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        expected = {f"{m._meta.label_lower}.csv" for m in csv_export.tenant_models()}
        assert {"care.client.csv", "feedback.answer.csv", "exports.exportjob.csv",
                "audit.auditevent.csv"} <= expected
        assert expected | {"users.csv", "manifest.json"} == names
        clients = _read(archive, "care.client.csv")
        assert {int(r["id"]) for r in clients} == set(
            Client.unscoped.filter(practice=a.practice).values_list("pk", flat=True))
        assert all(r["practice_id"] == str(a.practice.pk) for r in clients)
        assert len(_read(archive, "feedback.checkinresponse.csv")) == counts["feedback.checkinresponse.csv"] == 3
        # Practice A's texts, never B's; no column that would rebuild a live link.
        everything = "".join(archive.read(n).decode() for n in names)
        assert "Qqmarker agenda" in everything
        assert "Bbmarker" not in everything
        for leaked in Invitation.unscoped.filter(practice=a.practice).values_list("token_hash", flat=True):
            assert leaked not in everything
        invitation_header = _read(archive, "accounts.invitation.csv")[0].keys()
        assert "nonce" not in invitation_header and "token_hash" not in invitation_header
        users = _read(archive, "users.csv")
        assert a.client.membership.user.email in {u["email"] for u in users}
        assert "password" not in users[0]
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["files"]["care.client.csv"] == len(clients)


def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_defused():
    assert csv_export.cell("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert csv_export.cell("-2+3") == "'-2+3"
    assert csv_export.cell(-2) == "-2"
    assert csv_export.cell({"b": 1}) == '{"b": 1}'
    assert csv_export.cell(None) == "" and csv_export.cell(True) == "true"


def test_the_command_writes_csv_to_a_directory_or_zip_and_fhir_to_a_file(world_a, tmp_path):
    populate(world_a)
    slug = world_a.practice.slug
    call_command("export_practice", slug, "--format", "csv", "--out", str(tmp_path / "dir"))
    assert (tmp_path / "dir" / "feedback.answer.csv").read_text().count("\n") > 10
    call_command("export_practice", slug, "--format", "csv", "--out", str(tmp_path / "a.zip"))
    assert zipfile.is_zipfile(tmp_path / "a.zip")
    call_command("export_practice", slug, "--format", "fhir", "--out", str(tmp_path / "a.json"))
    bundle = json.loads((tmp_path / "a.json").read_text())
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) >= 6
    events = AuditEvent.unscoped.filter(practice=world_a.practice, action=AuditEvent.Action.EXPORT)
    assert sorted(e.detail["format"] for e in events) == ["csv", "csv", "fhir"]


def test_the_command_refuses_bad_input(world_a, tmp_path):
    with pytest.raises(CommandError, match="No practice"):
        call_command("export_practice", "nope", "--format", "csv", "--out", str(tmp_path / "x.zip"))
    (tmp_path / "taken.json").write_text("keep me")
    with pytest.raises(CommandError, match="exists already"):
        call_command("export_practice", world_a.practice.slug, "--format", "fhir",
                     "--out", str(tmp_path / "taken.json"))
    assert (tmp_path / "taken.json").read_text() == "keep me"
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_practice", world_a.practice.slug, "--format", "fhir",
                     "--out", str(tmp_path / "missing" / "a.json"))
