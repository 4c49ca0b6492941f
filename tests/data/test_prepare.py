import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

import prepare_reader_tasks as reader_tasks
from helpers import NOTTINGHAM_MIDI, ROOT, needs_shared
from zoo.data.dataset import load_split
from zoo.data.prepare import prepare
from zoo.encodings import encoding_from_config
from zoo.errors import DataError


def test_prepare_writes_splits_and_manifest(event_data, chorale_files):
    manifest = json.loads((event_data / "manifest.json").read_text())
    counts = {split: info["pieces"] for split, info in manifest["splits"].items()}
    assert counts == {"train": 12, "valid": 2, "test": 2}
    assert manifest["encoding"]["name"] == "event" and manifest["skipped"] == []
    sources = [s for info in manifest["splits"].values() for s in info["sources"]]
    assert sorted(sources) == sorted(chorale_files)  # every piece in exactly one split
    for split in ("train", "valid", "test"):
        loaded = load_split(event_data / f"{split}.pkl")
        assert len(loaded.pieces) == counts[split]
        assert all(p.dtype == np.int32 and p.max() < encoding_from_config(loaded.encoding).vocab_size
                   for p in loaded.pieces)


def test_numeric_vocabulary_comes_from_the_training_split(tmp_path, chorale_files):
    manifest = prepare(chorale_files[:6], "numeric", tmp_path, valid_fraction=0.2, test_fraction=0.2, progress=False)
    encoding = encoding_from_config(manifest["encoding"])
    train_tokens = {t for path in manifest["splits"]["train"]["sources"]
                    for t in encoding.tokens(__import__("zoo.music", fromlist=["load_score"]).load_score(path))}
    assert set(encoding.to_config()["vocabulary"]) == train_tokens


def test_a_hash_in_a_file_name_is_not_a_tune_number(tmp_path, chorale_files):
    """'C#minor.mid' is a file, not tune 'minor' of 'C': the vocabulary is learnt from it."""
    import shutil

    from zoo.data.splits import piece_key, split_source

    assert split_source("dir/reels.abc#12") == ("dir/reels.abc", "12")
    assert split_source("dir/C#minor 1.mid") == ("dir/C#minor 1.mid", "")
    assert piece_key("a/C#minor 1.mid") != piece_key("a/C#minor 2.mid")
    folder = tmp_path / "C#"
    folder.mkdir()
    files = []
    for i, path in enumerate(chorale_files[:4]):
        files.append(str(folder / f"C#minor {i}{Path(path).suffix}"))
        shutil.copy(path, files[-1])
    manifest = prepare(files, "numeric", tmp_path / "out", valid_fraction=0.25, test_fraction=0.25, progress=False)
    assert len(encoding_from_config(manifest["encoding"]).to_config()["vocabulary"]) > 10

def test_unreadable_files_are_skipped_and_listed(tmp_path, chorale_files):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (folder / "empty.mid").write_bytes(b"")
    midi = mido.MidiFile()
    track = mido.MidiTrack([mido.Message("note_on", note=60 + i % 12, velocity=80, time=0 if i == 0 else 240)
                            for i in range(40)] + [mido.Message("note_off", note=60, time=240)])
    midi.tracks.append(track)
    for i in range(3):
        midi.save(folder / f"good{i}.mid")
    manifest = prepare([str(folder)], "event", tmp_path / "out", progress=False)
    skipped = {item["file"].rsplit("/", 1)[-1] for item in manifest["skipped"]}
    assert skipped == {"broken.mid", "empty.mid"}
    assert sum(info["pieces"] for info in manifest["splits"].values()) == 3


def test_folder_without_music_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("not music")
    with pytest.raises(DataError, match="no music files"):
        prepare([str(tmp_path)], "event", tmp_path / "out", progress=False)


