"""The notes encoding: label conventions, Score <-> frame labels, and the rendered data set."""
import shutil

import numpy as np
import pytest

from zoo.cli import run_cli, zoo_main
from zoo.data.dataset import load_split
from zoo.encodings import encoding_from_config
from zoo.families.crossmodal.notes_encoding import FRAME_SECONDS, NotesEncoding, dynamics_of, midi_of, octave_of, pitch_class_of
from zoo.errors import EncodingError, UsageError
from zoo.music.score import Score, Track, make_notes

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")


def test_label_conventions_follow_the_original():
    assert octave_of(60) == 4 and pitch_class_of(60) == 3 and pitch_class_of(69) == 0
    assert octave_of(21) == 0 and octave_of(108) == 8
    assert list(dynamics_of([16, 40, 64, 88, 112])) == [0, 1, 2, 3, 4]
    midi = np.arange(12, 120)
    np.testing.assert_array_equal(midi_of(octave_of(midi), pitch_class_of(midi)), midi)


def test_score_to_frame_labels_and_back(corpus_scores):
    encoding = NotesEncoding(instruments=["Flute"])
    soprano = max(corpus_scores[0].tracks, key=lambda t: t.notes["pitch"].mean())
    score = Score(resolution=corpus_scores[0].resolution, tracks=[soprano], tempos=corpus_scores[0].tempos)
    labels = encoding.encode(score)
    assert labels["octave"].shape[1] == 1 and (labels["midi"] != -2).all()
    back = encoding.decode({k: labels[k] for k in ("octave", "pitch", "dynamics")})
    original = soprano.notes
    decoded = back.tracks[0].notes
    # Repeated pitches merge into one note; every sounding frame keeps its pitch.
    assert set(decoded["pitch"]) == set(original["pitch"])
    again = encoding.encode(back)["midi"][:, 0]
    assert abs(len(again) - len(labels["midi"])) <= 1  # the last note may end one frame later
    n = min(len(again), len(labels["midi"]))
    np.testing.assert_array_equal(again[:n], labels["midi"][:n, 0])
    assert back.tracks[0].program == 73  # GM flute


def test_decoded_parts_are_named_after_their_instruments_not_the_data_sets_order():
    encoding = NotesEncoding(instruments=["Flute", "Piano", "Alto-Sax"])
    two_parts = {"octave": np.array([[4, 3]]), "pitch": np.array([[0, 5]]), "dynamics": np.array([[2, 2]])}
    model_parts = encoding.decode(two_parts, ["Piano", "Alto-Sax"])  # a model trained on a subset
    assert [(t.name, t.program) for t in model_parts.tracks] == [("Piano", 0), ("Alto-Sax", 65)]
    piece = {key: value[:, 0] for key, value in two_parts.items()} | {"instrument": np.array([2])}
    assert [(t.name, t.program) for t in encoding.decode(piece).tracks] == [("Alto-Sax", 65)]


def test_polyphony_silence_and_bad_scores_are_marked_or_refused():
    encoding = NotesEncoding(instruments=["Piano"])
    frame = int(round(FRAME_SECONDS * 960))
    chord = make_notes([60, 64, 67], [0, 0, 10 * frame], [5 * frame, 5 * frame, 12 * frame])
    labels = encoding.encode(Score(tracks=[Track(notes=chord)]))
    assert (labels["midi"][:5, 0] == -2).all() and (labels["midi"][6:10, 0] == -1).all()
    assert (labels["midi"][10:12, 0] == 67).all()
    with pytest.raises(EncodingError):
        encoding.encode(Score())
    with pytest.raises(EncodingError):
        encoding.encode(Score(tracks=[Track(notes=make_notes([5], [0], [100]))]))
    with pytest.raises(UsageError, match="unknown instrument 'Kazoo'"):
        NotesEncoding(instruments=["Kazoo"])


@needs_fluidsynth
def test_prepare_renders_a_small_note_set_split_by_note(tmp_path, capsys):
    out = tmp_path / "notes"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "violin", "--pitch_step", "8",
                              "--dynamics", "p", "ff", "-o", str(out)]) == 0
    splits = {name: load_split(out / f"{name}.pkl") for name in ("train", "valid", "test")}
    keys = {name: {(p["instrument"][0], p["midi"][0], p["dynamics"][0]) for p in s.pieces} for name, s in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"] and not keys["valid"] & keys["test"]
    encoding = encoding_from_config(splits["train"].encoding)
    assert encoding.instruments == ["Flute", "Violin"] and encoding.log_scale > 0
    piece = splits["train"].pieces[0]
    assert piece["logmag"].shape[1] == 410 and len(set(piece["octave"])) == 1
    # The loudest bin of a sustained frame sits near the note's fundamental or a harmonic of it.
    from zoo.music.cqt import bin_frequencies

    peak = bin_frequencies()[piece["logmag"][15].astype(np.float32).argmax()]
    fundamental = 440 * 2 ** ((int(piece["midi"][0]) - 69) / 12)
    ratio = peak / fundamental
    assert abs(ratio - round(ratio)) < 0.05 and round(ratio) >= 1
    # ff is louder than p for the same note.
    same = [p for p in splits["train"].pieces + splits["valid"].pieces + splits["test"].pieces
            if p["midi"][0] == piece["midi"][0] and p["instrument"][0] == piece["instrument"][0]]
    if len(same) == 2:
        loud, soft = sorted(same, key=lambda p: -int(p["dynamics"][0]))
        assert np.exp(loud["logmag"][15].astype(np.float32)).sum() > np.exp(soft["logmag"][15].astype(np.float32)).sum()


def test_prepare_refuses_input_files_and_says_what_to_install(tmp_path, capsys, monkeypatch):
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--input", "x.mid", "-o", str(tmp_path)]) == 2
    assert "--input does not apply" in capsys.readouterr().err
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Kazoo", "-o", str(tmp_path)]) == 2
    assert "unknown instrument 'Kazoo'" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install fluidsynth" in err
