"""A local Label Studio server for users who have none.

``label-studio==1.23.2`` pins old pyarrow, dateutil and pytz, so it lives in its own virtual environment under the
user's data directory (``$XDG_DATA_HOME/legodata/label-studio-1.23.2/venv``, default ``~/.local/share``; or
``$LEGODATA_LABEL_STUDIO_VENV``), created on first use (~1.5 min, ~1 GB) and reused afterwards, also by CI and the
tests. The server binds 127.0.0.1 only,
runs in its own session (so ``stop`` ends it and its children), logs to ``DATA_DIR/label-studio.log`` and is
recorded in ``server.json`` (pid, port, URL, data dir) next to the venv.

Label Studio reads its settings from ``LABEL_STUDIO_X``, ``HEARTEX_X`` *and bare* ``X``: a user's ``PORT``,
``HOST``, ``USERNAME`` or ``DEBUG`` would leak into it, so the child gets an environment without them. A busy port
silently becomes port+1 in Label Studio, so the port is checked first and the server that answers is checked to be
ours (its API accepts our token).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from legodata.annotate.credentials import Credentials
from legodata.errors import LegodataError

logger = logging.getLogger("legodata.annotate.server")  # also when run as `python -m` (__name__ == "__main__")

LS_VERSION = "1.23.2"
HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_LEAKY = ("PORT", "HOST", "USERNAME", "PASSWORD", "DEBUG", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def data_home() -> Path:
    """``$XDG_DATA_HOME/legodata/label-studio-<version>`` (default ``~/.local/share/...``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "legodata" / f"label-studio-{LS_VERSION}"


def venv_dir() -> Path:
    """The server's venv: ``data_home()/venv``, or ``$LEGODATA_LABEL_STUDIO_VENV`` (a shared or cached one)."""
    return Path(os.environ.get("LEGODATA_LABEL_STUDIO_VENV") or data_home() / "venv")


def default_data_dir() -> Path:
    return data_home() / "data"


def state_path() -> Path:
    return data_home() / "server.json"


def label_studio_executable() -> Path:
    return venv_dir() / "bin" / "label-studio"


def _marker() -> Path:
    return venv_dir() / ".legodata-ready"


def ensure_server_env(python: str | None = None, quiet: bool = False) -> Path:
    """The ``label-studio`` executable of the server venv, creating the venv first when needed.

    Idempotent and safe to call from several processes at once (a lock file); a half-made venv (killed install) is
    made again. ``python`` is the interpreter to base the venv on (default: this one)."""
    exe = label_studio_executable()
    if _marker().is_file() and exe.is_file():
        return exe
    home = venv_dir().parent
    home.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(home / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _marker().is_file() and exe.is_file():
            return exe
        _install(python or sys.executable, quiet)
    return exe


def _install(python: str, quiet: bool) -> None:
    """Make the venv in place; the ready marker is written last, so a killed install is redone next time."""
    import shutil

    target = venv_dir()
    shutil.rmtree(target, ignore_errors=True)
    say = logger.debug if quiet else logger.info
    say(f"legodata: installing label-studio=={LS_VERSION} into {target} (first use only, about 2 minutes)")
    log = target.parent / "install.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        for cmd in (
            [python, "-m", "venv", str(target)],
            [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             f"label-studio=={LS_VERSION}"],
        ):  # fmt: skip
            r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=_clean_env())
            if r.returncode:
                raise LegodataError(f"installing Label Studio failed ({' '.join(cmd[:4])} ...): see {log}")
    _marker().write_text(f"label-studio=={LS_VERSION}\n")
    say(f"legodata: Label Studio installed in {time.monotonic() - t0:.0f} s")


