"""Where the Label Studio URL and API token come from. Secrets are never printed or logged.

Order: ``--url`` (the CLI flag) for the URL; then the environment (``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``);
then the file ``legodata annotate serve`` writes: ``$XDG_CONFIG_HOME/legodata/label-studio.json`` (default
``~/.config/legodata/``), mode 0600 in a 0700 directory, holding the generated admin login and API token.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from legodata.core.atomic import atomic_open
from legodata.errors import LegodataError

FILE_NAME = "label-studio.json"
ADMIN_EMAIL = "admin@legodata.local"
ENV_URL = "LABEL_STUDIO_URL"
ENV_KEY = "LABEL_STUDIO_API_KEY"


@dataclass(frozen=True)
class Credentials:
    """A server's URL and API token (and, for a server legodata started, its admin login). ``repr`` hides secrets."""

    url: str
    token: str = field(repr=False)
    username: str = ADMIN_EMAIL
    password: str = field(default="", repr=False)

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "token": self.token, "username": self.username, "password": self.password}


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "legodata"


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def generate(url: str) -> Credentials:
    """Fresh admin credentials for a new local server (a 40-hex-digit legacy API token)."""
    return Credentials(url=url, token=secrets.token_hex(20), username=ADMIN_EMAIL, password=secrets.token_urlsafe(18))


def load_saved() -> Credentials | None:
    """The saved credentials, or None when there are none."""
    path = credentials_path()
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        raise LegodataError(
            f"{path} is not a readable JSON file: remove it and run `legodata annotate serve`"
        ) from None
    if not isinstance(d, dict) or not d.get("token"):
        raise LegodataError(f"{path} has no token: remove it and run `legodata annotate serve`")
    return Credentials(
        str(d.get("url") or ""), str(d["token"]), str(d.get("username", ADMIN_EMAIL)), str(d.get("password", ""))
    )


def save(creds: Credentials) -> Path:
    """Write ``creds`` with mode 0600 (never world- or group-readable, also not for a moment)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_open(path, "w", perms=0o600) as fh:
        json.dump(creds.to_json(), fh)
    return path


def resolve(url: str | None = None) -> Credentials:
    """The server to talk to: ``url`` (a flag) or ``LABEL_STUDIO_URL`` or the saved URL; the token from
    ``LABEL_STUDIO_API_KEY`` or the saved file. A one-line error says what is missing."""
    saved = load_saved()
    url = url or os.environ.get(ENV_URL) or (saved.url if saved and saved.url else None)
    if not url:
        raise LegodataError(
            "no Label Studio server: run `legodata annotate serve`, or pass --url (or set LABEL_STUDIO_URL) "
            "and set LABEL_STUDIO_API_KEY"
        )
    url = url.rstrip("/")
    token = os.environ.get(ENV_KEY)
    if token:
        return Credentials(url, token, saved.username if saved else "", "")
    if saved and _same_server(saved.url, url):
        return Credentials(url, saved.token, saved.username, saved.password)
    raise LegodataError(
        f"no API token for {url}: set LABEL_STUDIO_API_KEY (Label Studio: Account & Settings -> Access Token)"
    )


def _same_server(a: str, b: str) -> bool:
    def norm(u: str) -> str:
        return u.rstrip("/").replace("://localhost:", "://127.0.0.1:")

    return norm(a) == norm(b)
