"""`python -m zoo prepare`: music files -> pickled encodings split by piece, plus a manifest.

Output folder:
    train.pkl, valid.pkl, test.pkl   {"format", "encoding", "pieces": [int32 arrays], "sources": [str]}
    manifest.json                    encoding config, inputs, split sizes, skipped files, checksums
A file that cannot be read or encoded is skipped with its reason; the run goes on.

Reading streams: reader processes parse and encode a few files at a time and send back only the
encoded arrays, in file order, so memory grows with the encoded output, never with parsed scores.
A reader process that dies on a file (segfault, killed for memory) costs only that file, which is
listed as skipped. An encoding that learns its vocabulary (`fit`) needs every piece's source (for
the split) before it can fit, and fit before it can encode: it keeps parsed scores between those
passes up to `KEPT_SCORES_NOTES` notes and reads the files beyond that again, trading time for memory.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
from tqdm import tqdm

from zoo.atomic import write_json
from zoo.data.safe_pickle import dump_pickle
from zoo.encodings import Encoding, get_encoding_class
from zoo.encodings.base import piece_length
from zoo.errors import DataError, ZooError
from zoo.music.io import SCORE_SUFFIXES, load_tunes
from zoo.music.score import Score

DATA_FORMAT = "zoo-encoded/1"
SPLITS = ("train", "valid", "test")
MUSIC21_PREFIX = "music21:"
# Chunks in flight per reader process: enough to keep every process busy while the parent
# collects, few enough that finished-but-uncollected results stay a handful of chunks.
CHUNKS_IN_FLIGHT_PER_WORKER = 4
MAX_CHUNK_FILES = 16
# Files a reader process reads before it is replaced (music21 keeps caches that grow slowly).
FILES_PER_READER = 500
# Notes of parsed scores an encoding that learns its vocabulary may keep between its passes
# (20 bytes a note): small data sets are read once, large ones again instead of growing memory.
KEPT_SCORES_NOTES = 1_000_000


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



class PieceResult(NamedTuple):
    """What a reader sends back for one piece: the encoded piece, or why there is none.

    `readable` is False for a file that could not be read or has no notes: such pieces take no part
    in the split. A readable piece that its encoding refuses has `piece` None and is skipped after
    the split (so the split does not depend on the encoding)."""

    source: str
    readable: bool
    piece: Any = None
    reason: str = ""


def _read(path: str) -> list[tuple[str, Score | None, str]]:
    """(source, score or None, reason) for every piece of a file; a multi-tune ABC file's sources
    are `path#N` with N its tunes' `X:` numbers."""
    try:
        scores = load_tunes(path)
    except ZooError as error:
        return [(path, None, str(error))]
    except (MemoryError, RecursionError) as error:  # a hostile or huge file: skip it, keep going
        return [(path, None, f"cannot read {path}: {type(error).__name__}")]
    results = []
    for score in scores:
        source = f"{path}#{score.metadata['tune']}" if "tune" in score.metadata else path
        results.append((source, score, "") if score.num_notes else (source, None, "no notes"))
    return results


def _encode_file(path: str, encoding: Encoding) -> list[PieceResult]:
    """Reads and encodes one file; only the compact encoded arrays leave the reader process."""
    return _encode_pieces(_read(path), encoding)


def _encode_pieces(pieces: list[tuple[str, Score | None, str]], encoding: Encoding) -> list[PieceResult]:
    """`_read`'s answer for one file -> a `PieceResult` per piece."""
    results = []
    for source, score, reason in pieces:
        if score is None:
            results.append(PieceResult(source, False, None, reason))
            continue
        try:
            piece = encoding.encode(score)
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


def _run_chunk(task: Callable[[str], list], paths: list[str]) -> list[list]:
    return [task(path) for path in paths]


def _send_result(task: Callable[[str], list], path: str, connection) -> None:
    try:
        connection.send(("result", task(path)))
    except BaseException as error:  # noqa: BLE001 - handed to the parent, which re-raises it
        connection.send(("error", error))
    finally:
        connection.close()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"{name}{', out of memory?' if -exitcode == signal.SIGKILL else ''}"
    return f"exit code {exitcode}"


