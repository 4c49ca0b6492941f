"""generate.py for cross-modal runs: the `lt_play.py` modes, and the training reconstruction plots.

    info        training flags, sizes of both VAEs, the last evaluation numbers (info.txt)
    midi        MIDI -> frame labels -> symbol encoder -> signal decoder -> Griffin-Lim -> WAV
    audio       WAV -> CQT frames -> signal encoder -> (symbol decoder: labels -> MIDI; frames
                `--silence_db` below the loudest are rests) and (signal decoder -> Griffin-Lim ->
                resynthesis WAV), plus a PNG
    sequence    label points (`--sequence 4:3:2 5:0:4`), each held `--n_steps` frames -> WAV
    morphing    the same, interpolating the latent means between points (`--interp_order` 1 or 3)
    trajectory  `line`, `circle` or `helix` paths of `--n_steps` points in the latent space -> WAV
WAV files are mono 16-bit at 22,050 Hz.

With a hierarchy of latent layers (several `--dims`), every cross-modal path goes through the top
(last) layer, the space the two VAEs share: midi, sequence and morphing encode labels up to it,
trajectory draws its paths in it (its prior is N(0, I)), and audio transcribes from it; decoding
walks down the conditional priors' means to the bottom layer. The audio mode's resynthesis and the
training reconstruction plots are same-modality reconstructions, decoded from the bottom (first)
layer as in the ELBO.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.families.crossmodal.notes_encoding import (INSTRUMENTS, LABEL_SIZES, LABELS, POLYPHONIC, NotesEncoding, midi_of)
from zoo.errors import EncodingError, ScoreReadError, UsageError
from zoo.music import cqt

MODES = ("info", "midi", "audio", "sequence", "morphing", "trajectory")
DEFAULT_LABEL = {"octave": 4, "pitch": 3, "dynamics": 2}  # C4 mf where a run has no head for a label


def add_play_arguments(parser) -> None:
    """generate.py flags of crossmodal runs (lt_play.py's)."""
    parser.add_argument("--mode", choices=MODES, default="trajectory", help="what to generate (lt_play modes)")
    parser.add_argument("--input", default=None, help="midi mode: a MIDI file; audio mode: a mono WAV file")
    parser.add_argument("-t", "--transpose", type=int, default=0, help="midi mode: semitones to transpose")
    parser.add_argument("-d", "--dynamics", type=int, default=None, choices=range(5),
                        help="midi mode: force this dynamics class (0 pp .. 4 ff) instead of the velocities")
    parser.add_argument("--sequence", nargs="+", default=None,
                        help="sequence/morphing: label points OCTAVE:PITCH:DYNAMICS (pitch class A=0, C=3; "
                             "dynamics 0-4), one per instrument joined by '+', '-' for a silent instrument")
    parser.add_argument("--n_steps", type=int, default=20,
                        help="frames per label point (sequence, morphing), or points of a trajectory")
    parser.add_argument("--interp_order", type=int, choices=[1, 3], default=1, help="morphing: 1 linear, 3 cubic")
    parser.add_argument("--trajectory", choices=["line", "circle", "helix"], default="line", help="trajectory shape")
    parser.add_argument("--latent_sample", type=int, choices=[0, 1], default=0,
                        help="1: decode a posterior sample instead of the posterior mean")
    parser.add_argument("--iterations", type=int, default=30, help="Griffin-Lim iterations")
    parser.add_argument("--silence_db", type=float, default=60.0,
                        help="audio mode: frames this many dB below the file's loudest frame are transcribed as "
                             "silence (the model never heard silence alone)")


# ---------------------------------------------------------------- helpers shared with sample_scores
def latent_path(kind: str, steps: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """A random path of `steps` points in a `dim`-d latent space, float32 [steps, dim].

    line: between two points ~ N(0, 3 I); circle: centre ~ U(-2, 2), radius ~ U(0, 8), in a random
    plane; helix: a circle whose radius changes linearly while its centre moves along a third axis.
    """
    t = np.linspace(0.0, 1.0, max(steps, 1))[:, None]
    if kind == "line":
        start, end = rng.normal(0, np.sqrt(3.0), (2, dim))
        return ((1 - t) * start + t * end).astype(np.float32)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, min(3, dim))))
    u, v = basis[:, 0], basis[:, 1 % basis.shape[1]]
    centre = rng.uniform(-2, 2, dim)
    angle = 2 * np.pi * t
    if kind == "circle":
        radius = rng.uniform(0, 8)
        return (centre + radius * (np.cos(angle) * u + np.sin(angle) * v)).astype(np.float32)
    radius = rng.uniform(0, 8, 2)
    axis = basis[:, 2 % basis.shape[1]]
    r = (1 - t) * radius[0] + t * radius[1]
    return (centre + r * (np.cos(3 * angle) * u + np.sin(3 * angle) * v) + (4 * t - 2) * axis).astype(np.float32)


