"""Files of the embedded servers, readable by their owner only: private directories, modes
narrowed at every start, and secrets generated once (mode 0600)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and missing parents) readable by its owner only (0700)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    path.chmod(mode)
    return path


def data_dir_mode(postgres: bool) -> int:
    """0700; 0711 as root with PostgreSQL: pgserver then runs it as its own system user, who
    must pass through data_dir to reach PGDATA (0711 lets it in without listing or reading)."""
    return 0o711 if postgres and os.geteuid() == 0 else 0o700


def make_private(root: Path, root_mode: int = 0o700) -> None:
    """Directories 0700 (root: root_mode) and regular files 0600 under root; trees owned by
    another user (PGDATA as root), symlinks, sockets and vanished files are left alone."""
    uid = os.geteuid()
    for directory, dirnames, filenames in os.walk(root):
        try:
            if os.lstat(directory).st_uid != uid:
                dirnames[:] = []
                continue
            os.chmod(directory, root_mode if directory == str(root) else 0o700)
        except OSError:
            continue
        for name in filenames:
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if stat.S_ISREG(mode) and stat.S_IMODE(mode) != 0o600:
                    os.chmod(path, 0o600)


def _token() -> str:
    return secrets.token_urlsafe(48)


def load_or_create_secret(path: Path, make: Callable[[], str] = _token) -> str:
    """A generated secret: read from `path`, or made once by `make` and written with mode 0600."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
        return existing
    key = make()
    if not path.parent.is_dir():  # an existing data_dir keeps its mode (see data_dir_mode)
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.replace(tmp, path)
    return key
