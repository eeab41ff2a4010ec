"""Where a running server says it listens, so that ``health`` finds it without being told.

Once it listens, ``serve`` writes a small JSON file, ``PID.json`` with the address a client on
the same machine connects to, into the runtime folder: ``$XDG_RUNTIME_DIR/wyoming-qwen-tts``,
else ``wyoming-qwen-tts`` in the temporary folder. It removes the file when it stops. A file
whose process is gone (a server that was killed) is ignored.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from wyoming_qwen_tts.wyoming.listener import Listener

_LOGGER = logging.getLogger(__name__)

FOLDER_NAME = "wyoming-qwen-tts"


def runtime_dir() -> Path:
    return Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / FOLDER_NAME


def local_uri(listener: Listener) -> str:
    """The address of a started listener as a client on this machine reaches it."""
    if listener.path is not None:
        return f"unix://{listener.path}"
    host = listener.host or "0.0.0.0"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"tcp://{host}:{listener.port}"  # a host name
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    if address.version == 6:
        return f"tcp://[{address}]:{listener.port}"
    return f"tcp://{address}:{listener.port}"


@contextlib.contextmanager
def announced(listener: Listener) -> Iterator[None]:
    """Keeps this process's address file in the runtime folder while the block runs."""
    path = runtime_dir() / f"{os.getpid()}.json"
    written = _write(path, {"uri": local_uri(listener), "pid": os.getpid()})
    try:
        yield
    finally:
        if written:
            path.unlink(missing_ok=True)


def _write(path: Path, record: dict[str, object]) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as file:
            json.dump(record, file)
        os.replace(file.name, path)
    except OSError as err:
        _LOGGER.warning(
            "Cannot write %s (%s): `wyoming-qwen-tts health` will need --uri %s",
            path,
            err,
            record["uri"],
        )
        return False
    return True


def running_servers() -> list[str]:
    """The addresses announced by servers that are still running, by process id."""
    uris = []
    for path in sorted(runtime_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid, uri = int(record["pid"]), str(record["uri"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written by someone else, or not ours
        if pid > 0 and _is_running(pid):
            uris.append(uri)
    return uris


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
