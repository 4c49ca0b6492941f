"""`python -m zoo prepare`: music files -> pickled encodings split by piece, plus a manifest.

Output folder:
    train.pkl, valid.pkl, test.pkl   {"format", "encoding", "pieces": [int32 arrays], "sources": [str]}
    manifest.json                    encoding config, inputs, split sizes, skipped files, checksums
A file that cannot be read or encoded, or takes more than the per-file limits on CPU time and
memory (in reader processes and in this one alike), is skipped with its reason; the run goes on.

Reading streams: reader processes parse and encode a few files at a time and send back only the
encoded arrays, in file order, so memory grows with the encoded output, never with parsed scores.
A reader process that dies on a file (segfault, killed for memory) costs only that file, which is
listed as skipped. An encoding that learns its vocabulary (`fit`) needs every piece's source (for
the split) before it can fit, and fit before it can encode: it keeps parsed scores between those
passes up to `KEPT_SCORES_NOTES` notes and reads the files beyond that again, trading time for memory.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from zoo.atomic import write_json
from zoo.data.music_files import FileLimits, find_music_files, progress_bar, read_files, read_pieces
from zoo.data.reader_pool import map_files
from zoo.data.safe_pickle import dump_pickle
from zoo.data.splits import DATA_FORMAT, SPLITS, split_by_piece
from zoo.encodings import Encoding, get_encoding_class
from zoo.encodings.base import piece_length
from zoo.errors import DataError, ZooError
from zoo.locks import hold_lock
from zoo.music.limits import LimitExceeded
from zoo.music.score import Score

# Notes of parsed scores an encoding that learns its vocabulary may keep between its passes
# (20 bytes a note): small data sets are read once, large ones again instead of growing memory.
KEPT_SCORES_NOTES = 1_000_000
# Per-file limits (`python -m zoo prepare --file_time_limit/--file_memory_limit`). The time is music21's own
# budget for parsing a file (zoo.music.music21_io), which prepare's limit replaces: 30 s + 1 s per KB. The
# 130 KB Nottingham jigs.abc of 340 tunes, the largest file of the zoo's data sets, takes ~45 s and 235 MB
# to read; 2 GB leaves room for files several times larger, while `workers` processes can each take it.
FILE_TIME_LIMIT = 30.0
FILE_TIME_LIMIT_PER_KB = 1.0
FILE_MEMORY_LIMIT = 2048.0


PREPARE_LOCK = ".prepare.lock"  # in the output folder while prepare writes it (zoo.locks)


class PieceResult(NamedTuple):
    """What a reader sends back for one piece: the encoded piece, or why there is none.

    `readable` is False for a file that could not be read or has no notes: such pieces take no part
    in the split. A readable piece that its encoding refuses has `piece` None and is skipped after
    the split (so the split does not depend on the encoding)."""

    source: str
    readable: bool
    piece: Any = None
    reason: str = ""


def _crashed_pieces(path: str, reason: str) -> list[PieceResult]:
    return [PieceResult(path, False, None, reason)]


def _encode_file(path: str, encoding: Encoding, limits: FileLimits) -> list[PieceResult]:
    """Reads and encodes one file; only the compact encoded arrays leave the reader process."""
    return _encode_pieces(path, read_pieces(path, limits), encoding, limits)


def _encode_pieces(path: str, pieces: list[tuple[str, Score | None, str]], encoding: Encoding,
                   limits: FileLimits) -> list[PieceResult]:
    """`read_pieces`'s answer for the file `path` -> a `PieceResult` per piece, each encoded within `limits`."""
    results = []
    for source, score, reason in pieces:
        if score is None:
            results.append(PieceResult(source, False, None, reason))
            continue
        try:
            with limits.on(path):
                piece = encoding.encode(score)
        except LimitExceeded as exceeded:
            results.append(PieceResult(source, True, None, limits.reason(f"cannot encode {source}", exceeded)))
            continue
        except ZooError as error:
            results.append(PieceResult(source, True, None, str(error)))
            continue
        except (MemoryError, RecursionError) as error:
            results.append(PieceResult(source, True, None, f"cannot encode: {type(error).__name__}"))
            continue
        if piece_length(piece) == 0:
            results.append(PieceResult(source, True, None, f"nothing left after {encoding.name} encoding"))
        else:
            results.append(PieceResult(source, True, _stored(piece), ""))
    return results


def _stored(piece):
    """What the pickle holds: token ids as int32, other arrays (and dicts of them) as encoded."""
    if isinstance(piece, dict):
        return {key: np.asarray(value) for key, value in piece.items()}
    array = np.asarray(piece)
    return array.astype(np.int32) if array.ndim == 1 and np.issubdtype(array.dtype, np.integer) else array


def _canonical_dtypes(piece):
    """`piece` with numpy's shared dtype objects: arrays unpickled from a reader process carry dtype
    copies, which pickle differently (no memo hits), and the pickles must not depend on `workers`."""
    if isinstance(piece, dict):
        return {key: _canonical_dtypes(value) for key, value in piece.items()}
    if isinstance(piece, np.ndarray) and piece.dtype.fields is None:
        return piece.view(np.dtype(piece.dtype.str))
    return piece


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _learns_vocabulary(encoding: Encoding) -> bool:
    return type(encoding).fit is not Encoding.fit


