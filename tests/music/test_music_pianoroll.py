"""Tests of zoo.music.pianoroll: the boolean roll and the pictures."""
import numpy as np
import pytest

from zoo.errors import EncodingError
from zoo.music import pianoroll_image, save_pianoroll_png
from zoo.music.pianoroll import pianoroll
from zoo.music.score import Score, Track, make_notes


def small_score():
    return Score(
        resolution=480,
        tracks=[
            Track("melody", 0, False, make_notes([60, 64, 60], [0, 240, 480], [480, 960, 500])),
            Track("drums", 0, True, make_notes([36], [0], [120])),
        ],
    )


def test_pianoroll():
    roll = pianoroll(small_score(), steps_per_quarter=4)
    assert roll.dtype == bool and roll.shape == (8, 128)
    assert roll[:, 60].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]  # two notes; the short one lasts one step
    assert roll[:, 64].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert not roll[:, 36].any()
    assert pianoroll(small_score(), 4, include_drums=True)[0, 36]
    assert pianoroll(Score()).shape == (0, 128)


def test_pianoroll_refuses_huge():
    with pytest.raises(EncodingError, match="step limit"):
        pianoroll(Score(tracks=[Track(notes=make_notes([60], [0], [10**12]))]))


def test_png_and_image(tmp_path):
    save_pianoroll_png(small_score(), tmp_path / "a.png", title="Small")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = pianoroll_image(small_score())
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] >= 100 and image.shape[1] >= 100
    assert image.min() < 128  # something was drawn on the white background
    save_pianoroll_png(Score(), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0
