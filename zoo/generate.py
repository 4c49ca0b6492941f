"""Shared generation: rebuild a run from its folder, sample tokens, write MIDI, WAV and PNG."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.checkpoints import load_model
from zoo.encodings import EOS_ID, Encoding, encoding_from_config
from zoo.errors import ScoreReadError, UsageError
from zoo.models import get_model_type
from zoo.music.audio import render_wav
from zoo.music.io import load_score
from zoo.music.midi import write_midi
from zoo.music.pianoroll import save_pianoroll_png
from zoo.music.score import Score
from zoo.run import RunFolder


def sample_tokens(generator, num_outputs: int, length: int, seed: int = 0, primer: np.ndarray | None = None,
                  temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> np.ndarray:
    """Samples `num_outputs` continuations of `length` ids (int32 [N, length]) with the compiled loop.

    The primer (ids, without the leading EOS) is the same for every output; none starts a new piece.
    """
    start = np.array([EOS_ID], np.int32) if primer is None else np.concatenate([[EOS_ID], primer]).astype(np.int32)
    primers = np.tile(start[None, :], (num_outputs, 1))
    tokens = generator.generate(
        tf.constant(primers), tf.constant(length, tf.int32), tf.constant(temperature, tf.float32),
        tf.constant(top_k, tf.int32), tf.constant(top_p, tf.float32), tf.constant(seed, tf.int32),
    )
    return tokens.numpy()


def write_piece(score: Score, stem: Path, sample_rate: int = 22050) -> tuple[dict[str, Path], np.ndarray]:
    """Writes `stem`.mid, .wav and .png; returns their paths and the rendered audio (float32 mono)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {"midi": stem.with_suffix(".mid"), "wav": stem.with_suffix(".wav"), "png": stem.with_suffix(".png")}
    write_midi(score, paths["midi"])
    audio = render_wav(score, paths["wav"], sample_rate=sample_rate)
    save_pianoroll_png(score, paths["png"], title=stem.name)
    return paths, audio


def encode_primer(path: str, encoding: Encoding, max_tokens: int | None = None) -> np.ndarray:
    """Reads a MIDI/MusicXML/ABC file and encodes it; its last `max_tokens` ids prime the model."""
    try:
        score = load_score(path)
    except ScoreReadError as error:
        raise ScoreReadError(f"--primer: {error}") from None
    tokens = np.asarray(encoding.encode(score), np.int32)
    if len(tokens) == 0:
        raise UsageError(f"--primer {path} has no notes the '{encoding.name}' encoding can use")
    return tokens[-max_tokens:] if max_tokens else tokens


def load_run(weights_path: str, name: str, model_type_name: str | None = None, checkpoint: str = "best"):
    """Rebuilds (config, model type, encoding, model) from `weights/<name>/` alone."""
    run = RunFolder(Path(weights_path), name)
    config = run.load_config()
    model_type = get_model_type(config["model_type"])
    if model_type_name is not None and get_model_type(model_type_name) is not model_type:
        raise UsageError(f"run '{name}' is a '{model_type.name}' run, not '{model_type_name}' (use -m {model_type.name})")
    encoding = encoding_from_config(config["encoding"])
    model = load_model(run.model_file(checkpoint))
    return run, config, model_type, encoding, model


def generate(args: dict[str, Any]) -> list[dict[str, Path]]:
    """generate.py: writes `num_outputs` pieces of `length` events as MIDI, WAV and PNG."""
    run, config, model_type, encoding, model = load_run(
        args["weights_path"], args["name"], args["model_type"], args["checkpoint"]
    )
    primer = encode_primer(args["primer"], encoding, args.get("primer_max_tokens")) if args.get("primer") else None
    generator = model_type.token_generator(model, config["args"])
    tokens = sample_tokens(generator, args["num_outputs"], args["length"], seed=args["seed"], primer=primer,
                           temperature=args["temperature"], top_k=args["top_k"], top_p=args["top_p"])
    output_dir = Path(args["output_dir"]) if args.get("output_dir") else run.samples
    written = []
    for i, piece in enumerate(tokens):
        full = piece if primer is None else np.concatenate([primer, piece])
        paths, _ = write_piece(encoding.decode(full), output_dir / f"{run.name}-{args['seed']}-{i}")
        written.append(paths)
        print(f"wrote {paths['midi']}, {paths['wav'].name}, {paths['png'].name}", file=sys.stderr)
    return written
