"""Finding music files (folders, `music21:<corpus folder>`) and reading every piece in them as a
`Score`, streamed in file order by reader processes (`zoo.data.reader_pool`).

A source is the file's path, or `path#N` for tune N of a multi-tune ABC file.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from tqdm import tqdm

from zoo.data.reader_pool import map_files
from zoo.errors import DataError, ZooError
from zoo.music.io import SCORE_SUFFIXES, load_tunes
from zoo.music.limits import FileLimit, LimitExceeded
from zoo.music.score import Score

MUSIC21_PREFIX = "music21:"
_LIMIT_FLAGS = {"time": "--file_time_limit", "memory": "--file_memory_limit"}


class FileLimits(NamedTuple):
    """What reading one file, or encoding one of its pieces, may take (`python -m zoo prepare`'s
    per-file limits): `seconds` of user CPU time plus `seconds_per_kb` per KB of the file, and
    `megabytes` more memory; None: unlimited. A tuple, so that it travels to reader processes."""

    seconds: float | None = None
    seconds_per_kb: float = 0.0
    megabytes: float | None = None

    def on(self, path: str) -> FileLimit:
        """The limit for work on the file `path`."""
        seconds = self.seconds
        if seconds is not None and os.path.isfile(path):
            seconds += self.seconds_per_kb * os.path.getsize(path) / 1024
        return FileLimit(seconds, self.megabytes)

    @staticmethod
    def reason(what: str, exceeded: LimitExceeded) -> str:
        """'cannot read x.mid: more than 31.5 s of CPU time (the per-file limit, --file_time_limit)'"""
        return f"{what}: {exceeded} (the per-file limit, {_LIMIT_FLAGS[exceeded.kind]})"


def find_music_files(inputs: Sequence[str]) -> list[str]:
    """Expands folders (recursively) and `music21:<corpus folder>` names into a sorted file list."""
    files: list[str] = []
    for item in inputs:
        if item.startswith(MUSIC21_PREFIX):
            files.extend(_music21_corpus_files(item[len(MUSIC21_PREFIX):]))
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES)
            if not found:
                raise DataError(
                    f"no music files in {path} (looked for {', '.join(SCORE_SUFFIXES)})"
                )
            files.extend(found)
        elif path.is_file():
            files.append(str(path))
        else:
            raise DataError(f"no such file or folder: {path}")
    return files


def _music21_corpus_files(folder: str) -> list[str]:
    from music21 import corpus  # slow import, only when the corpus is asked for

    paths = corpus.getComposer(folder) if folder else []
    files = sorted(str(p) for p in paths if Path(p).suffix.lower() in SCORE_SUFFIXES)
    if not files:
        raise DataError(f"the music21 corpus has no readable scores under '{folder}' (try music21:bach)")
    return files


def read_pieces(path: str, limits: FileLimits = FileLimits()) -> list[tuple[str, Score | None, str]]:
    """(source, score or None, reason) for every piece of a file, read within `limits`; a multi-tune
    ABC file's sources are `path#N` with N its tunes' `X:` numbers."""
    try:
        with limits.on(path):
            scores = load_tunes(path)
    except LimitExceeded as exceeded:
        return [(path, None, limits.reason(f"cannot read {path}", exceeded))]
    except ZooError as error:
        return [(path, None, str(error))]
    except (MemoryError, RecursionError) as error:  # a hostile or huge file: skip it, keep going
        return [(path, None, f"cannot read {path}: {type(error).__name__}")]
    results = []
    for score in scores:
        source = f"{path}#{score.metadata['tune']}" if "tune" in score.metadata else path
        results.append((source, score, "") if score.num_notes else (source, None, "no notes"))
    return results


def progress_bar(total: int, desc: str, progress: bool) -> tqdm:
    # disable=None: no bar when stderr is not a terminal (logs, pipes); leave=False: erased when done,
    # so an error after reading is still the only line left on stderr.
    return tqdm(total=total, desc=desc, unit="file", disable=None if progress else True, leave=False,
                file=sys.stderr)


def iter_scores(files: Sequence[str], workers: int = 1, progress: bool = True
                ) -> Iterator[tuple[str, Score | None, str]]:
    """Yields (source, score or None, reason) for every piece of every file, lazily and in file order,
    read by `workers` processes (see `map_files`).

    A source is the file's path, or `path#N` for tune N of a multi-tune ABC file."""
    for _, pieces in read_files(files, workers, {}, "reading", progress):
        yield from pieces


def read_scores(files: Sequence[str], workers: int = 1, progress: bool = True):
    """Reads every file; returns ([(source, Score)], [(source, reason)]) keeping the input order.

    Holds every parsed score: for large folders use `iter_scores` or `prepare`, which stream."""
    scores, skipped = [], []
    for source, score, reason in iter_scores(files, workers, progress):
        if score is not None:
            scores.append((source, score))
        else:
            skipped.append((source, reason))
    return scores, skipped


def _read_crashed(path: str, reason: str) -> list[tuple[str, None, str]]:
    return [(path, None, reason)]


def read_files(files: Sequence[str], workers: int, kept: dict[str, list], desc: str, progress: bool,
               limits: FileLimits = FileLimits()) -> Iterator[tuple[str, list[tuple[str, Score | None, str]]]]:
    """(file, `read_pieces`'s answer) in file order, taken from `kept` where it holds the file (and
    dropped from it then, so memory goes down as the stream goes on), read by `workers` otherwise,
    each file within `limits`."""
    bar = progress_bar(len(files), desc, progress)
    task = functools.partial(read_pieces, limits=limits)
    fresh = map_files(task, [f for f in files if f not in kept], workers, crashed=_read_crashed)
    try:
        for path in files:
            yield path, (kept.pop(path) if path in kept else next(fresh))
            bar.update()
    finally:
        fresh.close()
        bar.close()