def test_folder_of_unreadable_music_says_nothing_usable(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the 1 files could be used"):
        prepare([str(tmp_path)], "event", tmp_path / "out", progress=False)


def test_nottingham_every_file_accounted_for(tmp_path):
    folder = needs_shared(NOTTINGHAM_MIDI)
    files = sorted(str(p) for p in folder.glob("*.mid"))[:40]
    manifest = prepare(files, "event", tmp_path, progress=False)
    used = sum(info["pieces"] for info in manifest["splits"].values())
    assert used + len(manifest["skipped"]) == len(files) and used > 30


MULTI_TUNE_ABC = """X: 1
T:First
M:4/4
L:1/4
K:C
"C"c d e f|"G"g a b c'|

X: 7
T:Second
M:4/4
L:1/4
K:G
"G"G A B c|"D"d e f g|
"""


def test_each_tune_of_a_multi_tune_abc_file_is_a_piece(tmp_path):
    from zoo.data.music_files import read_scores
    from zoo.data.splits import piece_key

    path = tmp_path / "tunes.abc"
    path.write_text(MULTI_TUNE_ABC)
    scores, skipped = read_scores([str(path)], progress=False)
    assert skipped == []
    assert [source for source, _ in scores] == [f"{path}#1", f"{path}#7"]
    assert [score.num_notes for _, score in scores] == [8, 8]
    assert [len(score.chords) for _, score in scores] == [2, 2]
    # Tune N of name.abc is piece nameN: Nottingham's MIDI copy of that tune shares its split.
    assert piece_key(f"{path}#7") == piece_key(str(tmp_path / "midi" / "tunes7.mid")) == "tunes7"


# ---------------------------------------------------------------- streaming over many files (issue 9)
def _write_tunes(folder, count: int) -> list[str]:
    """`count` short single-track MIDI files, each a different little tune, plus one broken file."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        midi = mido.MidiFile()
        midi.tracks.append(mido.MidiTrack(
            [mido.Message("note_on", note=48 + (n * 5 + 7 * i) % 36, velocity=80, time=0 if i == 0 else 240)
             for i in range(12 + n % 5)] + [mido.Message("note_off", note=48, time=240)]))
        midi.save(folder / f"tune{n:02d}.mid")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    return sorted(str(p) for p in folder.glob("*.mid"))


def test_workers_do_not_change_the_output(tmp_path):
    """`python -m zoo prepare --workers 2` writes the very bytes `--workers 1` writes."""
    _write_tunes(tmp_path / "midi", 30)
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        done = subprocess.run([sys.executable, "-m", "zoo", "prepare", "--input", str(tmp_path / "midi"),
                               "-o", str(out), "--workers", str(workers)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "skipped" in done.stderr and "broken.mid" in done.stderr
        outputs[workers] = {name: (out / name).read_bytes() for name in
                            ("train.pkl", "valid.pkl", "test.pkl", "manifest.json")}
    assert outputs[1] == outputs[2]
    manifest = json.loads(outputs[2]["manifest.json"])
    assert sum(info["pieces"] for info in manifest["splits"].values()) == 30


def test_a_file_that_kills_its_reader_is_skipped_and_the_rest_prepared(tmp_path):
    files = _write_tunes(tmp_path / "midi", 20)
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=127, velocity=80, time=0),
                                       mido.Message("note_off", note=127, time=480)]))
    midi.save(tmp_path / "midi" / "tune07b.mid")
    manifest = prepare([str(tmp_path / "midi")], reader_tasks.DyingEventEncoding(), tmp_path / "out",
                       workers=2, progress=False)
    reasons = {Path(item["file"]).name: item["reason"] for item in manifest["skipped"]}
    assert set(reasons) == {"broken.mid", "tune07b.mid"}
    assert "the reader process died (SIGKILL" in reasons["tune07b.mid"]
    # Everything else is prepared exactly as if the killing file had not been there.
    prepare(files, "event", tmp_path / "without", progress=False)
    for split in ("train", "valid", "test"):
        assert (tmp_path / "out" / f"{split}.pkl").read_bytes() == (tmp_path / "without" / f"{split}.pkl").read_bytes()


def test_a_learnt_vocabulary_reads_again_rather_than_keep_scores(tmp_path, monkeypatch):
    from zoo.data import music_files
    from zoo.data import prepare as prepare_module

    files = _write_tunes(tmp_path / "midi", 12)
    reads = []
    real_load_tunes = music_files.load_tunes
    monkeypatch.setattr(music_files, "load_tunes", lambda path: reads.append(path) or real_load_tunes(path))
    kept = prepare(files, "numeric", tmp_path / "kept", progress=False)
    assert sorted(reads) == sorted(files)  # small data: every file read once
    reads.clear()
    monkeypatch.setattr(prepare_module, "KEPT_SCORES_NOTES", 0)
    reread = prepare(files, "numeric", tmp_path / "reread", progress=False)
    train = set(kept["splits"]["train"]["sources"])
    # No budget for scores: listing, fitting (training files) and encoding each read again; only the
    # answer for the unreadable file, which holds no score, is kept.
    readable = [f for f in files if not f.endswith("broken.mid")]
    assert sorted(reads) == sorted(files + [f for f in files if f in train] + readable)
    assert reread == kept
    for split in ("train", "valid", "test"):
        assert (tmp_path / "kept" / f"{split}.pkl").read_bytes() == (tmp_path / "reread" / f"{split}.pkl").read_bytes()


def test_prepare_refuses_fewer_than_one_worker(tmp_path, capsys):
    from zoo.cli import run_cli, zoo_main

    assert run_cli(zoo_main, ["prepare", "--input", str(tmp_path), "-o", str(tmp_path / "out"),
                              "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == ("error: argument --workers: must be at least 1 (got 0) "
                                               "(see python -m zoo prepare --help)")
