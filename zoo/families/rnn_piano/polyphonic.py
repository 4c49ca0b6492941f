"""The polyphonic piano-roll benchmarks of Boulanger-Lewandowski et al. (2012) as JSON files.

Format: `{"train": [...], "valid": [...], "test": [...]}`; a split is a list of sequences, a sequence a
list of frames, a frame the list of MIDI pitches sounding (21..108). Read into 88-key uint8 piano-rolls
[T, 88] (column j = MIDI 21 + j), keeping the file's own splits (the literature's protocol), and
written as zoo data pickles (`pianoroll` encoding, 21..108) so the shared evaluation can read them, once per
file content and frame rate, in the data cache (`cached_rolls`). A copy of JSB Chorales ships with the package
(`BUNDLED_JSB`, see benchmarks/README.md).
"""
from __future__ import annotations

import json
import os
import reprlib
from pathlib import Path

import numpy as np

from zoo.data.corpus import cache_folder, cached_dataset, content_key, file_checksum
from zoo.data.safe_pickle import dump_pickle
from zoo.data.splits import DATA_FORMAT
from zoo.encodings.pianoroll import PianorollEncoding
from zoo.errors import DataError

LOWEST_PITCH, NUM_KEYS = 21, 88
# Parsed JSON takes ~30 bytes of memory per byte of file (16 MB -> ~0.5 GB); the four benchmarks' files are
# at most a few MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
SPLITS = ("train", "valid", "test")
BUNDLED_JSB = Path(__file__).resolve().parent / "benchmarks" / "JSB_Chorales.json"


def encoding_config(frames_per_beat: int = 1) -> dict:
    """The `pianoroll` encoding config of an 88-key roll with `frames_per_beat` frames a quarter note."""
    return PianorollEncoding(lowest_pitch=LOWEST_PITCH, num_pitches=NUM_KEYS, steps_per_beat=frames_per_beat,
                             beats_per_bar=4, bars_per_sample=1).to_config()


def _is_whole_number(value) -> bool:
    """An int (not a bool) or a float with no fraction (not NaN or infinite); any size."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _sequence_roll(sequence, where: str) -> np.ndarray:
    if not isinstance(sequence, list):
        raise DataError(f"{where} is not a list of frames")
    roll = np.zeros((len(sequence), NUM_KEYS), np.uint8)
    for t, frame in enumerate(sequence):
        if not isinstance(frame, list) or not all(_is_whole_number(p) for p in frame):
            # reprlib: a bounded repr, whatever the nesting or length of the value
            raise DataError(f"{where}, frame {t}: a frame must be a list of integer MIDI pitches "
                            f"(got {reprlib.repr(frame)})")
        bad = [p for p in frame if not LOWEST_PITCH <= p < LOWEST_PITCH + NUM_KEYS]  # before numpy: 2**70 overflows
        if bad:
            raise DataError(f"{where}, frame {t}: pitch {reprlib.repr(bad[0])} is outside the 88 keys "
                            f"{LOWEST_PITCH}..{LOWEST_PITCH + NUM_KEYS - 1}")
        roll[t, np.asarray(frame, np.int64) - LOWEST_PITCH] = 1
    return roll


def read_polyphonic_json(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """{"train", "valid", "test"} -> lists of uint8 [T, 88] rolls (empty sequences dropped).

    Raises DataError for a missing, unreadable or too large (`MAX_FILE_BYTES`) file, a missing split, or
    pitches outside 21..108.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(f"{path}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit of a piano-roll file")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"no polyphonic data file at {path}") from None
    except RecursionError:
        raise DataError(f"{path} is not a readable JSON file (nested too deeply)") from None
    # ValueError covers JSONDecodeError and an integer of more than 4300 digits
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path} is not a readable JSON file ({str(error)[:200]})") from None
    if not isinstance(data, dict) or any(split not in data for split in SPLITS):
        raise DataError(f"{path} must be a JSON object with the lists 'train', 'valid' and 'test'")
    splits = {}
    for split in SPLITS:
        if not isinstance(data[split], list):
            raise DataError(f"{path}: '{split}' must be a list of sequences")
        rolls = [_sequence_roll(seq, f"{path} {split} sequence {i}") for i, seq in enumerate(data[split])]
        splits[split] = [roll for roll in rolls if len(roll)]
        if not splits[split]:
            raise DataError(f"{path}: the '{split}' split holds no frames")
    return splits


def write_split_pickles(splits: dict[str, list[np.ndarray]], folder: str | os.PathLike, source: str,
                        config: dict) -> dict[str, Path]:
    """Writes `folder`/{train,valid,test}.pkl (zoo data format) and returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, rolls in splits.items():
        paths[split] = folder / f"{split}.pkl"
        sources = [f"{source}#{split}/{i}" for i in range(len(rolls))]
        dump_pickle({"format": DATA_FORMAT, "encoding": config, "pieces": rolls, "sources": sources}, paths[split])
    return paths


def cached_rolls(source: str | os.PathLike, frames_per_beat: int = 1) -> dict[str, Path]:
    """The {train,valid,test}.pkl of benchmark file `source` read with `frames_per_beat`, from the data cache
    (keyed by the file's checksum and the encoding, so an edited file is read again)."""
    source = Path(source)
    try:
        checksum = file_checksum(source)
    except FileNotFoundError:
        raise DataError(f"no polyphonic data file at {source}") from None
    except OSError as error:
        raise DataError(f"{source} is not readable ({error.strerror})") from None
    config = encoding_config(frames_per_beat)
    key = content_key(f"{source.stem}-pianoroll", checksum, config)
    # Read before the cache announces a build: a bad file is bad input, said in one error line.
    splits = {} if cache_folder(key).is_dir() else read_polyphonic_json(source)

    def build(folder: Path) -> None:
        write_split_pickles(splits or read_polyphonic_json(source), folder, str(source), config)

    folder = cached_dataset(key, build, f"{source.name} as 88-key piano-rolls")
    return {split: folder / f"{split}.pkl" for split in SPLITS}
