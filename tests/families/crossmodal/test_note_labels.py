"""The cross-modal label vocabulary: label conventions of the original, instrument names."""
import numpy as np
import pytest

from zoo.errors import UsageError
from zoo.families.crossmodal.note_labels import check_instruments, dynamics_of, midi_of, octave_of, pitch_class_of


def test_label_conventions_follow_the_original():
    assert octave_of(60) == 4 and pitch_class_of(60) == 3 and pitch_class_of(69) == 0
    assert octave_of(21) == 0 and octave_of(108) == 8
    assert list(dynamics_of([16, 40, 64, 88, 112])) == [0, 1, 2, 3, 4]
    midi = np.arange(12, 120)
    np.testing.assert_array_equal(midi_of(octave_of(midi), pitch_class_of(midi)), midi)


def test_instrument_names_match_without_case_and_only_once():
    assert check_instruments(["flute", "ALTO-SAX"]) == ["Flute", "Alto-Sax"]
    with pytest.raises(UsageError, match="unknown instrument 'Kazoo'"):
        check_instruments(["Kazoo"])
    with pytest.raises(UsageError, match="named twice"):
        check_instruments(["Flute", "flute"])