def _reader_context() -> multiprocessing.context.BaseContext:
    """Readers start from a fork server: a clean process that imported this module once, so each
    reader starts fast and small, and shares neither the parent's heap (which grows with the encoded
    pieces), nor its threads (TensorFlow's, when a model type prepares data)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _run_isolated(task: Callable[[str], list], path: str) -> tuple[bool, Any]:
    """Runs `task(path)` in a process of its own: (True, its result), or (False, how the process
    died) for a file that kills its reader. Exceptions other than dying are re-raised here."""
    context = _reader_context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(task, path, sender), daemon=True)
    process.start()
    sender.close()
    try:
        kind, value = receiver.recv()
    except EOFError:  # the process died before it could answer
        process.join()
        return False, f"cannot read {path}: the reader process died ({_exit_reason(process.exitcode)})"
    finally:
        receiver.close()
    process.join()
    if kind == "error":
        raise value
    return True, value


def _crashed_pieces(path: str, reason: str) -> list[PieceResult]:
    return [PieceResult(path, False, None, reason)]


def map_files(task: Callable[[str], list], files: Sequence[str], workers: int = 1,
              crashed: Callable[[str, str], list] = _crashed_pieces) -> Iterator[list]:
    """Yields `task(path)` for every file, in file order, computed by `workers` reader processes;
    `crashed(path, reason)` stands in for the result of a file whose reader process died.

    Streams: at most `CHUNKS_IN_FLIGHT_PER_WORKER` chunks per process are submitted ahead of the one
    being collected, and processes are replaced every `FILES_PER_READER` files. When a reader process
    dies, the pool is lost with every chunk in flight: those files run again one process each, which
    skips the culprit and keeps the others. `workers` <= 1 runs in this process (no protection
    against a reader that crashes the interpreter). A script that calls this with `workers` > 1 needs
    the `if __name__ == "__main__":` guard: readers import the main module (see `_reader_context`)."""
    if workers <= 1 or len(files) <= 1:
        for path in files:
            yield task(path)
        return
    chunk_size = max(1, min(MAX_CHUNK_FILES, len(files) // (workers * CHUNKS_IN_FLIGHT_PER_WORKER)))
    chunks = collections.deque(list(files[i:i + chunk_size]) for i in range(0, len(files), chunk_size))
    in_flight: collections.deque[tuple[list[str], Future]] = collections.deque()
    pool = ProcessPoolExecutor(workers, mp_context=_reader_context())
    given = 0  # files given to this pool
    try:
        while chunks or in_flight:
            while chunks and len(in_flight) < workers * CHUNKS_IN_FLIGHT_PER_WORKER:
                if given >= workers * FILES_PER_READER:
                    # Fresh processes: whatever a reader library caches stays bounded. The old pool
                    # finishes the chunks it holds first, so that two pools never run at once.
                    pool.shutdown(wait=True)
                    pool, given = ProcessPoolExecutor(workers, mp_context=_reader_context()), 0
                chunk = chunks.popleft()
                try:
                    future = pool.submit(_run_chunk, task, chunk)
                except BrokenProcessPool:  # a reader died since the last result: handled below like its chunk
                    future = Future()
                    future.set_exception(BrokenProcessPool("a reader process died"))
                in_flight.append((chunk, future))
                given += len(chunk)
            chunk, future = in_flight.popleft()
            try:
                yield from future.result()
                continue
            except BrokenProcessPool:
                pass
            # A reader died. Chunks that finished before keep their results; the others rerun alone.
            pool.shutdown(wait=True, cancel_futures=True)
            lost = [(chunk, future)] + list(in_flight)
            in_flight.clear()
            for chunk, future in lost:
                if future.done() and not future.cancelled() and future.exception() is None:
                    yield from future.result()
                else:
                    for path in chunk:
                        answered, value = _run_isolated(task, path)
                        yield value if answered else crashed(path, value)
            pool, given = ProcessPoolExecutor(workers, mp_context=_reader_context()), 0
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _progress(total: int, desc: str, progress: bool) -> tqdm:
    # disable=None: no bar when stderr is not a terminal (logs, pipes); leave=False: erased when done,
    # so an error after reading is still the only line left on stderr.
    return tqdm(total=total, desc=desc, unit="file", disable=None if progress else True, leave=False,
                file=sys.stderr)


def iter_scores(files: Sequence[str], workers: int = 1, progress: bool = True
                ) -> Iterator[tuple[str, Score | None, str]]:
    """Yields (source, score or None, reason) for every piece of every file, lazily and in file order,
    read by `workers` processes (see `map_files`).

    A source is the file's path, or `path#N` for tune N of a multi-tune ABC file."""
    for _, pieces in _read_files(files, workers, {}, "reading", progress):
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


