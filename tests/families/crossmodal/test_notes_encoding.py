"""The notes encoding: Score <-> frame labels, parts named after their instruments."""
import numpy as np
import pytest

from zoo.errors import EncodingError, UsageError
from zoo.families.crossmodal.note_labels import FRAME_SECONDS
from zoo.families.crossmodal.notes_encoding import NotesEncoding
from zoo.music.score import Score, Track, make_notes


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
