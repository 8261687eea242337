"""The Label Studio SDK, imported on first use: connection, projects by name, local-files storages, exports."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from legodata.annotate.credentials import Credentials, resolve
from legodata.errors import LegodataError, require

logger = logging.getLogger(__name__)


def connect(url: str | None = None, creds: Credentials | None = None):
    """An SDK client for the resolved server (see :func:`legodata.annotate.credentials.resolve`)."""
    sdk = require("label_studio_sdk", "annotate")
    creds = creds or resolve(url)
    client = sdk.LabelStudio(base_url=creds.url, api_key=creds.token)
    return client


def api_error(exc: Exception, doing: str) -> LegodataError:
    """A one-line error from an SDK/HTTP failure (never echoing headers or tokens)."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    detail = ""
    if isinstance(body, dict):
        errors = body.get("validation_errors")
        if isinstance(errors, dict):
            errors = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
        detail = str(errors or body.get("detail") or body)[:300]
    elif body:
        detail = str(body)[:300]
    if status in (401, 403):
        return LegodataError(f"{doing}: Label Studio refused the API token (HTTP {status})")
    if status is None:
        return LegodataError(f"{doing}: cannot reach Label Studio ({type(exc).__name__})")
    return LegodataError(f"{doing}: Label Studio answered HTTP {status} {detail}".strip())


def find_project(client, name: str, required: bool = True):
    """The project titled ``name`` (exactly), or None / a one-line error."""
    try:
        matches = [p for p in client.projects.list(title=name) if p.title == name]
    except Exception as exc:  # noqa: BLE001 - SDK raises many kinds
        raise api_error(exc, f"listing projects named {name!r}") from None
    if not matches:
        if required:
            raise LegodataError(f"no Label Studio project named {name!r}: create it with `legodata annotate init`")
        return None
    if len(matches) > 1:
        raise LegodataError(f"{len(matches)} Label Studio projects are named {name!r}: rename all but one")
    return client.projects.get(id=matches[0].id)


def local_file_url(path: str | Path, files_root: str | Path) -> str:
    """The URL Label Studio serves a local file under: ``/data/local-files/?d=<path below the document root>``."""
    from urllib.parse import quote

    rel = Path(path).resolve().relative_to(Path(files_root).resolve())
    return "/data/local-files/?d=" + quote(rel.as_posix())


def ensure_local_storage(client, project_id: int, directory: str | Path, files_root: str | Path) -> None:
    """A local-files storage of the project covering ``directory`` (so the server may serve its files; nothing is
    uploaded or synced)."""
    directory = Path(directory).resolve()
    root = Path(files_root).resolve()
    if directory == root or root not in directory.parents:
        raise LegodataError(
            f"{directory} must lie below the server's local-files root {root} (not be it): "
            "move the photos, or start the server with another --files-root"
        )
    try:
        existing = client.import_storage.local.list(project=project_id)
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, "listing local-files storages") from None
    for st in existing:
        path = Path(getattr(st, "path", "") or "/nonexistent")
        if path == directory or path in directory.parents:
            return
    try:
        client.import_storage.local.create(
            project=project_id, path=str(directory), use_blob_urls=False, title=f"legodata {directory.name}"
        )
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, f"adding local-files storage {directory}") from None


def iter_tasks(client, project_id: int):
    """Every task of the project with its data (paged by the SDK)."""
    try:
        yield from client.tasks.list(project=project_id, fields="all")
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, "listing tasks") from None


def export_json(client, project_id: int) -> list[dict[str, Any]]:
    """The project's annotated tasks as Label Studio's JSON export (annotations with ids, authors, lead times)."""
    try:
        data = b"".join(client.projects.exports.download_sync(project_id, export_type="JSON"))
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, "exporting the project") from None
    try:
        tasks = json.loads(data)
    except json.JSONDecodeError:
        raise LegodataError("the project export is not JSON") from None
    if not isinstance(tasks, list):
        raise LegodataError("the project export is not a list of tasks")
    return tasks


def user_emails(client) -> dict[int, str]:
    try:
        return {int(u.id): str(u.email or u.username or u.id) for u in client.users.list()}
    except Exception:  # noqa: BLE001 - annotator names are a courtesy
        logger.warning("cannot list Label Studio users: annotators are recorded by id")
        return {}
