"""Reader tasks for the streaming tests of `zoo.data.reader_pool.map_files`.

They live apart from test_prepare.py because reader processes start from a fork server and import
the module of their task by name: this one imports nothing heavy (test_prepare.py imports TensorFlow).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

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
