"""`python -m zoo prepare`: music files -> pickled encodings split by piece, plus a manifest.

Output folder:
    train.pkl, valid.pkl, test.pkl   {"format", "encoding", "pieces": [int32 arrays], "sources": [str]}
    manifest.json                    encoding config, inputs, split sizes, skipped files, checksums
A file that cannot be read or encoded is skipped with its reason; the run goes on.
"""
from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

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


def _read(path: str) -> list[tuple[str, Score | None, str]]:
    """(source, score or None, reason) for every piece of a file; a multi-tune ABC file's sources
    are `path#N` with N its tunes' `X:` numbers."""
    try:
        scores = load_tunes(path)
    except ZooError as error:
        return [(path, None, str(error))]
    results = []
    for score in scores:
        source = f"{path}#{score.metadata['tune']}" if "tune" in score.metadata else path
        results.append((source, score, "") if score.num_notes else (source, None, "no notes"))
    return results


def read_scores(files: Sequence[str], workers: int = 1, progress: bool = True):
    """Reads every file; returns ([(source, Score)], [(source, reason)]) keeping the input order.

    A source is the file's path, or `path#N` for tune N of a multi-tune ABC file."""
    # disable=None: no bar when stderr is not a terminal (logs, pipes); leave=False: erased when done,
    # so an error after reading is still the only line left on stderr.
    bar = tqdm(total=len(files), desc="reading", unit="file", disable=None if progress else True, leave=False,
               file=sys.stderr)
    results = []
    if workers > 1 and len(files) > 8:
        with ProcessPoolExecutor(workers) as pool:
            for result in pool.map(_read, files, chunksize=8):
                results.extend(result)
                bar.update()
    else:
        for path in files:
            results.extend(_read(path))
            bar.update()
    bar.close()
    scores = [(path, score) for path, score, _ in results if score is not None]
    skipped = [(path, reason) for path, score, reason in results if score is None]
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
    path, _, tune = source.partition("#")
    return Path(path).stem.lower() + tune


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    """Reads, splits (by piece) and encodes `inputs` into `output_dir`; returns the manifest."""
    if isinstance(encoding, str):
        encoding = get_encoding_class(encoding)()
    files = find_music_files(inputs)
    scores, skipped = read_scores(files, workers=workers, progress=progress)
    if not scores:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
        raise DataError(f"none of the {len(files)} files could be used ({reasons})")
    splits = split_by_piece([path for path, _ in scores], valid_fraction, test_fraction, seed)
    encoding = encoding.fit(scores[i][1] for i in splits["train"])

    output_dir = Path(output_dir)
    manifest_splits = {}
    for split in SPLITS:
        pieces, sources = [], []
        for i in splits[split]:
            path, score = scores[i]
            try:
                tokens = encoding.encode(score)
            except ZooError as error:
                skipped.append((path, str(error)))
                continue
            if piece_length(tokens) == 0:
                skipped.append((path, f"nothing left after {encoding.name} encoding"))
                continue
            pieces.append(_stored(tokens))
            sources.append(path)
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
