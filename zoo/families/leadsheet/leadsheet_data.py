"""The lead-sheet models' data: folders of lead sheets encoded once into a cache, and their segments.

`--dataset DIR...` and `--validation DIR` folders are encoded by `prepare` once into the data cache
(zoo/data/corpus.py; the key hashes the folder's path and its files' names, sizes and modification
times, so an edited folder is encoded again); `-p` takes pickles prepared with a
lead-sheet encoding; with neither, music21's own lead sheets are used (offline). Training draws
segments of `--segment_len` steps starting on multiples of `--segment_step` (`segment_starts`),
from pieces at least one segment long (`long_enough`), each batch item from a uniformly drawn
`--dataset` folder (`folder_groups`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.corpus import cached_files
from zoo.data.dataset import EncodedSplit, TrainingData, load_split, split_off_validation, split_paths
from zoo.errors import DataError, UsageError
from zoo.families.leadsheet import leadsheet_encoding as ls

DEFAULT_DATA = "music21:leadSheet"  # music21's own lead sheets: works offline


def parse_time(text: str, flag: str) -> int:
    """'4bar' -> 192 steps, '1bar' -> 48, '96' -> 96; UsageError otherwise."""
    text = str(text).strip().lower()
    try:
        steps = int(text[:-3]) * ls.STEPS_PER_BAR if text.endswith("bar") else int(text)
    except ValueError:
        raise UsageError(f"{flag} must be 'Nbar' or a number of steps (got '{text}')") from None
    if steps < 1:
        raise UsageError(f"{flag} must be at least one step (got '{text}')")
    return steps


def prepare_folder(folder: str, encoding_name: str = "poex") -> EncodedSplit:
    """Every score under `folder` (or music21's `music21:<folder>`), encoded once into the data cache."""
    if not folder.startswith("music21:") and not Path(folder).is_dir():
        raise DataError(f"--dataset/--validation: no such folder: {folder}")
    return load_split(cached_files(folder, encoding_name) / "train.pkl")


def load_leadsheet_split(path: Path) -> EncodedSplit:
    """A prepared split (-p), refused with a UsageError unless it holds a lead-sheet encoding."""
    split = load_split(path)
    if split.encoding.get("name") not in ls.LEADSHEET_ENCODINGS:
        raise UsageError(f"{path} holds the '{split.encoding.get('name')}' encoding; the lead-sheet models take "
                         f"data prepared with --encoding {'|'.join(ls.LEADSHEET_ENCODINGS)}")
    return split


def resolve_leadsheet_data(args: dict[str, Any]) -> TrainingData:
    """Train and validation splits of the flags: --dataset folders, else -p pickles, else music21's lead sheets;
    validation from --validation, else the prepared valid split, else --validation_split (0.1) of the pieces."""
    name = "poex"  # every lead-sheet encoding stores the same grid: one cache serves all model types
    if args.get("dataset"):
        splits = [prepare_folder(folder, name) for folder in args["dataset"]]
        train = EncodedSplit([p for s in splits for p in s.pieces], [x for s in splits for x in s.sources],
                             splits[0].encoding, ";".join(s.path for s in splits))
        paths = {"train": train.path}
    elif args.get("data_path"):
        paths = split_paths(args["data_path"])
        if not paths["train"].is_file():
            raise DataError(f"no training data at {args['data_path']}")
        train = load_leadsheet_split(paths["train"])
        paths = {k: str(v) for k, v in paths.items()}
    else:
        train = prepare_folder(DEFAULT_DATA, name)
        paths = {"train": train.path}
    if not train.pieces:
        raise DataError("no usable lead sheets in the training data (see the skipped files above)")
    if args.get("validation"):
        valid = prepare_folder(args["validation"], name)
        paths["valid"] = valid.path
    elif "valid" in paths and args.get("validation_split") is None:
        valid = load_leadsheet_split(Path(paths["valid"]))
    else:
        fraction = 0.1 if args.get("validation_split") is None else args["validation_split"]
        train, valid = split_off_validation(train, fraction, args["seed"])
    return TrainingData(train, valid, paths, train.encoding)


def long_enough(split: EncodedSplit, segment_len: int) -> EncodedSplit:
    """Drops pieces shorter than one segment."""
    keep = [i for i, piece in enumerate(split.pieces) if len(piece["pitch"]) >= segment_len]
    return EncodedSplit([split.pieces[i] for i in keep], [split.sources[i] for i in keep] if split.sources else [],
                        split.encoding, split.path)


def segment_starts(length: int, segment_len: int, segment_step: int) -> np.ndarray:
    """Every allowed window start: multiples of `segment_step` in [0, length - segment_len] (inclusive)."""
    return np.arange(0, length - segment_len + 1, segment_step)


def folder_groups(split: EncodedSplit, folders: list[str] | None) -> list[list[int]]:
    """Piece indices per --dataset folder (one group without --dataset)."""
    if not folders or len(folders) < 2:
        return [list(range(len(split.pieces)))]
    roots = [str(Path(f).resolve()) for f in folders]
    groups: list[list[int]] = [[] for _ in roots]
    for i, source in enumerate(split.sources):
        resolved = str(Path(source).resolve())
        owner = max(range(len(roots)), key=lambda g: len(roots[g]) if resolved.startswith(roots[g]) else -1)
        groups[owner].append(i)
    return [g for g in groups if g]
