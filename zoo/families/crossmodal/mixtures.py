"""The cross-modal model's training examples: instruments' note frames mixed together, with their labels.

`instrument_sources` picks each run instrument's frames of a split (`--frames`), `mix` sums them in the
linear domain and normalises (TF ops), `mixture_dataset` is the training stream (reshuffled,
optionally transposed), `fixed_mixtures` / `evaluation_mixtures` the deterministic mixtures of
validation, evaluation and plots; `mixing_arguments` gives `mix` a run's label layout and the data's
normalisation. TensorFlow is imported when a function needs it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import UsageError
from zoo.families.crossmodal.note_labels import INSTRUMENTS, LABEL_SIZES, LABELS
from zoo.families.crossmodal.transposition import every_transposition, random_transpositions, transpose_notes
from zoo.music import cqt

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding

LABEL_KEYS = ("octave", "pitch", "dynamics")  # a piece's label arrays, in the order of LABELS


def instrument_frames(pieces: list[dict], instrument_index: int, frames: tuple[int | None, int | None]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """One instrument's frames of a split: linear magnitudes float32 [N, 410] and labels int32 [N, 3].

    `frames` = (start, end) slices each note's frames (the original's `--frames 10 25`).
    """
    mags, labels = [], []
    for piece in pieces:
        if int(piece["instrument"][0]) != instrument_index:
            continue
        chosen = slice(*frames)
        logmag = piece["logmag"][chosen].astype(np.float32)
        mags.append(np.exp(logmag))
        labels.append(np.stack([piece[k][chosen] for k in LABEL_KEYS], axis=1).astype(np.int32))
    if not mags:
        return np.zeros((0, cqt.NUM_BINS), np.float32), np.zeros((0, 3), np.int32)
    return np.concatenate(mags), np.concatenate(labels)


def mixing_arguments(config: dict[str, Any], encoding: NotesEncoding) -> dict[str, Any]:
    """Keyword arguments of `mix` for a run (its labels, silent class and the data's normalisation)."""
    extra = bool(config["zero_extra_class"])
    return {"log_mean": encoding.log_mean, "log_scale": encoding.log_scale,
            "label_order": [LABELS.index(label) for label in config["labels"]],
            "head_sizes": [LABEL_SIZES[label] + extra for label in config["labels"]], "extra_class": extra}


def instrument_sources(pieces: list[dict], config: dict[str, Any], encoding: NotesEncoding, transposed: bool = False
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(magnitudes, labels) of each of the run's instruments in a split; UsageError for one the data lacks.

    `transposed`: also every transposition the run's `--pitch_shift` trains on (`every_transposition`).
    """
    missing = [name for name in config["instruments"] if name not in encoding.instruments]
    if missing:
        raise UsageError(f"the data set has no {', '.join(missing)} notes (it holds: {' '.join(encoding.instruments)})")
    frames = tuple(config["frames"]) if len(config["frames"]) == 2 else \
        ((config["frames"][0], config["frames"][0] + 1) if config["frames"] else (None, None))
    stored = min(len(p["logmag"]) for p in pieces) if pieces else 0
    needed = max(config["frames"], default=0) + (len(config["frames"]) == 1)
    if needed > stored:
        raise UsageError(f"--frames {' '.join(map(str, config['frames']))} reaches past the {stored} frames each note "
                         "holds (prepare longer notes with --note_seconds)")
    result = []
    for name in config["instruments"]:
        mags, labels = instrument_frames(pieces, encoding.instruments.index(name), frames)
        if len(mags) == 0:
            raise UsageError(f"no {name} frames in this split with --frames {' '.join(map(str, config['frames']))}")
        if transposed and config.get("pitch_shift", 0):
            mags, labels = every_transposition(mags, labels, config["pitch_shift"], INSTRUMENTS[name][1:])
        result.append((mags, labels))
    return result


def mixture_weights(batch: int, count: int, mode: str, seed):
    """Per-example source weights [B, n]: "constant" all 1, "bernoulli" each 0 or 1 with p = 0.5 (TF op)."""
    import tensorflow as tf

    if mode == "bernoulli":
        return tf.cast(tf.random.stateless_uniform((batch, count), seed) < 0.5, tf.float32)
    return tf.ones((batch, count), tf.float32)


def mix(magnitudes, labels, weights, log_mean: float, log_scale: float, label_order: list[int],
        head_sizes: list[int], extra_class: bool):
    """Mixes sources in the linear domain, then normalises: the model's (x, y) for a batch (TF ops).

    Args:
        magnitudes: float32 [B, n, 410] linear magnitudes of each instrument's note.
        labels: int32 [B, n, 3] (octave, pitch, dynamics) of each note.
        weights: float32 [B, n]; an instrument with weight 0 is absent: its labels become silent.
        label_order: indices into (octave, pitch, dynamics) in `--labels` order.
        head_sizes: classes per head of one instrument (with the silent class when `extra_class`).

    Returns:
        x float32 [B, 410] = (log(max(sum_i w_i |X_i|, 1e-6)) - mean) / scale;
        y float32 [B, n * sum(head_sizes)] concatenated one-hots (silent: the extra class, or all zero);
        classes int32 [B, n, len(label_order)] the label of each head (silent: head size - 1, or -1).
    """
    import tensorflow as tf

    mixture = tf.reduce_sum(magnitudes * weights[:, :, None], axis=1)
    x = (tf.math.log(tf.maximum(mixture, 1e-6)) - log_mean) / log_scale
    chosen = tf.gather(labels, label_order, axis=2)
    silent_class = tf.constant([s - 1 if extra_class else -1 for s in head_sizes], tf.int32)
    classes = tf.where(weights[:, :, None] > 0, chosen, silent_class[None, None, :])
    parts = []
    for i in range(labels.shape[1]):
        for h, size in enumerate(head_sizes):
            parts.append(tf.one_hot(classes[:, i, h], size))  # -1 gives all zeros
    return x, tf.concat(parts, axis=1), classes


def mixture_dataset(sources: list[tuple[np.ndarray, np.ndarray]], batch_size: int, mode: str, seed: int,
                    mixing: dict, steps: int | None = None, pitch_shift: int = 0,
                    ranges: list[tuple[int, int]] | None = None):
    """Training batches (x, y): each instrument's frames reshuffled every pass and drawn in lock-step.

    One epoch is `steps` batches (default: one pass over the largest instrument's frames).
    `mixing` holds `mix`'s keyword arguments (log_mean, log_scale, label_order, head_sizes, extra_class).
    `pitch_shift` > 0 transposes each note by a random number of semitones up to that many
    (`transpose_notes`), staying inside `ranges`, the (lowest, highest) MIDI pitch of each source.
    """
    import tensorflow as tf

    if pitch_shift and (ranges is None or len(ranges) != len(sources)):
        raise ValueError("pitch_shift needs the pitch range of every source")

    largest = max(len(m) for m, _ in sources)
    steps = steps or max(1, largest // batch_size)
    streams = tuple(
        tf.data.Dataset.from_tensor_slices((m, lab)).shuffle(len(m), seed=seed + i, reshuffle_each_iteration=True)
        .repeat().batch(batch_size, drop_remainder=True)
        for i, (m, lab) in enumerate(sources))
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def combine(seed_pair, *batches):
        seed_pair = tf.cast(seed_pair, tf.int32)
        mags = tf.stack([b[0] for b in batches], axis=1)
        labs = tf.stack([b[1] for b in batches], axis=1)
        if pitch_shift:
            shift_seed = tf.random.experimental.stateless_fold_in(seed_pair, 1)  # the weights keep their stream
            mags, labs = transpose_notes(mags, labs, random_transpositions(labs, ranges, pitch_shift, shift_seed))
        weights = mixture_weights(batch_size, len(batches), mode, seed_pair)
        x, y, _ = mix(mags, labs, weights, **mixing)
        return x, y

    dataset = tf.data.Dataset.zip((seeds, *streams)).map(combine, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.take(steps).prefetch(tf.data.AUTOTUNE)


def fixed_mixtures(sources: list[tuple[np.ndarray, np.ndarray]], mode: str, seed: int, mixing: dict):
    """Deterministic evaluation mixtures covering every frame of every instrument at least once.

    Each instrument's frames are permuted (seeded) and tiled to the largest count. Returns numpy
    (x [N, 410], y [N, S], classes [N, n, heads], weights [N, n]).
    """
    rng = np.random.default_rng(seed)
    count = max(len(m) for m, _ in sources)
    picks = [np.resize(rng.permutation(len(m)), count) for m, _ in sources]
    mags = np.stack([m[p] for (m, _), p in zip(sources, picks)], axis=1)
    labs = np.stack([lab[p] for (_, lab), p in zip(sources, picks)], axis=1)
    weights = (rng.random((count, len(sources))) < 0.5).astype(np.float32) if mode == "bernoulli" else \
        np.ones((count, len(sources)), np.float32)
    x, y, classes = mix(mags, labs, weights, **mixing)
    return x.numpy(), y.numpy(), classes.numpy(), weights


def evaluation_mixtures(pieces, config, encoding, mode: str | None = None, seed: int = 0, transposed: bool = False):
    """Deterministic mixtures of a split for this run: (x, y, classes, weights) numpy arrays.

    `transposed` adds the transpositions of the run's `--pitch_shift` (for training a classifier on what the
    model saw); test mixtures never have them.
    """
    return fixed_mixtures(instrument_sources(pieces, config, encoding, transposed), mode or config["random_mode"],
                          seed, mixing_arguments(config, encoding))
