"""Transposing notes by whole semitones: constant-Q frames slid along frequency, labels moved with them.

The training stream transposes each note by a random shift (`random_transpositions`, up to
`--pitch_shift` semitones, inside the instrument's range); `every_transposition` lists every shift
for a classifier (the PCA baseline) that should see what the model trained on. TensorFlow ops,
imported when called.
"""
from __future__ import annotations

import numpy as np

from zoo.music import cqt

BINS_PER_SEMITONE = cqt.BINS_PER_OCTAVE // 12


def transpose_notes(magnitudes, labels, semitones):
    """Transposes notes by whole semitones: CQT frames slid along frequency, labels moved with them (TF ops).

    A constant-Q frame of a note k semitones higher is, up to timbre, the same frame `4 k` bins up,
    so training notes transposed by a semitone or two stand in for the (pitch, dynamics) pairs the
    note-wise split withholds. Bins slid in from outside the range are silent (magnitude 0).

    Args:
        magnitudes: float32 [..., 410] linear magnitudes.
        labels: int32 [..., 3] (octave, pitch class with A = 0, dynamics).
        semitones: int32 [...] the transposition of each note.
    """
    import tensorflow as tf

    semitones = tf.cast(semitones, tf.int32)
    source_bin = tf.range(cqt.NUM_BINS)[None] - tf.reshape(semitones * BINS_PER_SEMITONE, (-1, 1))
    flat = tf.reshape(magnitudes, (-1, cqt.NUM_BINS))
    moved = tf.gather(flat, tf.clip_by_value(source_bin, 0, cqt.NUM_BINS - 1), batch_dims=1)
    moved = tf.where((source_bin >= 0) & (source_bin < cqt.NUM_BINS), moved, 0.0)
    octave, pitch, dynamics = tf.unstack(labels, axis=-1)
    midi = (octave + 1) * 12 + (pitch - 3) % 12 + semitones  # note_labels.midi_of, in TF
    moved_labels = tf.stack([midi // 12 - 1, (midi % 12 + 3) % 12, dynamics], axis=-1)
    return tf.reshape(moved, tf.shape(magnitudes)), moved_labels


def random_transpositions(labels, ranges, max_semitones: int, seed):
    """Uniform semitone shifts in [-max, max] per note [B, n]; 0 where the shift leaves the instrument's range.

    Args:
        labels: int32 [B, n, 3] (octave, pitch, dynamics); ranges: [(lowest, highest) MIDI pitch] per instrument.
    """
    import tensorflow as tf

    shape = tf.shape(labels)[:2]
    shifts = tf.random.stateless_uniform(shape, seed, -max_semitones, max_semitones + 1, dtype=tf.int32)
    midi = (labels[..., 0] + 1) * 12 + (labels[..., 1] - 3) % 12 + shifts
    low = tf.constant([r[0] for r in ranges], tf.int32)[None]
    high = tf.constant([r[1] for r in ranges], tf.int32)[None]
    return tf.where((midi >= low) & (midi <= high), shifts, 0)


def every_transposition(magnitudes: np.ndarray, labels: np.ndarray, max_semitones: int, pitch_range: tuple[int, int]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """One instrument's frames [N, 410] and labels [N, 3] at every shift in [-max, max] that stays in its range.

    The deterministic counterpart of the training stream's random transpositions, for a classifier
    (the PCA baseline) that should see the same notes the model trained on.
    """
    midi = (labels[:, 0] + 1) * 12 + (labels[:, 1] - 3) % 12
    mags, labs = [], []
    for shift in range(-max_semitones, max_semitones + 1):
        keep = (midi + shift >= pitch_range[0]) & (midi + shift <= pitch_range[1])
        moved = transpose_notes(magnitudes[keep], labels[keep], np.full(int(keep.sum()), shift, np.int32))
        mags.append(moved[0].numpy())
        labs.append(moved[1].numpy())
    return np.concatenate(mags), np.concatenate(labs)
