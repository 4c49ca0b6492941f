"""Shared test helpers: where the real data is, tiny model sizes, quick training flags."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
NOTTINGHAM_MIDI = SHARED_DATA / "nottingham" / "MIDI"
# Sixteen Bach chorales from the music21 corpus: always installed, so the core suite needs no ../shared.
CHORALES = [f"bach/bwv{n}" for n in ("66.6", "1.6", "10.7", "101.7", "102.7", "103.6", "104.6", "108.6",
                                     "11.6", "110.7", "111.6", "113.8", "117.4", "114.7", "115.6", "116.6")]

TINY_LSTM = ["--lstm_size", "32", "--lstm_num_layers", "2", "--lstm_hidden_dense_size", "32",
             "--lstm_num_hidden_dense", "1", "--lstm_embedding_size", "16"]


def needs_shared(path: Path):
    """Skips a test (with the reason) on a clone that has no ../shared beside it."""
    if not path.exists():
        pytest.skip(f"{path} is not here (tests that read ../shared/data run in CI)")
    return path


def chorale_paths() -> list[str]:
    from music21 import corpus

    return [str(corpus.getWork(name)) for name in CHORALES]


def train_args(**overrides) -> list[str]:
    """training.py flags for a tiny, quick LSTM run."""
    args = {"-m": "lstm", "-e": "2", "-s": "32", "-b": "16", "--steps_per_epoch": "4",
            "--sample_every": "0", "--verbose": "0"}
    args.update(overrides)
    return [str(x) for kv in args.items() for x in kv if x != ""] + TINY_LSTM


def file_bytes(folder: Path) -> dict[str, bytes]:
    """{name: content} of every file in `folder` (not its subfolders)."""
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}


def check_reruns_add_outputs(argv: list[str], out: Path) -> dict[str, bytes]:
    """generate.py `argv` into `out` with --seed 1, --seed 2, then --seed 1 again: every call adds as many files
    as the first wrote and leaves every earlier file's bytes as they were; returns the files at the end."""
    from zoo.cli import generate_main, run_cli

    before: dict[str, bytes] = {}
    added = []
    for seed in ("1", "2", "1"):
        assert run_cli(generate_main, [*argv, "--output_dir", str(out), "--seed", seed]) == 0
        now = file_bytes(out)
        assert {name: now[name] for name in before} == before  # nothing overwritten or removed
        added.append(len(now) - len(before))
        before = now
    assert added[0] > 0 and added == added[:1] * 3, added
    return before


def check_output_file(path: Path) -> None:
    """A generated file reads back as what its suffix says (MIDI by mido, a lead sheet by the zoo's own reader)."""
    import wave

    import mido
    import numpy as np

    from zoo.music.leadsheet import read_leadsheet

    suffix = path.suffix.lower()
    if suffix == ".mid":
        midi = mido.MidiFile(path)
        assert midi.tracks and midi.ticks_per_beat > 0, path
    elif suffix == ".ls":
        assert read_leadsheet(path).chords, path
    elif suffix == ".wav":
        with wave.open(str(path)) as file:
            assert file.getnframes() > 0 and file.getframerate() > 0, path
    elif suffix == ".png":
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    elif suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        assert array.size and np.isfinite(array).all(), path
    else:  # .txt sources and info: text
        assert path.read_text(encoding="utf-8").strip(), path


def spin_cpu(cpu_seconds: float) -> None:
    """Burns `cpu_seconds` of this process's CPU time (what a per-file time limit counts)."""
    import time

    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass
