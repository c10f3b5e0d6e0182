"""Atomic file writes: write to a temporary file in the target folder, then rename.

A killed process therefore leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "file_digest"]


def atomic_write(path, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the file gets the mode a plain open() would give
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _read_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_text(path, text: str) -> Path:
    def _w(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, _w)


def atomic_write_json(path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FolderLocked(ValueError):
    """Another live process holds the folder's lock (a usage error: exit code 2 on the CLI)."""


class folder_lock:
    """An exclusive lock on a folder for the duration of a ``with`` block: the file ``.lock`` (created
    with O_EXCL) holds the owner's host and pid. A lock whose process is gone (same host, pid not
    running) is stale and taken over; one held by a live process raises :class:`FolderLocked`."""

    def __init__(self, folder, what: str = "folder"):
        self.path = Path(folder) / ".lock"
        self.what = what

    def _try(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")
        return True

    def __enter__(self):
        if self._try():
            return self
        try:
            host, pid = self.path.read_text().split()[:2]
            pid = int(pid)
        except (OSError, ValueError):
            host, pid = None, None
        alive = True
        if host == socket.gethostname() and pid is not None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive = False
            except PermissionError:
                alive = True
        if alive:
            raise FolderLocked(f"the {self.what} {self.path.parent} is in use by process {pid} on {host} (lock file {self.path}); "
                               "wait for it to finish, or remove the lock file if that process is gone")
        self.path.unlink(missing_ok=True)  # stale: its process is gone
        if not self._try():
            raise FolderLocked(f"the {self.what} {self.path.parent} was locked by another process just now ({self.path})")
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        return False
