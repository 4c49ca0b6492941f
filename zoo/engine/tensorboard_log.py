"""Keeping a resumed run's TensorBoard log to the epochs it kept.

A resumed run redoes the epochs after its last committed backup. What the killed run logged for them
(scalars, samples, histograms) would show twice, once per attempt, so those events are dropped: every
event written after the backup's commit time. The trainer's loggers run before the Checkpointer, so
everything of a committed epoch was written before its commit.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from zoo.atomic import atomic_path

EVENT_FILE_PATTERN = "events.out.tfevents.*"


def _records(path: Path) -> list[bytes]:
    """The whole records of an event file; a last record cut short by a kill is left out."""
    records = []
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            records.append(record.numpy())
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError):
        pass
    return records


def drop_events_after(log_dir: str | Path, wall_time: float) -> int:
    """Rewrites the event files under `log_dir` without the events logged after `wall_time` (seconds since
    the epoch); returns how many were dropped. Files left with no event go."""
    dropped = 0
    for path in sorted(Path(log_dir).rglob(EVENT_FILE_PATTERN)):
        if not path.is_file():
            continue
        records = _records(path)
        kept = [record for record in records if tf.compat.v1.Event.FromString(record).wall_time <= wall_time]
        dropped += len(records) - len(kept)
        if not kept:
            path.unlink()
        elif len(kept) < len(records) or path.stat().st_size > sum(map(len, kept)) + 16 * len(kept):
            with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
                for record in kept:
                    writer.write(record)
    return dropped
