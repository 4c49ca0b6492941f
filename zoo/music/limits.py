"""A limit on the CPU time and memory that the work on one file may take (a reader parsing it, an
encoder encoding it): a hostile or pathological file stops with `LimitExceeded` instead of spinning
for hours or exhausting the machine.

CPU time is counted by the ITIMER_VIRTUAL alarm (user time), memory by the soft RLIMIT_AS (address
space). Both exist once per process, so limits apply in the main thread only (where signals are
handled) and nest: an inner limit keeps the earlier deadline and the lower memory cap.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

try:
    import resource
except ImportError:  # not Unix: neither limit exists (no setitimer either)
    resource = None

# After a deadline the alarm repeats at this CPU interval: a signal handler's exception raised while Python
# runs a gc callback (Hypothesis installs one) is printed and dropped, so one alarm alone can be lost.
ALARM_REPEAT_SECONDS = 0.05
# RLIMIT_AS caps the address space; Linux enforces it on every mapping and says the current size in
# /proc/self/statm, which a cap relative to it needs. Elsewhere (macOS refuses or ignores RLIMIT_AS) memory
# is not limited.
_STATM = "/proc/self/statm"
MEGABYTE = 2 ** 20

_timed: list[FileLimit] = []  # the time limits in force (main thread), outermost first
_handler_before = None  # the SIGVTALRM handler before the outermost of them


class CpuTimeout(BaseException):
    """Raised inside a `FileLimit` block by its alarm; a BaseException so that the readers' own
    `except Exception` let it through. The block's `__exit__` turns it into `LimitExceeded`."""

    def __init__(self, limit: FileLimit):
        super().__init__(f"{limit.seconds} s of CPU time")
        self.limit = limit


class LimitExceeded(Exception):
    """Raised by a `FileLimit` block that went past its limit; `kind` is "time" or "memory", the message
    says how much ("more than 31.5 s of CPU time", "more than 2048 MB of memory")."""

    def __init__(self, kind: str, amount: float):
        super().__init__(f"more than {amount:.1f} s of CPU time" if kind == "time"
                         else f"more than {amount:g} MB of memory")
        self.kind = kind


class FileLimit:
    """`with FileLimit(seconds, megabytes):` raises `LimitExceeded` when the block has used more than
    `seconds` of user CPU time, or has run out of memory with the address space capped at its size on
    entry plus `megabytes` (1 MB = 2**20 bytes). None: no such limit.

    A no-op off the main thread and where the system lacks the means (memory: Linux only).

    A repeating alarm must never outlive its block: an alarm handled while this module's code runs (a
    limit being entered or left re-arms or disarms the alarm itself) does not raise, and one handled once
    the frame that entered a block has returned (the block was left without `__exit__`, by a raise at its
    edge) drops that limit instead of raising. Nor does one handled during an import (a reader importing
    music21 on its first file): the import's time counts, and the block stops once the import is done.
    """

    def __init__(self, seconds: float | None = None, megabytes: float | None = None):
        self.seconds, self.megabytes = seconds, megabytes
        self.owner = None  # the frame running the block, while its time limit is in force
        self.deadline = 0.0  # in user CPU seconds of the process
        self.rlimit_before = None  # RLIMIT_AS (soft, hard) on entry, while the memory cap is in force

    def __enter__(self) -> FileLimit:
        if threading.current_thread() is threading.main_thread():
            if self.megabytes is not None and resource is not None and os.path.exists(_STATM):
                self._cap_memory()
            if self.seconds is not None and hasattr(signal, "setitimer"):
                self._start_clock(sys._getframe(1))
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        capped = self.rlimit_before is not None
        self._release()  # the memory first: what follows allocates
        if isinstance(error, CpuTimeout) and error.limit is self:
            raise LimitExceeded("time", self.seconds) from None
        if capped and isinstance(error, MemoryError):
            raise LimitExceeded("memory", self.megabytes) from None
        return False

    def _release(self) -> None:
        if self.rlimit_before is not None:
            resource.setrlimit(resource.RLIMIT_AS, self.rlimit_before)
            self.rlimit_before = None
        self._stop_clock()

    def _cap_memory(self) -> None:
        # The cap is relative: RLIMIT_AS counts virtual memory, large already in a process with TensorFlow
        # loaded or many threads. Only the soft limit moves; an earlier (lower) cap or the hard limit wins.
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open(_STATM) as statm:
            size = int(statm.read().split()[0]) * resource.getpagesize()
        cap = size + int(self.megabytes * MEGABYTE)
        cap = min([cap] + [bound for bound in (soft, hard) if bound != resource.RLIM_INFINITY])
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        self.rlimit_before = (soft, hard)

    def _start_clock(self, owner) -> None:
        global _handler_before
        self.owner, self.deadline = owner, _user_seconds() + self.seconds
        if not _timed:
            _handler_before = signal.signal(signal.SIGVTALRM, _expire)
        _timed.append(self)
        _arm()

    def _stop_clock(self) -> None:
        if self.owner is None:
            return
        _timed.remove(self)
        self.owner = None
        if _timed:
            _arm()
        else:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, _handler_before)


def time_limited() -> bool:
    """Whether a `FileLimit` on CPU time is in force around the caller."""
    live = {id(frame) for frame in _stack(sys._getframe(1))}
    return any(id(limit.owner) in live for limit in _timed)


def _stack(frame) -> list:
    """`frame` and the frames that called it."""
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _user_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def _arm() -> None:
    """Sets the alarm for the earliest deadline in force; one past already is due at once."""
    remaining = min(limit.deadline for limit in _timed) - _user_seconds()
    signal.setitimer(signal.ITIMER_VIRTUAL, max(remaining, 0.001), ALARM_REPEAT_SECONDS)


def _expire(signum, frame) -> None:
    stack = _stack(frame)
    for frame in stack:
        if frame.f_globals is globals():  # a limit is being entered or left: it sets the alarm itself
            return
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return  # a module cut short would stay half-imported in this process: raise once it is done
    live = {id(frame) for frame in stack}
    for limit in [limit for limit in _timed if id(limit.owner) not in live]:
        limit._release()  # its block was left without __exit__: its memory cap goes too
    if not _timed:
        return
    now = _user_seconds()
    for limit in _timed:  # outermost first: its block holds the others
        if limit.deadline <= now:
            raise CpuTimeout(limit)
    _arm()  # the alarm's clock ran ahead of getrusage's: wait for the rest
