"""The cross-modal model's note data set, built offline: GM notes rendered by FluidSynth -> CQT frames.

Every pitch of each instrument's range (every `pitch_step`-th) at each dynamics is played once,
held `note_seconds`, through FluidSynth and a General MIDI SoundFont at 22,050 Hz (one render
per instrument and chunk: notes 1 s apart so each one's tail has died down before the next).
Each note becomes one piece:

    {"logmag": float16 [frames, 410]   log(max(|CQT|, 1e-6)), pooled frames of zoo.music.cqt,
     "instrument", "octave", "pitch", "dynamics", "midi": int16 [frames]   its labels, repeated}

The split is by note (instrument, pitch, dynamics; all SoundFont renderings of one note go
together), so no note is in two splits. The mean and max-abs of the training split's log
magnitudes (all instruments) are stored in the encoding config for the normalisation.
"""
from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from zoo.atomic import write_json
from zoo.data.splits import DATA_FORMAT, SPLITS, split_indices
from zoo.data.safe_pickle import dump_pickle
from zoo.families.crossmodal.notes_encoding import (DYNAMICS, INSTRUMENTS, VELOCITIES, NotesEncoding, dynamics_of, octave_of,
                                 pitch_class_of)
from zoo.errors import DataError
from zoo.music import cqt
from zoo.music.audio import find_soundfont, render_wav
from zoo.music.score import Score, Track, make_notes

INSTALL_HINT = "apt-get install fluidsynth timgm6mb-soundfont (or fluid-soundfont-gm)"
GAP_SECONDS = 1.0  # silence after each note's release, so reverb tails do not reach the next note
TAIL_SECONDS = 0.25  # kept after the note-off: the release is part of the note
NOTES_PER_RENDER = 100  # keeps each render well under render_wav's 10-minute cap


def find_soundfonts(requested: list[str] | None) -> list[Path]:
    """The SoundFonts to render with; DataError with what to install when fluidsynth or a font is missing."""
    if shutil.which("fluidsynth") is None:
        raise DataError(f"the notes data set is rendered with FluidSynth, which is not installed ({INSTALL_HINT})")
    if requested:
        missing = [f for f in requested if not Path(f).is_file()]
        if missing:
            raise DataError(f"no SoundFont file at {', '.join(missing)}")
        return [Path(f) for f in requested]
    font = find_soundfont()
    if font is None:
        raise DataError(f"no General MIDI SoundFont found (set $ZOO_SOUNDFONT or {INSTALL_HINT})")
    return [font]


def note_list(encoding: NotesEncoding) -> list[tuple[str, int, int]]:
    """(instrument, MIDI pitch, velocity) of every note the data set holds."""
    velocities = [VELOCITIES[DYNAMICS.index(d)] for d in encoding.dynamics]
    notes = []
    for name in encoding.instruments:
        _, low, high = INSTRUMENTS[name]
        for midi in range(low, high + 1, encoding.pitch_step):
            notes.extend((name, midi, velocity) for velocity in velocities)
    return notes


def render_notes(instrument: str, notes: list[tuple[int, int]], note_seconds: float, soundfont: Path
                 ) -> list[np.ndarray]:
    """Renders (pitch, velocity) notes of one instrument, one after another; returns each note's samples."""
    sr = cqt.SAMPLE_RATE
    slot = note_seconds + GAP_SECONDS
    keep = int(round((note_seconds + TAIL_SECONDS) * sr))
    segments = []
    with tempfile.TemporaryDirectory() as folder:
        for first in range(0, len(notes), NOTES_PER_RENDER):
            chunk = notes[first:first + NOTES_PER_RENDER]
            ticks = 960  # per second at the default 120 qpm, resolution 480
            starts = np.arange(len(chunk)) * slot * ticks
            track = Track(name=instrument, program=INSTRUMENTS[instrument][0], notes=make_notes(
                [p for p, _ in chunk], np.round(starts), np.round(starts + note_seconds * ticks), [v for _, v in chunk]))
            audio = render_wav(Score(tracks=[track]), Path(folder) / "notes.wav", sample_rate=sr, soundfont=soundfont,
                               effects=False)
            for i in range(len(chunk)):
                begin = int(round(i * slot * sr))
                segment = audio[begin:begin + keep]
                segments.append(np.pad(segment, (0, keep - len(segment))))
    return segments


