"""Upload a published folder to the Hugging Face Hub: create repo -> upload folder -> version tag.

The folder is fully built and checked before this runs; this step only moves it. The token comes from ``HF_TOKEN``
or the user's login (``hf auth login``) and is never printed or logged.

Large sets: ``HfApi.upload_folder`` of huggingface_hub >= 1.20 (with ``hf_xet``, a dependency of it on the usual
platforms) streams the files in several commits and resumes when the same call is made again: committed files are
skipped, uploaded chunks deduplicated. It replaced ``upload_large_folder``, which huggingface_hub deprecated and then
removed (2.x has none). So a push that fails is resumed with ``legodata push DIR --repo-id ...``, which uploads the
same files, without publishing again. Only the files ``publish.json`` lists are uploaded (an allow-list): nothing
else in the folder, such as a ``.cache/huggingface`` left by other upload tools, reaches the dataset.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from legodata.errors import LegodataError, require
from legodata.publish.writer import MARKER

logger = logging.getLogger(__name__)

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
CARD_FILES = ("README.md", "preview.png")


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.match(repo_id or ""):
        raise LegodataError(f"--repo-id {repo_id!r}: expected USER/NAME (letters, digits, '.', '_', '-')")
    return repo_id


def resolve_token(hub) -> str:
    token = os.environ.get("HF_TOKEN") or hub.get_token()
    if not token:
        raise LegodataError("--push needs a Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def published_files(folder: str | Path) -> tuple[list[str], str]:
    """The files of a published ``folder`` (paths relative to it: shards, card, preview, ``publish.json``) and its
    fingerprint; a LegodataError if it is not a complete publish (a shard missing or of another size)."""
    root = Path(folder)
    try:
        info = json.loads((root / MARKER).read_text(encoding="utf-8"))
        shards, fingerprint = info["files"], info["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        raise LegodataError(f"{folder}: not a folder made by `legodata publish` (no readable {MARKER})") from None
    for rel, meta in shards.items():
        path = root / rel
        if not path.is_file() or path.stat().st_size != meta["bytes"]:
            raise LegodataError(f"{folder}: {rel} is missing or changed since publishing; publish the folder again")
    if not (root / "README.md").is_file():
        raise LegodataError(f"{folder}: README.md is missing; publish the folder again")
    extra = [f for f in CARD_FILES if (root / f).is_file()]
    return sorted(shards) + extra + [MARKER], fingerprint


def _warn_unless_resumable(hub) -> None:
    """upload_folder commits in batches and resumes only in huggingface_hub >= 1.20 with hf_xet: say so once."""
    from importlib.util import find_spec

    if find_spec("huggingface_hub._upload_pipeline") is None or find_spec("hf_xet") is None:
        logger.warning(
            "huggingface_hub %s uploads the folder in one commit that cannot resume: for large sets, "
            "`pip install -U 'huggingface_hub>=1.20' hf_xet`",
            hub.__version__,
        )


def push_folder(folder: str | Path, repo_id: str, tag: str | None = None, private: bool = False) -> str:
    """Upload the published ``folder`` as dataset ``repo_id`` and tag the commit (``tag``, default
    ``v<fingerprint[:12]>``). Shards under ``data/`` that this publish does not have are removed in the first
    commit. Calling it again after a failure resumes the upload. Returns ``"<repo url>@<tag>"``."""
    hub = require("huggingface_hub", "publish")
    check_repo_id(repo_id)
    files, fingerprint = published_files(folder)
    tag = tag or f"v{fingerprint[:12]}"
    api = hub.HfApi(token=resolve_token(hub))
    _warn_unless_resumable(hub)
    errors = _transient_errors(hub)
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            commit_message=f"legodata publish ({tag})",
            allow_patterns=files,
            delete_patterns=["data/**"],
        )
        api.create_tag(repo_id, tag=tag, repo_type="dataset", revision=commit.oid, exist_ok=True)
    except errors as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LegodataError(
            f"push to {repo_id} failed: {first_line} (the folder {folder} is complete: "
            f"`legodata push {folder} --repo-id {repo_id}` resumes the upload)"
        ) from None
    return f"{url}@{tag}"


def _transient_errors(hub) -> tuple[type[BaseException], ...]:
    """What a Hub call raises for an HTTP error or a dropped connection (httpx2's transport errors are no OSError)."""
    errors: list[type[BaseException]] = [hub.errors.HfHubHTTPError, OSError]
    try:
        import httpx2

        errors.append(httpx2.TransportError)
    except (ImportError, AttributeError):
        pass
    return tuple(errors)
