"""Transposed notes: CQT frames slid along frequency with their labels, random and exhaustive shifts."""
import numpy as np
import tensorflow as tf

from zoo.families.crossmodal.note_labels import INSTRUMENTS, midi_of, octave_of, pitch_class_of
from zoo.families.crossmodal.transposition import every_transposition, random_transpositions, transpose_notes
from zoo.music import cqt


def _sine_frame(bin_index: int) -> np.ndarray:
    """The middle magnitude frame of a sine at a bin's centre frequency."""
    t = np.arange(cqt.SAMPLE_RATE // 2) / cqt.SAMPLE_RATE
    frames = cqt.magnitude_frames(0.5 * np.sin(2 * np.pi * cqt.bin_frequencies()[bin_index] * t))
    return frames[len(frames) // 2].astype(np.float32)


def _labels(midi: int, dynamics: int = 2) -> list[int]:
    return [int(octave_of(midi)), int(pitch_class_of(midi)), dynamics]


def test_a_transposed_frame_is_the_frame_of_the_transposed_note():
    source_bin = 200
    for semitones in (3, -10):  # A4 up across the octave's C, and down into the octave below
        moved, labels = transpose_notes(tf.constant(_sine_frame(source_bin)[None]),
                                        tf.constant([_labels(69)], tf.int32), tf.constant([semitones]))
        target = _sine_frame(source_bin + 4 * semitones)  # constant Q: the same peak 4 bins a semitone away
        moved = moved.numpy()[0]
        assert moved.argmax() == target.argmax() == source_bin + 4 * semitones
        np.testing.assert_allclose(moved.max(), target.max(), rtol=0.05)
        assert labels.numpy()[0].tolist() == _labels(69 + semitones)
        assert midi_of(*labels.numpy()[0][:2]) == 69 + semitones


def test_transposition_slides_silence_in_at_the_edges_and_keeps_shapes():
    frames = tf.ones((2, 3, cqt.NUM_BINS))
    labels = tf.constant(np.tile([[4, 0, 1]], (2, 3, 1)), tf.int32)
    shifts = tf.constant([[2, -1, 0], [0, 0, 1]])
    moved, moved_labels = transpose_notes(frames, labels, shifts)
    assert moved.shape == frames.shape and moved_labels.shape == labels.shape
    moved = moved.numpy()
    assert (moved[0, 0, :8] == 0).all() and (moved[0, 0, 8:] == 1).all()  # two semitones up: 8 bins
    assert (moved[0, 1, -4:] == 0).all() and (moved[0, 1, :-4] == 1).all()  # one down: 4 bins
    assert (moved[0, 2] == 1).all()
    assert (moved_labels.numpy()[..., 2] == 1).all()  # dynamics do not move


def test_random_transpositions_cover_the_span_and_stay_in_range():
    flute_low, flute_high = INSTRUMENTS["Flute"][1:]
    midis = np.array([flute_low, flute_low + 1, 72, flute_high])
    labels = tf.constant(np.stack([[_labels(m)] for m in midis]), tf.int32)  # [4, 1, 3]
    seen = []
    for step in range(200):
        shifts = random_transpositions(labels, [(flute_low, flute_high)], 2, tf.constant([step, 7])).numpy()[:, 0]
        moved = midis + shifts
        assert ((moved >= flute_low) & (moved <= flute_high)).all() and (np.abs(shifts) <= 2).all()
        seen.append(shifts)
    seen = np.array(seen)
    assert set(seen[:, 2]) == {-2, -1, 0, 1, 2}  # C5 can go anywhere
    assert seen[:, 0].min() == 0 and seen[:, 3].max() == 0  # the range's ends cannot leave it


def test_every_transposition_lists_each_shift_inside_the_range():
    low, high = INSTRUMENTS["Flute"][1:]
    midis = np.array([low, 72, high])
    mags = np.stack([_sine_frame(200)] * 3)
    labels = np.array([_labels(m) for m in midis], np.int32)
    moved, moved_labels = every_transposition(mags, labels, 2, (low, high))
    pitches = sorted(midi_of(moved_labels[:, 0], moved_labels[:, 1]).tolist())
    assert pitches == [low, low + 1, low + 2, 70, 71, 72, 73, 74, high - 2, high - 1, high]
    assert moved.shape == (11, cqt.NUM_BINS)
    assert sorted(moved.argmax(axis=1).tolist()) == sorted([200, 204, 208, 192, 196, 200, 204, 208, 192, 196, 200])
