"""Tests of zoo.music.soundfont: the pip SoundFont renderer (midirenderer + pretty_midi's TimGM6mb.sf2)."""
import sys

import numpy as np
import pytest

from zoo.music import soundfont
from zoo.music.score import Score, Track, make_notes

pytestmark = pytest.mark.skipif(not soundfont.available() or soundfont.pip_soundfont() is None,
                                reason="midirenderer and pretty_midi (requirements.txt) are not installed")


def melody(program=0):
    notes = make_notes([60, 64, 67], [0, 480, 960], [480, 960, 1920], [90] * 3)
    return Score(tracks=[Track("m", program, False, notes)])


def test_the_pip_soundfont_is_found_without_importing_pretty_midi():
    imported = "pretty_midi" in sys.modules
    font = soundfont.pip_soundfont()
    assert font.name == "TimGM6mb.sf2" and font.stat().st_size > 1_000_000
    assert imported or "pretty_midi" not in sys.modules
    info = soundfont.soundfont_info(font)
    assert info["file"] == "TimGM6mb.sf2" and len(info["sha256"]) == 64
    renderer = soundfont.renderer_info()
    assert renderer["name"] == "midirenderer" and renderer["version"] and renderer["recipe"] == soundfont.RECIPE


def test_render_is_deterministic_timed_and_dry_on_request():
    font = soundfont.pip_soundfont()
    wet = soundfont.render_soundfont(melody(), font, 16000)
    assert wet.dtype == np.float32 and np.abs(wet).max() <= 1.0
    np.testing.assert_array_equal(wet, soundfont.render_soundfont(melody(), font, 16000))
    onset = np.flatnonzero(np.abs(wet) > 0.01)[0] / 16000
    assert onset < 0.02 and 2.0 <= len(wet) / 16000 <= 2.0 + soundfont.TAIL_SECONDS  # last note ends at 2 s
    dry = soundfont.render_soundfont(melody(), font, 16000, effects=False)
    tail = slice(int(2.3 * 16000), None)  # 0.3 s after the last note-off: only reverb is left in the wet render
    assert np.abs(dry[tail]).max(initial=0) < np.abs(wet[tail]).max()
    assert soundfont.render_soundfont(Score(), font).shape == (1,)


def test_length_is_capped_and_a_bad_soundfont_is_an_error(tmp_path):
    far = Score(tracks=[Track(notes=make_notes([60, 62, 64], [0, 480, 10**12], [10**13, 960, 10**12 + 480]))])
    samples = soundfont.render_soundfont(far, soundfont.pip_soundfont(), 8000, max_seconds=2.0)
    assert len(samples) == 2 * 8000 and np.abs(samples).max() > 0.01
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF")
    with pytest.raises(soundfont.SoundFontRenderError, match="could not render with .*bad.sf2"):
        soundfont.render_soundfont(melody(), bad)
