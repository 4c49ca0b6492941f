"""One writer at a time: an advisory lock that a process holds on a run (or a prepared data folder) while it writes.

The lock is `flock` on a small file, so the kernel releases it when its process ends, however it ends:
a lock is never left held by a killed process. The file also names its holder (pid, host, command, start
time) for the refusal a second writer gets; a holder that did not end cleanly leaves its name behind, and
the next writer says that it takes the lock over. Readers (generate.py, `--init_from`) take no lock: every
file they read is replaced atomically (zoo.atomic), so they see the last committed version.

`flock` is POSIX (Linux, macOS); on NFS, Linux maps it onto the server's byte-range locks.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Iterator

from zoo.errors import RunBusy, RunError, WriteError, disk_errno

MAX_HOLDER_BYTES = 4096


def _holder_text() -> str:
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command[:300],
                       "started": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")})


def _read_holder(fd: int) -> dict:
    """What the lock file says of its holder; {} when empty or unreadable (a holder still writing it)."""
    try:
        holder = json.loads(os.pread(fd, MAX_HOLDER_BYTES, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    where = f" on {holder['host']}" if holder.get("host") and holder["host"] != socket.gethostname() else ""
    return (f"pid {holder.get('pid', '?')}{where} ({holder.get('command', '?')}), "
            f"started {holder.get('started', 'at an unknown time')}")


def _made_folders(folder: Path) -> list[Path]:
    """Creates `folder` and its missing parents; returns those it created, deepest first.

    FileNotFoundError when a releasing holder removed one of them meanwhile (the caller tries again);
    RunError when one of them is a file."""
    missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        blocker = next((parent for parent in (folder, *folder.parents) if parent.exists() and not parent.is_dir()),
                       None)
        if blocker is not None:
            raise RunError(f"cannot lock {folder}: {blocker} is a file, not a folder") from None
        raise FileNotFoundError(folder) from None  # it was there, then gone: removed meanwhile
    return missing


def _open_and_lock(lock_file: Path, what: str) -> tuple[int, list[Path]]:
    """(descriptor holding the lock on `lock_file`, folders made for it); RunBusy when another process holds it."""
    made: list[Path] = []
    for _ in range(100):
        try:
            made += _made_folders(lock_file.parent)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a releasing holder removed the folder meanwhile: again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A holder removes the file when it ends: the one locked here may have been removed since it was
            # opened, and a lock on a removed file excludes no one. Only the file at the path counts.
            if os.stat(lock_file).st_ino == os.fstat(fd).st_ino:
                return fd, made
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunBusy(f"{what} is in use by {_describe(holder)}: wait for it to end, or stop it "
                          f"(the lock is {lock_file})") from None
        except FileNotFoundError:
            pass
        except OSError as error:  # ENOLCK, EOPNOTSUPP: a file system without locks (NFS without lockd, ...)
            os.close(fd)
            if disk_errno(error) is not None:
                raise
            raise RunError(f"cannot lock {lock_file}: {error.strerror or error} (a file system without file "
                           "locks?)") from None
        os.close(fd)
    raise RunBusy(f"{what}: its lock {lock_file} keeps changing hands; try again")


@contextlib.contextmanager
def hold_lock(lock_file: str | os.PathLike, what: str) -> Iterator[None]:
    """Holds the lock on `lock_file` for the block; RunBusy naming the holder when another process has it.

    `what` names the locked thing in messages ("run 'exp1'"). The lock is exclusive and never waits: a
    second writer is refused at once, before it reads or writes anything of the run. A clean end removes
    the file, and the folders made for it when they are empty (a refused or failed start leaves nothing).
    """
    lock_file = Path(lock_file).absolute()  # the block may change the working folder
    try:
        fd, made = _open_and_lock(lock_file, what)
    except OSError as error:
        failure = WriteError.from_os_error(error, lock_file)
        if failure is None:
            raise
        raise failure from None
    try:
        left = _read_holder(fd)
        if left:
            print(f"note: taking over {what} from {_describe(left)}, which ended without releasing it",
                  file=sys.stderr)
        try:  # the holder's name is for messages only: a disk too full to take it must not stop the work
            os.ftruncate(fd, 0)
            os.pwrite(fd, _holder_text().encode(), 0)
        except OSError:
            pass
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_file.unlink()  # still holding it: whoever opens the path next makes a new file
        os.close(fd)  # releases the flock
        for folder in made:
            with contextlib.suppress(OSError):  # not empty, or in use again: it stays
                folder.rmdir()