def labels_from_logits(logits: np.ndarray, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Symbol decoder logits [T, S] -> per-frame labels {"octave", "pitch", "dynamics"} int [T, instruments].

    The silent class (or, without one, binary units all below 0.5) gives -1.
    """
    extra = bool(config["zero_extra_class"])
    frames, count = len(logits), len(config["instruments"])
    out = {label: np.full((frames, count), DEFAULT_LABEL[label], np.int64) for label in LABELS}
    silent = np.zeros((frames, count), bool)
    start = 0
    for i in range(count):
        for label in config["labels"]:
            size = LABEL_SIZES[label] + extra
            part = logits[:, start:start + size]
            classes = part.argmax(axis=1)
            if extra:
                silent[:, i] |= classes == size - 1
            elif config["label_type"] == "binary":
                silent[:, i] |= part.max(axis=1) < 0
            out[label][:, i] = np.minimum(classes, LABEL_SIZES[label] - 1)
            start += size
    for label in LABELS:
        out[label][silent] = -1
    return out


def quiet_frames(samples: np.ndarray, silence_db: float) -> np.ndarray:
    """Frames (of `cqt.magnitude_frames`) whose samples' energy is more than `silence_db` below the
    loudest frame's: bool [T].

    Measured on the waveform, frame by frame: the constant-Q frames of silence are not silent, since
    the low bins' long windows smear (and wrap around) energy from the notes around them.
    """
    padded = np.zeros(cqt.padded_length(len(samples)))
    padded[:len(samples)] = samples
    energy = np.square(padded).reshape(-1, cqt.FRAME_SAMPLES).sum(axis=1)
    energy_db = 10 * np.log10(np.maximum(energy, 1e-30))
    return energy_db < energy_db.max() - silence_db


def symbol_inputs(classes: np.ndarray, present: np.ndarray, config: dict[str, Any], encoding: NotesEncoding):
    """Labels (octave, pitch, dynamics) int [T, instruments, 3] and presence [T, instruments] -> y [T, S]."""
    from zoo.families.crossmodal.notes_dataset import mix
    from zoo.families.crossmodal.cross_modal import CrossModal

    frames, count = present.shape
    if not config["zero_extra_class"] and config["label_type"] == "categorical" and not present.all():
        raise UsageError("this run has no silent class (--zero_extra_class 0): every instrument must play in every frame")
    _, y, _ = mix(np.zeros((frames, count, cqt.NUM_BINS), np.float32), classes.astype(np.int32),
                  present.astype(np.float32), **CrossModal.mixing(config, encoding))
    return y.numpy()


def _decode_to_audio(model, z: np.ndarray, encoding: NotesEncoding, iterations: int, seed: int,
                     silent: np.ndarray | None = None, layer: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Latents of latent layer `layer` [T, dims[layer]] -> (audio float32 at 22,050 Hz, linear magnitudes [T, 410])."""
    mean, _ = model.decode_signal(z.astype(np.float32), layer=layer)
    magnitudes = encoding.denormalise(keras.ops.convert_to_numpy(mean))
    if silent is not None:
        magnitudes[silent] = 0.0
    audio = cqt.griffin_lim(magnitudes, iterations=iterations, seed=seed)
    return audio, magnitudes


def _latents(model, y: np.ndarray, sample: bool, seed: int) -> np.ndarray:
    mean, variance = (keras.ops.convert_to_numpy(t) for t in model.encode_symbol(y.astype(np.float32)))
    if sample:
        mean = mean + np.sqrt(variance) * np.random.default_rng(seed).standard_normal(mean.shape)
    return mean


def _write_audio(audio: np.ndarray, path: Path) -> Path:
    from zoo.music.audio import write_wav

    path.parent.mkdir(parents=True, exist_ok=True)
    peak = np.abs(audio).max()
    write_wav(audio / peak * 0.9 if peak > 0.9 else audio, path, cqt.SAMPLE_RATE)
    return path


# ---------------------------------------------------------------- inputs
# What read_mono_wav accepts: the rates of real recordings, at most an hour of sound, a file of at most 1 GiB.
WAV_RATES = (1000, 384_000)
MAX_WAV_SECONDS = 3600.0
MAX_WAV_BYTES = 1 << 30


def read_mono_wav(path: str) -> np.ndarray:
    """A mono WAV file as float32 at 22,050 Hz (resampled, with a notice, from another rate).

    The file is parsed from memory, so a header declaring more data than the file holds reads only
    what is there (scipy would allocate the declared size from a real file).

    Raises ScoreReadError for a missing, unreadable or corrupt file, a rate outside `WAV_RATES`, more
    than `MAX_WAV_SECONDS` of sound or samples that are not finite numbers; UsageError for stereo or
    silent audio.
    """
    import io

    from scipy.io import wavfile

    if not Path(path).is_file():
        raise ScoreReadError(f"cannot read {path}: no such file")
    try:
        size = Path(path).stat().st_size
        if size > MAX_WAV_BYTES:
            raise ValueError(f"{size} bytes is larger than the {MAX_WAV_BYTES} byte limit")
        rate, data = wavfile.read(io.BytesIO(Path(path).read_bytes()))
    except Exception as error:  # noqa: BLE001  (scipy raises ValueError, struct.error, EOFError, ... on bad headers)
        raise ScoreReadError(f"cannot read {path}: not a WAV file it understands "
                             f"({type(error).__name__}: {error})") from None
    if data.dtype.kind not in "iuf":
        raise ScoreReadError(f"cannot read {path}: samples of type {data.dtype} (expected integer or float PCM)")
    if not WAV_RATES[0] <= rate <= WAV_RATES[1]:
        raise ScoreReadError(f"cannot read {path}: sample rate {rate} Hz is outside {WAV_RATES[0]}..{WAV_RATES[1]} Hz")
    if data.ndim > 1 and data.shape[1] > 1:
        raise UsageError(f"{path} has {data.shape[1]} channels: the model analyses mono audio (mix it down first)")
    data = data.reshape(-1)
    if len(data) / rate > MAX_WAV_SECONDS:
        raise ScoreReadError(f"cannot read {path}: {len(data) / rate:.0f} s of sound is longer than "
                             f"the {MAX_WAV_SECONDS:.0f} s limit")
    if data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float64) - (info.max + info.min + 1) / 2) / (2.0 ** (info.bits - 1))
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise ScoreReadError(f"cannot read {path}: it holds samples that are not finite numbers (NaN or infinity)")
    if len(data) == 0 or np.abs(data).max() < 1e-4:
        raise UsageError(f"{path} is silent: nothing to transcribe")
    if rate != cqt.SAMPLE_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        print(f"resampling {path} from {rate} Hz to {cqt.SAMPLE_RATE} Hz", file=sys.stderr)
        g = gcd(int(rate), cqt.SAMPLE_RATE)
        data = resample_poly(data, cqt.SAMPLE_RATE // g, int(rate) // g)
    return data.astype(np.float32)


def midi_labels(path: str, config: dict[str, Any], encoding: NotesEncoding, transpose: int, dynamics: int | None):
    """A MIDI file's parts -> (classes [T, instruments, 3], present [T, instruments]); part i plays instrument i."""
    from zoo.music.io import load_score

    score = load_score(path)
    for track in score.tracks:
        if len(track.notes):
            track.notes["pitch"] = track.notes["pitch"] + transpose
    labels = encoding.encode(score)
    parts, instruments = labels["midi"].shape[1], config["instruments"]
    if parts > len(instruments):
        raise UsageError(f"{path} has {parts} parts but the run knows {len(instruments)} instrument(s) "
                         f"({' '.join(instruments)}): part i is played by instrument i")
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    for track, name in zip(pitched, instruments):
        _, low, high = INSTRUMENTS[name]
        outside = track.notes["pitch"][(track.notes["pitch"] < low) | (track.notes["pitch"] > high)]
        if len(outside):
            raise EncodingError(f"{path}: MIDI note {int(outside[0])} is outside the {name}'s range {low}-{high}"
                                f"{' after transposing by ' + str(transpose) if transpose else ''} (try -t)")
    frames = len(labels["midi"])
    classes = np.zeros((frames, len(instruments), 3), np.int64)
    present = np.zeros((frames, len(instruments)), bool)
    for j, label in enumerate(LABELS):
        classes[:, :parts, j] = np.maximum(labels[label], 0)
    if dynamics is not None:
        classes[:, :, 2] = dynamics
    present[:, :parts] = labels["midi"] >= 0
    polyphonic = int((labels["midi"] == POLYPHONIC).any(axis=1).sum())
    if polyphonic:
        print(f"{polyphonic} frame(s) with several notes in one part are left silent", file=sys.stderr)
    return classes, present


def parse_sequence(items: list[str], instruments: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`--sequence` points -> (classes [P, instruments, 3], present [P, instruments])."""
    classes = np.zeros((len(items), len(instruments), 3), np.int64)
    present = np.zeros((len(items), len(instruments)), bool)
    for p, item in enumerate(items):
        parts = item.split("+")
        if len(parts) != len(instruments):
            raise UsageError(f"--sequence point '{item}' names {len(parts)} instrument(s); the run has "
                             f"{len(instruments)} ({' '.join(instruments)}), joined by '+'")
        for i, part in enumerate(parts):
            if part == "-":
                continue
            try:
                values = [int(v) for v in part.split(":")]
            except ValueError:
                values = []
            limits = [LABEL_SIZES[label] for label in LABELS]
            if len(values) != 3 or not all(0 <= v < n for v, n in zip(values, limits)):
                raise UsageError(f"--sequence point '{part}' is not OCTAVE:PITCH:DYNAMICS with octave 0-8, "
                                 "pitch class 0-11 (A=0, C=3), dynamics 0-4")
            classes[p, i], present[p, i] = values, True
    return classes, present


# ---------------------------------------------------------------- the modes
def play(args: dict[str, Any], run, config: dict[str, Any], encoding: NotesEncoding, model, model_type) -> list[Path]:
    """Runs generate.py's `--mode`; returns the files written.

    Every mode but `info` writes `--num_outputs` results with seeds seed, seed + 1, ...: they differ
    by the trajectory drawn, the posterior sample (`--latent_sample 1`) and Griffin-Lim's initial phase.
    """
    out = Path(args["output_dir"])
    if args["n_steps"] < 1 or args["iterations"] < 1:
        raise UsageError("--n_steps and --iterations must be at least 1")
    if args["silence_db"] <= 0:
        raise UsageError(f"--silence_db must be positive (got {args['silence_db']:g})")
    mode = args["mode"]
    if mode in ("midi", "audio") and not args.get("input"):
        raise UsageError(f"--mode {mode} needs --input FILE")
    if mode in ("sequence", "morphing") and not args.get("sequence"):
        raise UsageError(f"--mode {mode} needs --sequence OCTAVE:PITCH:DYNAMICS [...]")
    if mode == "info":
        return [_info(run, config, model, out / f"{run.name}-info-{args['seed']}")]
    if mode == "midi":
        classes, present = midi_labels(args["input"], config, encoding, args["transpose"], args["dynamics"])
    elif mode in ("sequence", "morphing"):
        classes, present = parse_sequence(args["sequence"], config["instruments"])
    written = []
    for seed in range(args["seed"], args["seed"] + args["num_outputs"]):
        stem = out / f"{run.name}-{args['trajectory'] if mode == 'trajectory' else mode}-{seed}"
        if mode == "audio":
            written.extend(_audio({**args, "seed": seed}, config, encoding, model, stem))
            continue
        silent = None
        if mode == "trajectory":
            z = latent_path(args["trajectory"], args["n_steps"], config["dims"][-1], np.random.default_rng(seed))
        else:
            z = _latents(model, symbol_inputs(classes, present, config, encoding), args["latent_sample"], seed)
            silent = ~present.any(axis=1)
            if mode == "sequence" or (mode == "morphing" and len(z) == 1):
                z, silent = np.repeat(z, args["n_steps"], axis=0), np.repeat(silent, args["n_steps"])
            elif mode == "morphing":
                z, silent = _interpolate(z, args["n_steps"], args["interp_order"]), None
        audio, _ = _decode_to_audio(model, z, encoding, args["iterations"], seed, silent)
        written.append(_write_audio(audio, stem.with_suffix(".wav")))
    return _report(written)


def _report(paths: list[Path]) -> list[Path]:
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)
    return paths


def _interpolate(points: np.ndarray, steps: int, order: int) -> np.ndarray:
    """`steps` frames per segment between successive latent points, linear or cubic spline."""
    from scipy.interpolate import CubicSpline, interp1d

    knots = np.arange(len(points)) * steps
    grid = np.arange(knots[-1] + 1)
    if order == 3 and len(points) >= 3:
        return CubicSpline(knots, points, axis=0)(grid).astype(np.float32)
    return interp1d(knots, points, axis=0)(grid).astype(np.float32)


def _info(run, config: dict[str, Any], model, stem: Path) -> Path:
    lines = [f"run {run.name}: crossmodal, instruments {' '.join(config['instruments'])}, labels {' '.join(config['labels'])}"]
    for part, prefix in (("signal VAE", "signal_"), ("symbol VAE", "symbol_")):
        params = sum(int(np.prod(w.shape)) for name, layer in model.vae_layers().items() if name.startswith(prefix)
                     for w in layer.weights)
        inputs = model.signal_dim if part == "signal VAE" else model.symbol_dim
        widths, depths = (model.hidden_1s, model.num_1s) if part == "signal VAE" else (model.hidden_2s, model.num_2s)
        hidden = ", ".join(f"{d} x {w}" for d, w in zip(depths, widths))
        latent = " -> ".join(map(str, model.latent_dims))
        lines.append(f"{part}: input {inputs}, hidden {hidden}, latent {latent}, {params:,} parameters")
    lines.append("training flags: " + json.dumps(config, sort_keys=True))
    lines += _final_errors(run, config)
    text = "\n".join(lines)
    print(text)
    stem.parent.mkdir(parents=True, exist_ok=True)
    path = stem.with_suffix(".txt")
    path.write_text(text + "\n")
    return path


def _final_errors(run, config: dict[str, Any]) -> list[str]:
    """The last evaluation.csv row, one line per direction with its metrics named (lt_play's "final errors")."""
    import csv

    evaluation = run.path / "evaluation.csv"
    rows = []
    if evaluation.is_file():
        with open(evaluation, newline="") as file:
            rows = list(csv.DictReader(file))
    if not rows:
        return [f"final errors: none yet (python -m zoo evaluate -n {run.name})"]
    last = rows[-1]
    lines = [f"final errors ({last.get('time', '?')}, {last.get('checkpoint', '?')} checkpoint, "
             f"{last.get('test_frames', '?')} test frames, {last.get('random_mode', '?')} mixtures; "
             f"per label: {' / '.join(config['labels'])}):"]
    for direction in ("reconstruction", "transfer", "baseline"):
        parts = []
        for metric in ("spectral_ll", "isd"):
            if last.get(f"{direction}_{metric}"):
                parts.append(f"{metric} {float(last[f'{direction}_{metric}']):.4g}")
        for metric in ("symbolic_ll", "classif", "classif_inv"):
            values = [last.get(f"{direction}_{metric}_{label}") for label in config["labels"]]
            if all(values):
                parts.append(f"{metric} " + " / ".join(f"{float(v):.3f}" for v in values))
        if parts:
            lines.append(f"  {direction}: " + ", ".join(parts))
    return lines


def _audio(args, config, encoding: NotesEncoding, model, stem: Path) -> list[Path]:
    from zoo.music.midi import write_midi

    samples = read_mono_wav(args["input"])
    magnitudes = cqt.magnitude_frames(samples)
    x = encoding.normalise(magnitudes)
    rng = np.random.default_rng(args["seed"])
    z_by_layer = {}
    for layer in (-1, 0):  # transcription from the top layer, resynthesis from the bottom one
        mean, variance = (keras.ops.convert_to_numpy(t) for t in model.encode_signal(x, layer=layer))
        z_by_layer[layer] = mean + (np.sqrt(variance) * rng.standard_normal(mean.shape) if args["latent_sample"] else 0.0)
    labels = labels_from_logits(keras.ops.convert_to_numpy(model.decode_symbol(z_by_layer[-1].astype(np.float32))),
                                config)
    quiet = quiet_frames(samples, args["silence_db"])
    for label in LABELS:
        labels[label][quiet] = -1
    midi_path = stem.parent / f"{stem.name}-transcription.mid"
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_midi(encoding.decode(labels, config["instruments"]), midi_path)
    audio, rebuilt = _decode_to_audio(model, z_by_layer[0], encoding, args["iterations"], args["seed"], layer=0)
    wav_path = _write_audio(audio, stem.parent / f"{stem.name}-resynthesis.wav")
    png_path = stem.parent / f"{stem.name}.png"
    _plot_transcription(magnitudes, rebuilt, labels, config, png_path)
    return [midi_path, wav_path, png_path]


def _plot_transcription(original, rebuilt, labels, config, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, mags, title in ((axes[0], original, "input"), (axes[1], rebuilt, "signal VAE reconstruction")):
        ax.imshow(np.log(np.maximum(mags, 1e-6)).T, origin="lower", aspect="auto", cmap="magma")
        ax.set_title(title)
        ax.set_ylabel("CQT bin (30 Hz - 11 kHz)")
    centres = np.log(cqt.bin_frequencies())
    for i, name in enumerate(config["instruments"]):
        midi = np.where(labels["octave"][:, i] >= 0, midi_of(labels["octave"][:, i], labels["pitch"][:, i]), -1)
        freq = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        bins = np.interp(np.log(freq), centres, np.arange(cqt.NUM_BINS))
        axes[0].plot(np.where(midi >= 0, bins, np.nan), ".", markersize=3, label=f"transcribed {name}")
    axes[0].legend(loc="upper right")
    axes[1].set_xlabel(f"frame ({cqt.FRAME_SAMPLES / cqt.SAMPLE_RATE * 1000:.1f} ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


class ReconstructionPlotter(keras.callbacks.Callback):
    """`--plot_epochs N`: every N epochs, four validation frames beside their reconstruction and their
    symbol -> signal transfer, as samples/reconstruction-epoch-NNNN.png."""

    def __init__(self, folder: Path, every: int):
        super().__init__()
        self.folder, self.every, self.examples = Path(folder), every, None

    def on_train_begin(self, logs=None):
        from zoo.data.dataset import load_split
        from zoo.encodings import encoding_from_config
        from zoo.families.crossmodal.cross_modal import evaluation_mixtures

        config = json.loads((self.folder.parent / "config.json").read_text())
        valid = config["data"].get("valid")
        if valid:
            encoding = encoding_from_config(config["encoding"])
            x, y, _, _ = evaluation_mixtures(load_split(valid).pieces, config["args"], encoding)
            picks = np.linspace(0, len(x) - 1, 4).astype(int)
            self.examples = (x[picks], y[picks])

    def on_epoch_end(self, epoch, logs=None):
        if self.examples is None or (epoch + 1) % self.every:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        outputs = self.model({"signal": self.examples[0], "symbol": self.examples[1]}, training=False)
        fig, axes = plt.subplots(len(self.examples[0]), 1, figsize=(9, 8), sharex=True)
        for k, ax in enumerate(axes):
            ax.plot(self.examples[0][k], label="input", linewidth=1)
            ax.plot(keras.ops.convert_to_numpy(outputs["signal_mean"][k]), label="reconstruction", linewidth=1)
            ax.plot(keras.ops.convert_to_numpy(outputs["synthesis_mean"][k]), label="from labels", linewidth=1)
        axes[0].legend(loc="upper right")
        axes[0].set_title(f"epoch {epoch + 1}: normalised log magnitudes")
        axes[-1].set_xlabel("CQT bin")
        fig.tight_layout()
        self.folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.folder / f"reconstruction-epoch-{epoch + 1:04d}.png", dpi=70)
        plt.close(fig)
