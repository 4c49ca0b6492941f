"""generate.py for cross-modal runs: the `lt_play.py` modes (their flags are in crossmodal_flags.py).

    info        training flags, sizes of both VAEs, the last evaluation numbers (info.txt)
    midi        MIDI -> frame labels -> symbol encoder -> signal decoder -> Griffin-Lim -> WAV
    audio       WAV -> CQT frames -> signal encoder -> (symbol decoder: labels -> MIDI; frames
                `--silence_db` below the loudest are rests) and (signal decoder -> Griffin-Lim ->
                resynthesis WAV), plus a PNG
    sequence    label points (`--sequence 4:3:2 5:0:4`), each held `--n_steps` frames -> WAV
    morphing    the same, interpolating the latent means between points (`--interp_order` 1 or 3)
    trajectory  `line`, `circle` or `helix` paths of `--n_steps` points in the latent space -> WAV
WAV files are mono 16-bit at 22,050 Hz. The inputs are read in `play_inputs`, labels and the
symbol VAE's vectors converted in `label_vectors`, the PNG drawn in `plots`.

With a hierarchy of latent layers (several `--dims`), every cross-modal path goes through the top
(last) layer, the space the two VAEs share: midi, sequence and morphing encode labels up to it,
trajectory draws its paths in it (its prior is N(0, I)), and audio transcribes from it; decoding
walks down the conditional priors' means to the bottom layer. The audio mode's resynthesis (like the
training reconstruction plots of `callbacks`) is a same-modality reconstruction, decoded from the
bottom (first) layer as in the ELBO.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from zoo.atomic import atomic_path
from zoo.errors import UsageError
from zoo.families.crossmodal.label_vectors import labels_from_logits, symbol_inputs
from zoo.families.crossmodal.note_labels import LABELS
from zoo.families.crossmodal.play_inputs import load_audio_input, midi_labels, parse_sequence, quiet_frames
from zoo.families.crossmodal.plots import plot_transcription
from zoo.music import cqt
from zoo.music.audio import write_limited_wav
from zoo.music.io import output_stems

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding

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


# ---------------------------------------------------------------- the modes
def play(args: dict[str, Any], run, config: dict[str, Any], encoding: NotesEncoding, model) -> list[Path]:
    """Runs generate.py's `--mode`; returns the files written.

    Every mode but `info` writes `--num_outputs` results with seeds seed, seed + 1, ...: they differ
    by the trajectory drawn, the posterior sample (`--latent_sample 1`) and Griffin-Lim's initial phase.
    Files are named by `output_stem(run, mode, --seed, index)`, numbered on from earlier outputs.
    """
    out = Path(args["output_dir"])
    mode = args["mode"]
    if mode in ("midi", "audio") and not args.get("input"):
        raise UsageError(f"--mode {mode} needs --input FILE")
    if mode in ("sequence", "morphing") and not args.get("sequence"):
        raise UsageError(f"--mode {mode} needs --sequence OCTAVE:PITCH:DYNAMICS [...]")
    if mode == "info":
        return [_info(run, config, model, output_stems(out, run.name, mode, args["seed"], 1)[0])]
    if mode == "midi":
        classes, present = midi_labels(args["input"], config, encoding, args["transpose"], args["dynamics"])
    elif mode in ("sequence", "morphing"):
        classes, present = parse_sequence(args["sequence"], config["instruments"])
    written = []
    stems = output_stems(out, run.name, mode, args["seed"], args["num_outputs"])
    for seed, stem in enumerate(stems, start=args["seed"]):
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
        name = f"{stem.name}-{args['trajectory']}.wav" if mode == "trajectory" else f"{stem.name}.wav"
        written.append(write_limited_wav(audio, stem.with_name(name), cqt.SAMPLE_RATE))
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
    lines.append("training flags: " + json.dumps(dict(config), sort_keys=True))
    lines += _final_errors(run, config)
    text = "\n".join(lines)
    print(text)
    path = stem.with_name(f"{stem.name}.txt")
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return path


def _final_errors(run, config: dict[str, Any]) -> list[str]:
    """The last evaluation.csv row, one line per direction with its metrics named (lt_play's "final errors")."""
    import csv

    evaluation = run.evaluation_csv  # where `python -m zoo evaluate` wrote it (outputs/NAME/ for a preset)
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

    samples = load_audio_input(args["input"])
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
    with atomic_path(midi_path) as tmp:
        write_midi(encoding.decode(labels, config["instruments"]), tmp)
    audio, rebuilt = _decode_to_audio(model, z_by_layer[0], encoding, args["iterations"], args["seed"], layer=0)
    wav_path = write_limited_wav(audio, stem.parent / f"{stem.name}-resynthesis.wav", cqt.SAMPLE_RATE)
    png_path = stem.parent / f"{stem.name}.png"
    plot_transcription(magnitudes, rebuilt, labels, config, png_path)
    return [midi_path, wav_path, png_path]
