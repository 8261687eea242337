"""Upload a published folder to the Hugging Face Hub: create repo -> upload folder -> version tag.

The folder is fully built and checked before this runs; this step only moves it. The token comes from ``HF_TOKEN``
or the user's login (``hf auth login``) and is never printed or logged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from legodata.errors import LegodataError, require

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.match(repo_id or ""):
        raise LegodataError(f"--repo-id {repo_id!r}: expected USER/NAME (letters, digits, '.', '_', '-')")
    return repo_id


def resolve_token(hub) -> str:
    token = os.environ.get("HF_TOKEN") or hub.get_token()
    if not token:
        raise LegodataError("--push needs a Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def push_folder(folder: str | Path, repo_id: str, tag: str, private: bool = False) -> str:
    """Upload ``folder`` as dataset ``repo_id`` (old shards under data/ are removed in the same commit) and tag
    the commit. Returns ``"<repo url>@<tag>"``."""
    hub = require("huggingface_hub", "publish")
    check_repo_id(repo_id)
    api = hub.HfApi(token=resolve_token(hub))
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            commit_message=f"legodata publish ({tag})",
            delete_patterns=["data/**"],
        )
        api.create_tag(repo_id, tag=tag, repo_type="dataset", revision=commit.oid, exist_ok=True)
    except hub.errors.HfHubHTTPError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LegodataError(f"push to {repo_id} failed: {first_line}") from None
    return f"{url}@{tag}"
