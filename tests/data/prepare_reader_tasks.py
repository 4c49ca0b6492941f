"""Reader tasks for the streaming tests of `zoo.data.reader_pool.map_files`.

They live apart from test_prepare.py because reader processes start from a fork server and import
the module of their task by name: this one imports nothing heavy (test_prepare.py imports TensorFlow).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from zoo.encodings.event import EventEncoding


def mark(folder: Path, name: str) -> list[str]:
    """Leaves a trace of every file it was given."""
    (folder / name).touch()
    return [name]


def mark_or_die(folder: Path, name: str) -> list[str]:
    """`mark`, except that the file named "die" kills its reader, as the kernel's OOM killer does."""
    if name == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return mark(folder, name)


def name_and_process(name: str) -> list[tuple[str, int]]:
    """Which process read the file."""
    return [(name, os.getpid())]


class DyingEventEncoding(EventEncoding):
    """The event encoding, except that a score holding pitch 127 kills the process encoding it.

    Not registered: its config is the event encoding's, so its pickles equal the event encoding's."""

    def encode(self, score):
        if (score.all_notes()["pitch"] == 127).any():
            os.kill(os.getpid(), signal.SIGKILL)
        return super().encode(score)


class HostileEventEncoding(EventEncoding):
    """The event encoding, except for a piece of a file whose name holds "spin" (it spins) or "hog" (it
    takes memory, 32 MB at a time up to 4 GB), until a per-file limit stops it.

    Not registered: its config is the event encoding's."""

    def encode(self, score):
        name = Path(score.metadata["source"]).name
        if "spin" in name:
            end = time.monotonic() + 60  # far past the limits of the tests: fail, do not hang
            while time.monotonic() < end:
                pass
            raise RuntimeError("no time limit stopped the encoding")
        if "hog" in name:
            blocks = [np.ones(2 ** 25, np.uint8) for _ in range(128)]
            raise RuntimeError(f"no memory limit stopped the encoding ({len(blocks)} blocks)")
        return super().encode(score)