def build_notes_dataset(encoding: NotesEncoding, output_dir, valid_fraction: float = 0.1,
                        test_fraction: float = 0.1, seed: int = 0, progress: bool = True) -> dict:
    """Renders the notes `encoding` describes and writes {train,valid,test}.pkl and manifest.json."""
    fonts = find_soundfonts(encoding.soundfont)
    notes = note_list(encoding)
    pieces, sources, keys, skipped = [], [], [], []
    for font in fonts:
        for instrument in encoding.instruments:
            mine = [(midi, velocity) for name, midi, velocity in notes if name == instrument]
            if progress:
                print(f"rendering {len(mine)} {instrument} notes with {font.name}", file=sys.stderr)
            audio = render_notes(instrument, mine, encoding.note_seconds, font)
            for (midi, velocity), samples in zip(mine, audio):
                if np.abs(samples).max() < 1e-4:  # e.g. a SoundFont without a sample for this pitch and velocity
                    skipped.append({"file": f"{instrument}/midi{midi}/velocity{velocity}/{font.name}",
                                    "reason": "rendered silent"})
                    continue
                logmag = np.log(np.maximum(cqt.magnitude_frames(samples), 1e-6)).astype(np.float16)
                frames = len(logmag)
                labels = {"instrument": encoding.instruments.index(instrument), "octave": int(octave_of(midi)),
                          "pitch": int(pitch_class_of(midi)), "dynamics": int(dynamics_of(velocity)), "midi": midi}
                pieces.append({"logmag": logmag, **{k: np.full(frames, v, np.int16) for k, v in labels.items()}})
                sources.append(f"{instrument}/midi{midi}/{DYNAMICS[labels['dynamics']]}/{font.name}")
                keys.append((instrument, midi, velocity))
    if not pieces:
        raise DataError(f"every note rendered silent with {', '.join(f.name for f in fonts)}: is it a General MIDI SoundFont?")
    unique = sorted(set(keys))
    note_split = {}
    for split, indices in split_indices(len(unique), valid_fraction, test_fraction, seed).items():
        note_split.update({unique[i]: split for i in indices})
    train_logs = np.concatenate([p["logmag"].astype(np.float32).ravel()
                                 for p, k in zip(pieces, keys) if note_split[k] == "train"])
    mean = float(train_logs.mean())
    config = {**encoding.to_config(), "soundfont": [str(f) for f in fonts], "log_mean": mean,
              "log_scale": float(np.abs(train_logs - mean).max())}
    output_dir = Path(output_dir)
    manifest_splits = {}
    for split in SPLITS:
        chosen = [i for i, k in enumerate(keys) if note_split[k] == split]
        pkl = output_dir / f"{split}.pkl"
        dump_pickle({"format": DATA_FORMAT, "encoding": config, "pieces": [pieces[i] for i in chosen],
                     "sources": [sources[i] for i in chosen]}, pkl)
        manifest_splits[split] = {
            "pieces": len(chosen),
            "tokens": int(sum(len(pieces[i]["logmag"]) for i in chosen)),
            "sources": [sources[i] for i in chosen],
            "sha256": hashlib.sha256(pkl.read_bytes()).hexdigest(),
        }
    manifest = {"format": DATA_FORMAT, "encoding": config, "inputs": [f"rendered with {f}" for f in fonts],
                "files_found": len(pieces) + len(skipped), "seed": seed, "valid_fraction": valid_fraction,
                "test_fraction": test_fraction, "splits": manifest_splits, "skipped": skipped}
    write_json(manifest, output_dir / "manifest.json")
    return manifest


# ---------------------------------------------------------------- training examples: frames and mixtures
LABEL_KEYS = ("octave", "pitch", "dynamics")


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
    midi = (octave + 1) * 12 + (pitch - 3) % 12 + semitones  # zoo.families.crossmodal.notes_encoding.midi_of, in TF
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
