"""Training examples of the cross-modal model: the mixture stream."""
import numpy as np

from zoo.families.crossmodal.mixtures import mix, mixture_dataset
from zoo.families.crossmodal.note_labels import INSTRUMENTS, midi_of, octave_of, pitch_class_of
from zoo.music import cqt


def _labels(midi: int, dynamics: int = 2) -> list[int]:
    return [int(octave_of(midi)), int(pitch_class_of(midi)), dynamics]


def test_the_mixture_stream_transposes_only_when_asked():
    rng = np.random.default_rng(0)
    midis = rng.integers(62, 94, 64)
    mags = rng.uniform(0.5, 1.5, (64, cqt.NUM_BINS)).astype(np.float32)
    labels = np.array([_labels(m, 1) for m in midis], np.int32)
    mixing = {"log_mean": 0.0, "log_scale": 1.0, "label_order": [0, 1, 2], "head_sizes": [10, 13, 6],
              "extra_class": True}
    ranges = [INSTRUMENTS["Flute"][1:]]

    def head_classes(dataset):
        y = np.concatenate([batch[1].numpy() for batch in dataset])
        return y[:, :10].argmax(1), y[:, 10:23].argmax(1), y[:, 23:].argmax(1)

    plain = mixture_dataset([(mags, labels)], 16, "constant", 3, mixing, steps=8)
    octave, pitch, dynamics = head_classes(plain)
    assert set(midi_of(octave, pitch)) <= set(midis)
    moved = mixture_dataset([(mags, labels)], 16, "constant", 3, mixing, steps=8, pitch_shift=2, ranges=ranges)
    octave, pitch, dynamics = head_classes(moved)
    pitches = midi_of(octave, pitch)
    assert set(pitches) - set(midis)  # new (pitch, frame) pairs
    assert pitches.min() >= ranges[0][0] and pitches.max() <= ranges[0][1] and (dynamics == 1).all()
    x = np.concatenate([batch[0].numpy() for batch in moved])
    assert np.isclose(x, np.log(1e-6)).any(axis=1).mean() > 0.3  # slid-in bins are silent


def test_mixing_sums_linear_magnitudes_and_silences_absent_instruments():
    mags = np.stack([np.full((2, cqt.NUM_BINS), 1.0), np.full((2, cqt.NUM_BINS), 3.0)], axis=1).astype(np.float32)
    labels = np.array([[_labels(60), _labels(72)]] * 2, np.int32)
    weights = np.array([[1, 1], [1, 0]], np.float32)
    x, y, classes = mix(mags, labels, weights, log_mean=1.0, log_scale=2.0, label_order=[1, 2], head_sizes=[13, 6],
                        extra_class=True)
    np.testing.assert_allclose(x.numpy()[:, 0], [(np.log(4.0) - 1) / 2, (np.log(1.0) - 1) / 2], rtol=1e-6)
    assert classes.numpy().tolist() == [[[3, 2], [3, 2]], [[3, 2], [12, 5]]]  # C, mf; absent: the silent classes
    assert y.shape == (2, 2 * 19) and y.numpy()[1, 19 + 12] == 1 and y.numpy()[1, 19 + 13 + 5] == 1