def split_indices(count: int, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Splits piece indices with a fixed seed; every split gets at least one piece when count >= 3."""
    order = np.random.default_rng(seed).permutation(count)
    n_valid = int(round(count * valid_fraction))
    n_test = int(round(count * test_fraction))
    if count >= 3:
        n_valid, n_test = max(n_valid, 1 if valid_fraction > 0 else 0), max(n_test, 1 if test_fraction > 0 else 0)
    n_train = count - n_valid - n_test
    if n_train < 1:
        raise DataError(f"only {count} usable pieces: too few to split into train/valid/test")
    return {
        "train": np.sort(order[:n_train]),
        "valid": np.sort(order[n_train:n_train + n_valid]),
        "test": np.sort(order[n_train + n_valid:]),
    }


def piece_key(source: str) -> str:
    """Files with the same name in different folders are one piece (e.g. Nottingham's full, melody/
    and chords/ versions of a tune), so they always land in the same split. Tune N of a multi-tune
    file `name.abc` is piece `nameN`, which is how Nottingham names its MIDI copy of that tune."""
    path, tune = split_source(source)
    return Path(path).stem.lower() + tune


def split_source(source: str) -> tuple[str, str]:
    """'dir/reels.abc#12' -> ('dir/reels.abc', '12'); a '#' that is part of a file name stays ('C#minor.mid', '')."""
    path, mark, tune = source.rpartition("#")
    return (path, tune) if mark and tune.isdigit() else (source, "")


def split_by_piece(paths: Sequence[str], valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """`split_indices` over pieces (see `piece_key`), mapped back to indices into `paths`."""
    keys = sorted({piece_key(p) for p in paths})
    key_split = {}
    for split, indices in split_indices(len(keys), valid_fraction, test_fraction, seed).items():
        key_split.update({keys[i]: split for i in indices})
    return {split: np.array([i for i, p in enumerate(paths) if key_split[piece_key(p)] == split], dtype=np.int64)
            for split in SPLITS}


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


def _read_crashed(path: str, reason: str) -> list[tuple[str, None, str]]:
    return [(path, None, reason)]


def _read_files(files: Sequence[str], workers: int, kept: dict[str, list], desc: str, progress: bool
                ) -> Iterator[tuple[str, list[tuple[str, Score | None, str]]]]:
    """(file, `_read`'s answer) in file order, taken from `kept` where it holds the file (and
    dropped from it then, so memory goes down as the stream goes on), read by `workers` otherwise."""
    bar = _progress(len(files), desc, progress)
    fresh = map_files(_read, [f for f in files if f not in kept], workers, crashed=_read_crashed)
    try:
        for path in files:
            yield path, (kept.pop(path) if path in kept else next(fresh))
            bar.update()
    finally:
        fresh.close()
        bar.close()


def _fit_streaming(encoding: Encoding, files: Sequence[str], valid_fraction: float, test_fraction: float,
                   seed: int, workers: int, progress: bool) -> tuple[Encoding, dict[str, list]]:
    """Fits `encoding` on the training split with bounded memory; returns it and the files' parsed
    pieces that were kept (`KEPT_SCORES_NOTES` notes at most), which need no second reading.

    The split needs every piece's source first, so the scores read in that pass are kept while the
    budget lasts; training files beyond it are read again for `fit`, and every file not kept again
    for encoding."""
    kept: dict[str, list] = {}
    notes_kept = 0
    sources, file_of = [], {}
    for path, pieces in _read_files(files, workers, {}, "listing", progress):
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
    reading = _read_files(train_files, workers, dict(kept), "fitting", progress)
    try:
        encoding = encoding.fit(score for _, pieces in reading for source, score, _ in pieces
                                if score is not None and source in train_sources)
    finally:
        reading.close()
    return encoding, kept


def _encode_files(files: Sequence[str], encoding: Encoding, kept: dict[str, list], workers: int,
                  progress: bool) -> Iterator[PieceResult]:
    """Every piece of `files` encoded, in file order: kept files encoded here, the others by readers."""
    bar = _progress(len(files), "reading", progress)
    task = functools.partial(_encode_file, encoding=encoding)
    fresh = map_files(task, [f for f in files if f not in kept], workers)
    try:
        for path in files:
            yield from _encode_pieces(kept.pop(path), encoding) if path in kept else next(fresh)
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
) -> dict:
    """Reads, splits (by piece) and encodes `inputs` into `output_dir`; returns the manifest.

    `workers` reader processes stream over the files (1: read in this process); the output does not
    depend on their number."""
    if isinstance(encoding, str):
        encoding = get_encoding_class(encoding)()
    files = find_music_files(inputs)
    kept: dict[str, list] = {}
    if _learns_vocabulary(encoding):
        encoding, kept = _fit_streaming(encoding, files, valid_fraction, test_fraction, seed, workers, progress)
    readable, skipped = [], []
    for result in _encode_files(files, encoding, kept, workers, progress):
        if result.readable:
            readable.append(result)
        else:
            skipped.append((result.source, result.reason))
    if not readable:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
        raise DataError(f"none of the {len(files)} files could be used ({reasons})")
    splits = split_by_piece([r.source for r in readable], valid_fraction, test_fraction, seed)

    output_dir = Path(output_dir)
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
