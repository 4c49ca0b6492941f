import json

import mido
import numpy as np
import pytest

from helpers import NOTTINGHAM_MIDI, needs_shared
from zoo.data.dataset import load_split
from zoo.data.prepare import prepare, split_indices
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


def test_split_is_by_piece_and_fixed_by_seed():
    first, again = split_indices(50, 0.1, 0.1, seed=3), split_indices(50, 0.1, 0.1, seed=3)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert sorted(np.concatenate(list(first.values())).tolist()) == list(range(50))
    assert not np.array_equal(first["test"], split_indices(50, 0.1, 0.1, seed=4)["test"])


def test_numeric_vocabulary_comes_from_the_training_split(tmp_path, chorale_files):
    manifest = prepare(chorale_files[:6], "numeric", tmp_path, valid_fraction=0.2, test_fraction=0.2, progress=False)
    encoding = encoding_from_config(manifest["encoding"])
    train_tokens = {t for path in manifest["splits"]["train"]["sources"]
                    for t in encoding.tokens(__import__("zoo.music", fromlist=["load_score"]).load_score(path))}
    assert set(encoding.to_config()["vocabulary"]) == train_tokens


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


def test_versions_of_one_piece_in_several_folders_share_a_split():
    from zoo.data.prepare import split_by_piece

    paths = [f"{folder}tune{i}.mid" for i in range(20) for folder in ("", "melody/", "chords/")]
    splits = split_by_piece(paths, 0.2, 0.2, seed=0)
    split_of = {paths[i]: split for split, indices in splits.items() for i in indices}
    assert len(split_of) == 60
    for i in range(20):
        assert split_of[f"tune{i}.mid"] == split_of[f"melody/tune{i}.mid"] == split_of[f"chords/tune{i}.mid"]
    assert {len(v) for v in splits.values()} == {36, 12}


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
    from zoo.data.prepare import piece_key, read_scores

    path = tmp_path / "tunes.abc"
    path.write_text(MULTI_TUNE_ABC)
    scores, skipped = read_scores([str(path)], progress=False)
    assert skipped == []
    assert [source for source, _ in scores] == [f"{path}#1", f"{path}#7"]
    assert [score.num_notes for _, score in scores] == [8, 8]
    assert [len(score.chords) for _, score in scores] == [2, 2]
    # Tune N of name.abc is piece nameN: Nottingham's MIDI copy of that tune shares its split.
    assert piece_key(f"{path}#7") == piece_key(str(tmp_path / "midi" / "tunes7.mid")) == "tunes7"