def _clean_env() -> dict[str, str]:
    """This process's environment without what leaks into Label Studio's settings."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    for k in list(env):
        if k.startswith(("LABEL_STUDIO_", "HEARTEX_", "DJANGO_")):
            del env[k]
    return env


def port_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on ``host:port`` and we could bind it."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        if s.connect_ex((host, port)) == 0:
            return False
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Label Studio's server: TIME_WAIT is no owner
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS considers free right now (for tests)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int
    url: str
    data_dir: str
    log: str
    started_s: float = 0.0  # seconds until /health answered

    def to_json(self) -> dict:
        return {"pid": self.pid, "port": self.port, "url": self.url, "data_dir": self.data_dir, "log": self.log}


def start_server(
    port: int,
    data_dir: str | Path,
    creds: Credentials,
    files_root: str | Path = "/",
    timeout: float = 300.0,
    executable: str | Path | None = None,
) -> ServerInfo:
    """Start Label Studio on ``127.0.0.1:port`` with ``data_dir``; return once ``/health`` is UP and the server
    accepts ``creds.token``. Raises :class:`LegodataError` (one line) for a busy port or a failed start (the log's
    last line named). The admin user and token are made from ``creds`` when ``data_dir`` is new."""
    if not port_free(port):
        raise LegodataError(f"port {port} on {HOST} is busy: choose another with --port")
    exe = Path(executable) if executable else ensure_server_env()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "label-studio.log"
    env = _clean_env()
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=creds.username,
        LABEL_STUDIO_PASSWORD=creds.password,
        LABEL_STUDIO_USER_TOKEN=creds.token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(Path(files_root).resolve()),
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        LABEL_STUDIO_COLLECT_ANALYTICS="false",
    )
    cmd = [str(exe), "start", "--no-browser", "--internal-host", HOST, "--port", str(port)]
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd, stdout=fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    finally:
        os.close(fd)
    url = f"http://{HOST}:{port}"
    try:
        wait_health(url, timeout, proc, log_path)
        _check_token(url, creds.token, data_dir)
    except BaseException:
        _terminate(proc.pid)
        raise
    return ServerInfo(proc.pid, port, url, str(data_dir), str(log_path), time.monotonic() - t0)


def wait_health(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll ``url/health`` until it answers ``{"status": "UP"}``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LegodataError(f"Label Studio exited with code {proc.returncode} while starting: {_last_line(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if json.loads(r.read() or b"{}").get("status") == "UP":
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.25)
    raise LegodataError(f"Label Studio did not answer {url}/health within {timeout:.0f} s: {_last_line(log)}")


def _check_token(url: str, token: str, data_dir: Path) -> None:
    req = urllib.request.Request(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise LegodataError(
                f"the Label Studio data in {data_dir} was made with another API token than the saved credentials: "
                "use another --data-dir, or restore the credentials file"
            ) from None
        raise LegodataError(f"Label Studio at {url} answered {exc.code} to a login check") from None


def _last_line(log: Path | None) -> str:
    if log is None or not log.is_file():
        return "no log"
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return f"{lines[-1][:200]} (log: {log})" if lines else f"empty log {log}"


def _terminate(pid: int, timeout: float = 15.0) -> None:
    """End the server's process group: SIGTERM, then SIGKILL after ``timeout``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:  # not our child: poll for it
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop_server(info: ServerInfo | dict) -> None:
    """End a server started by :func:`start_server` (by its recorded pid, nothing else)."""
    pid = info.pid if isinstance(info, ServerInfo) else int(info["pid"])
    _terminate(pid)


# --- the `serve` / `stop` commands: one recorded server per user --------------------------------------------------


def running() -> dict | None:
    """The recorded server if its process is alive, else None (a stale record is removed)."""
    path = state_path()
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.is_file() and b"label-studio" not in cmdline.read_bytes():
            raise ProcessLookupError  # the pid now belongs to another program: never signal it
        return state
    except (FileNotFoundError, json.JSONDecodeError, KeyError, ValueError):
        return None
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return state


def serve(port: int = DEFAULT_PORT, data_dir: str | Path | None = None, files_root: str | Path = "/") -> ServerInfo:
    """Start the user's local server in the background (credentials generated once and saved 0600)."""
    from legodata.annotate import credentials

    current = running()
    if current is not None:
        raise LegodataError(
            f"a legodata Label Studio is already running at {current['url']} (pid {current['pid']}): "
            "`legodata annotate stop` first"
        )
    url = f"http://{HOST}:{port}"
    saved = credentials.load_saved()
    creds = saved or credentials.generate(url)
    creds = Credentials(url, creds.token, creds.username or credentials.ADMIN_EMAIL, creds.password)
    if not creds.password:  # saved by hand without a password: make one (only used on a new data dir)
        creds = Credentials(url, creds.token, creds.username, credentials.generate(url).password)
    credentials.save(creds)  # before the start: a new data dir takes this token, whatever happens next
    info = start_server(port, data_dir or default_data_dir(), creds, files_root)
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info.to_json()))
    return info


def stop() -> dict | None:
    """Stop the recorded server; returns its record, or None when none was running."""
    state = running()
    if state is None:
        return None
    _terminate(int(state["pid"]))
    state_path().unlink(missing_ok=True)
    return state


if __name__ == "__main__":  # `python -m legodata.annotate.server install`: stdlib only, for CI before the venv
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m legodata.annotate.server install")
    from legodata.log import configure

    configure()
    logger.info("Label Studio server: %s", ensure_server_env())
