"""A practice as CSV: one file per tenant table (every PracticeScopedModel, found at run time so
a table added later is exported too), streamed row by row into a zip or a directory.

Each file is named `<app>.<model>.csv`, its header the column names (foreign keys as `<name>_id`),
and holds only the practice's rows. `users.csv` adds the name and e-mail of the practice's
members (no password, no other practice). Secrets that would rebuild a live link (invitation
nonces and token hashes) are left out. A text cell starting with = + - @ (or a tab or carriage
return) gets a leading apostrophe, so a spreadsheet never runs it as a formula (OWASP CSV
injection); `manifest.json` lists the files, their row counts and that rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.utils import timezone

from accounts.models import Membership, User
from portal.tenancy.models import Practice, PracticeScopedModel

CHUNK = 2000
SECRET_COLUMNS = {"nonce", "token_hash", "password", "secret"}
USER_COLUMNS = ["id", "email", "first_name", "last_name", "is_active", "date_joined", "last_login"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _has_practice(model) -> bool:
    try:
        field = model._meta.get_field("practice")
    except Exception:
        return False
    return getattr(field, "related_model", None) is Practice


def tenant_models() -> list[type]:
    """Every PracticeScopedModel, and any other table with a practice key (the audit log)."""
    found = [m for m in apps.get_models() if issubclass(m, PracticeScopedModel) or _has_practice(m)]
    return sorted(found, key=lambda m: m._meta.label_lower)


def columns_of(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname not in SECRET_COLUMNS]


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, (int, float, Decimal)):
        return str(value)
    value = str(value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _rows(model, practice: Practice, columns: list[str]) -> Iterator[tuple]:
    qs = model._base_manager.filter(practice=practice).order_by("pk").values_list(*columns)
    return qs.iterator(chunk_size=CHUNK)


def _user_rows(practice: Practice) -> Iterator[tuple]:
    members = Membership.unscoped.filter(practice=practice, user__isnull=False).values("user_id")
    qs = User.objects.filter(pk__in=members).order_by("pk").values_list(*USER_COLUMNS)
    return qs.iterator(chunk_size=CHUNK)


def tables(practice: Practice) -> list[tuple[str, list[str], Callable[[], Iterator[tuple]]]]:
    """(file name, header, rows) for every file of the export."""
    found = []
    for model in tenant_models():
        columns = columns_of(model)
        found.append((
            f"{model._meta.label_lower}.csv",
            columns,
            lambda model=model, columns=columns: _rows(model, practice, columns),
        ))
    found.append(("users.csv", USER_COLUMNS, lambda: _user_rows(practice)))
    return found


def _write_table(text, header, rows) -> int:
    writer = csv.writer(text)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([cell(v) for v in row])
        count += 1
    return count


def _manifest(practice: Practice, counts: dict[str, int]) -> str:
    return json.dumps({
        "practice": {"id": practice.pk, "slug": practice.slug, "name": practice.name},
        "exported_at": timezone.now().astimezone(dt.UTC).isoformat(),
        "format": "rapport-csv/1",
        "files": counts,
        "notes": "Text cells starting with = + - @ or a tab/carriage return carry a leading "
                 "apostrophe (spreadsheet formula protection). Times are UTC, ISO 8601.",
    }, indent=2, ensure_ascii=False)


def write_zip(practice: Practice, path: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write every table into the zip file at `path`; returns {file name: row count}."""
    counts: dict[str, int] = {}
    files = tables(practice)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, (name, header, rows) in enumerate(files, start=1):
            with archive.open(name, "w", force_zip64=True) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                counts[name] = _write_table(text, header, rows())
                text.flush()
                text.detach()
            if progress:
                progress(number, len(files))
        archive.writestr("manifest.json", _manifest(practice, counts))
    return counts


def write_directory(practice: Practice, path: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write every table as a file in the directory `path` (created if needed)."""
    path.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    files = tables(practice)
    for number, (name, header, rows) in enumerate(files, start=1):
        with open(path / name, "w", encoding="utf-8", newline="") as text:
            counts[name] = _write_table(text, header, rows())
        if progress:
            progress(number, len(files))
    (path / "manifest.json").write_text(_manifest(practice, counts), encoding="utf-8")
    return counts
