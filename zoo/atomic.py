"""Atomic file writes: write beside the target, then rename over it, so readers never see half a file."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from zoo.errors import WriteError

# Temporary names are hidden (a leading dot), so no loader that globs a folder picks one up.
_TEMPORARY_INFIX = ".tmp-"


def _fsync(path: Path, directory: bool = False) -> None:
    """Flushes a file (or a folder's entries) to disk; best effort where the OS refuses (folders on some systems)."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path in the target's folder (same suffix); renames it onto `path` on success.

    The content is flushed to disk before the rename, so even a power cut leaves the old file or the
    new one, never an empty or half one. A process killed mid-write leaves only the hidden temporary
    file, which `remove_temporaries` clears (the trainer does so when a run resumes). A write the disk
    refuses (full, quota, read-only, permissions) becomes a `WriteError` naming `path`; the old file stays.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}{_TEMPORARY_INFIX}",
                                   suffix="".join(path.suffixes))
    except OSError as error:
        _raise_write_error(error, path)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except OSError as error:  # the disk refused (full, read-only, ...): one line naming the file, old file kept
        _raise_write_error(error, path)
    finally:
        tmp.unlink(missing_ok=True)


def _raise_write_error(error: OSError, path: Path) -> None:
    """Raises the WriteError for a write the disk refused, else `error` itself, unchanged."""
    failure = WriteError.from_os_error(error, path)
    if failure is None:
        raise error
    raise failure from None


def temporaries(folder: str | os.PathLike) -> list[Path]:
    """The hidden temporary files of `atomic_path` writes in `folder` (in progress, or left by a kill)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [path for path in folder.glob(f".*{_TEMPORARY_INFIX}*") if path.is_file()]


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Deletes the temporary files that killed `atomic_path` writes left in `folder`; returns them.

    Call it only when no other process writes into `folder` (e.g. when a run starts).
    """
    removed = temporaries(folder)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Writes `obj` as indented, key-sorted JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
