"""Next-token model types (LSTM, transformer): the hooks they share.

A `TokenModelType` trains on windows of the joined token stream (every next token is a target),
samples with its `token_generator` inside the one compiled loop of `zoo.core.sampling`, is evaluated
by its negative log-likelihood per token, and exports `serve` (logits) and `generate` endpoints.
A family writes its flags (a `TokenFlags` subclass, in a module without TensorFlow), `build` and
`token_generator` only.
"""
from __future__ import annotations

import abc
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.model_cache import per_model
from zoo.core.model_flags import TokenFlags
from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer
from zoo.core.sampling import TokenGenerator, sample_tokens
from zoo.data.dataset import EncodedSplit, TrainingData, token_windows, window_dataset
from zoo.encodings.base import PAD_ID, Encoding
from zoo.errors import ScoreReadError, UsageError
from zoo.music.io import load_score, write_pieces
from zoo.music.score import Score


class TokenModelType(TokenFlags, ModelType):
    """A model of int32 token windows [B, T] -> float32 next-token logits [B, T, V]."""

    @classmethod
    @abc.abstractmethod
    def token_generator(cls, model: keras.Model, config: dict[str, Any]) -> TokenGenerator:
        """The compiled sampling loop over `model` (its `generate` is also the SavedModel endpoint)."""

    @classmethod
    def sampler(cls, model: keras.Model, config: dict[str, Any]) -> TokenGenerator:
        """The model's `token_generator`, built (and its loop traced) once per loaded model."""
        return per_model(model, "token_generator", lambda: cls.token_generator(model, config))

    @classmethod
    def datasets(cls, data: TrainingData, encoding: Encoding, config: dict[str, Any]):
        train = token_windows(data.train.pieces, config["seq_len"])
        valid = token_windows(data.valid.pieces, config["seq_len"])
        return (
            window_dataset(train, config["batch_size"], shuffle=True, seed=config["seed"]),
            window_dataset(valid, config["batch_size"], shuffle=False),
            f"{len(train)} windows of {config['seq_len']}",
        )

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        model.compile(
            optimizer=make_optimizer(config["optimizer"], config.get("learning_rate")),
            # The models emit float32 logits; PAD is never a target.
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.get("jit_compile", "auto"),
        )

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        generator = cls.sampler(model, config)
        tokens = sample_tokens(generator, num_outputs, length or config.get("sample_length", 256), seed=seed)
        return [encoding.decode(piece) for piece in tokens]

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        primer = encode_primer(args["primer"], encoding, args.get("primer_max_tokens")) if args.get("primer") else None
        generator = cls.sampler(model, config)
        tokens = sample_tokens(generator, args["num_outputs"], args["length"], seed=args["seed"], primer=primer,
                               temperature=args["temperature"], top_k=args["top_k"], top_p=args["top_p"])
        scores = (encoding.decode(piece if primer is None else np.concatenate([primer, piece])) for piece in tokens)
        return write_pieces(scores, args["output_dir"], run.name, "sample", args["seed"])

    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, float]:
        """NLL per token over every next token of the test split's windows, aggregated over tokens
        (sum of -log p / number of targets, not a mean of batch means: specs/metrics.md §5.1)."""
        windows = token_windows(split.pieces, config["seq_len"])
        sums = token_nll(model, windows, args["batch_size"])
        nll = sums["nll_sum"] / sums["tokens"]
        return {
            "tokens": int(sums["tokens"]),
            "nll_nats_per_event": nll,
            "nll_bits_per_event": nll / math.log(2),
            "perplexity": math.exp(nll),
            "accuracy": sums["correct"] / sums["tokens"],
        }

    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        serve = tf.function(
            lambda tokens: model(tokens, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.int32, name="tokens")],
        )
        generator = cls.sampler(model, config)
        # A closure, so the endpoint holds the generator (a bound tf.function keeps only a weak reference).
        generate = tf.function(lambda *args: generator.generate(*args),
                               input_signature=generator.generate.input_signature)
        return {"serve": serve, "generate": generate}


def token_nll(model, windows: np.ndarray, batch_size: int) -> dict[str, float]:
    """Summed NLL (nats), correct predictions and target count of `model` over `windows`."""

    @tf.function
    def batch_sums(inputs, targets):
        logits = tf.cast(model(inputs, training=False), tf.float32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets), tf.float64)
        return tf.reduce_sum(tf.cast(nll, tf.float64)), tf.reduce_sum(correct), tf.size(targets, tf.float64)

    totals = np.zeros(3)
    for inputs, targets in window_dataset(windows, batch_size, shuffle=False):
        totals += [float(v) for v in batch_sums(inputs, targets)]
    return {"nll_sum": totals[0], "correct": totals[1], "tokens": totals[2]}


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