def _fit_streaming(encoding: Encoding, files: Sequence[str], valid_fraction: float, test_fraction: float,
                   seed: int, workers: int, progress: bool, limits: FileLimits) -> tuple[Encoding, dict[str, list]]:
    """Fits `encoding` on the training split with bounded memory; returns it and the files' parsed
    pieces that were kept (`KEPT_SCORES_NOTES` notes at most), which need no second reading.

    The split needs every piece's source first, so the scores read in that pass are kept while the
    budget lasts; training files beyond it are read again for `fit`, and every file not kept again
    for encoding."""
    kept: dict[str, list] = {}
    notes_kept = 0
    sources, file_of = [], {}
    for path, pieces in read_files(files, workers, {}, "listing", progress, limits):
        for source, score, _ in pieces:
            if score is not None:
                sources.append(source)
                file_of[source] = path
        notes = sum(score.num_notes for _, score, _ in pieces if score is not None)
        if notes_kept + notes <= KEPT_SCORES_NOTES:
            kept[path] = pieces
            notes_kept += notes
    if not sources:
        return encoding, kept  # `prepare` reports that nothing could be used
    splits = split_by_piece(sources, valid_fraction, test_fraction, seed)
    train_sources = {sources[i] for i in splits["train"]}
    train_file_names = {file_of[source] for source in train_sources}
    train_files = [f for f in files if f in train_file_names]
    # `fit` gets the kept scores by reference: `kept` still holds them for the encoding pass.
    reading = read_files(train_files, workers, dict(kept), "fitting", progress, limits)
    try:
        encoding = encoding.fit(score for _, pieces in reading for source, score, _ in pieces
                                if score is not None and source in train_sources)
    finally:
        reading.close()
    return encoding, kept


def _encode_files(files: Sequence[str], encoding: Encoding, kept: dict[str, list], workers: int,
                  progress: bool, limits: FileLimits) -> Iterator[PieceResult]:
    """Every piece of `files` encoded, in file order: kept files encoded here, the others by readers."""
    bar = progress_bar(len(files), "reading", progress)
    # The limits travel in the task: reader processes start from a fork server, not from this process.
    task = functools.partial(_encode_file, encoding=encoding, limits=limits)
    fresh = map_files(task, [f for f in files if f not in kept], workers, crashed=_crashed_pieces)
    try:
        for path in files:
            yield from _encode_pieces(path, kept.pop(path), encoding, limits) if path in kept else next(fresh)
            bar.update()
    finally:
        fresh.close()
        bar.close()


def prepare(
    inputs: Sequence[str],
    encoding: str | Encoding,
    output_dir: str | os.PathLike,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    file_time_limit: float = FILE_TIME_LIMIT,
    file_memory_limit: float = FILE_MEMORY_LIMIT,
) -> dict:
    """Reads, splits (by piece) and encodes `inputs` into `output_dir`; returns the manifest.

    `workers` reader processes stream over the files (1: read in this process); the output does not
    depend on their number. Reading a file, and encoding each of its pieces, may take `file_time_limit`
    seconds of CPU time plus `FILE_TIME_LIMIT_PER_KB` per KB of the file, and `file_memory_limit` MB
    more memory (Linux only); a file past them is skipped, the limit its reason."""
    output_dir = Path(output_dir)
    with hold_lock(output_dir / PREPARE_LOCK, f"data folder {output_dir}"):  # one writer; a second is refused
        if isinstance(encoding, str):
            encoding = get_encoding_class(encoding)()
        limits = FileLimits(file_time_limit, FILE_TIME_LIMIT_PER_KB, file_memory_limit)
        files = find_music_files(inputs)
        kept: dict[str, list] = {}
        if _learns_vocabulary(encoding):
            encoding, kept = _fit_streaming(encoding, files, valid_fraction, test_fraction, seed, workers, progress,
                                            limits)
        readable, skipped = [], []
        for result in _encode_files(files, encoding, kept, workers, progress, limits):
            if result.readable:
                readable.append(result)
            else:
                skipped.append((result.source, result.reason))
        if not readable:
            reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
            raise DataError(f"none of the {len(files)} files could be used ({reasons})")
        splits = split_by_piece([r.source for r in readable], valid_fraction, test_fraction, seed)

        manifest_splits = {}
        for split in SPLITS:
            pieces, sources = [], []
            for i in splits[split]:
                result = readable[i]
                if result.piece is None:
                    skipped.append((result.source, result.reason))
                else:
                    pieces.append(_canonical_dtypes(result.piece))
                    sources.append(result.source)
            pkl = output_dir / f"{split}.pkl"
            dump_pickle(
                {"format": DATA_FORMAT, "encoding": encoding.to_config(), "pieces": pieces, "sources": sources}, pkl
            )
            manifest_splits[split] = {
                "pieces": len(pieces),
                "tokens": int(sum(piece_length(p) for p in pieces)),
                "sources": sources,
                "sha256": _sha256(pkl),
            }
        manifest = {
            "format": DATA_FORMAT,
            "encoding": encoding.to_config(),
            "inputs": list(inputs),
            "files_found": len(files),
            "seed": seed,
            "valid_fraction": valid_fraction,
            "test_fraction": test_fraction,
            "splits": manifest_splits,
            "skipped": [{"file": p, "reason": r} for p, r in skipped],
        }
        write_json(manifest, output_dir / "manifest.json")
        return manifest


def summary(manifest: dict) -> str:
    """One line per split and a count of skipped files, for the command line."""
    lines = [
        f"{split}: {info['pieces']} pieces, {info['tokens']} tokens" for split, info in manifest["splits"].items()
    ]
    lines.append(f"{manifest['files_found']} files found, {len(manifest['skipped'])} skipped")
    return "\n".join(lines)
