"""Sampling tokens from a trained model: the samplers and the one compiled generation loop.

`TokenGenerator` owns the `tf.while_loop`; a model family fills in two hooks, `initial_state`
and `step` (one token in, next-token logits and the new state out). The loop's `generate` is a
`tf.function` with a fixed input signature, so it is traced once per generator whatever the
primer length, the number of steps or the sampling settings, and it exports as a SavedModel
endpoint unchanged.
"""
from __future__ import annotations

import abc

import numpy as np
import tensorflow as tf

from zoo.encodings.base import EOS_ID, PAD_ID

NEG_INF = -1e9
# Up to this many sequences sampled at once, a step's ops are too small to gain from being split across
# threads or compiled with XLA (bench/transformer_generation.py, batch 1 and 16 on 2 cores).
SMALL_SAMPLING_BATCH = 8


def filter_logits(logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor) -> tf.Tensor:
    """Applies temperature, top-k (k <= 0: off) and nucleus top-p (p >= 1: off) to logits [B, V].

    Temperature 0 means greedy: only the most likely token keeps a finite logit.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = temperature <= 0.0
    logits = logits / tf.where(greedy, 1.0, temperature)
    # Plain sampling needs no sort: skip it, it is a large part of a small model's step.
    filtered = greedy | (top_k > 0) | (top_p < 1.0)
    return tf.cond(filtered, lambda: _top_k_top_p(logits, greedy, top_k, top_p), lambda: logits)


def _top_k_top_p(logits: tf.Tensor, greedy: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor) -> tf.Tensor:
    vocab = tf.shape(logits)[-1]
    k = tf.where(greedy, 1, tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab))
    # One sort serves both filters: masking below the k-th value keeps the descending order.
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    sorted_logits = tf.where(tf.range(vocab)[None, :] < k, sorted_logits, NEG_INF)
    logits = tf.where(logits < sorted_logits[:, k - 1:k], NEG_INF, logits)
    # Nucleus: keep the smallest set of most likely tokens whose probability reaches top_p.
    mass_before = tf.cumsum(tf.nn.softmax(sorted_logits), axis=-1, exclusive=True)
    cutoff_index = tf.maximum(tf.reduce_sum(tf.cast(mass_before < top_p, tf.int32), axis=-1) - 1, 0)
    cutoff = tf.gather(sorted_logits, cutoff_index, batch_dims=1)[:, None]
    return tf.where((top_p < 1.0) & (logits < cutoff), NEG_INF, logits)


def sample_logits(logits, temperature, top_k, top_p, seed) -> tf.Tensor:
    """Draws one id per row of logits [B, V] (int32 [B]); `seed` is an int32 pair, same seed same draw."""
    filtered = filter_logits(logits, temperature, top_k, top_p)
    return tf.cast(tf.random.stateless_categorical(filtered, 1, seed=seed)[:, 0], tf.int32)


class TokenGenerator(tf.Module, abc.ABC):
    """Autoregressive sampling loop shared by every token model.

    Hooks:
        initial_state(batch_size) -> nested structure of tensors (fixed shapes per step).
        step(tokens [B] int32, state) -> (logits [B, V] float32, new state).
    """

    def __init__(self, model, name: str | None = None):
        super().__init__(name=name)
        self.model = model  # tracked, so its variables export with the endpoint

    @abc.abstractmethod
    def initial_state(self, batch_size: tf.Tensor):
        ...

    @abc.abstractmethod
    def step(self, tokens: tf.Tensor, state):
        ...

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="primer"),
            tf.TensorSpec([], tf.int32, name="num_steps"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ]
    )
    def generate(self, primer, num_steps, temperature, top_k, top_p, seed):
        """Continues `primer` int32 [B, P] (P >= 1; start a piece with [[EOS_ID]]) by `num_steps` ids.

        PAD and EOS are never sampled, so every output has exactly `num_steps` tokens.
        Returns int32 [B, num_steps].
        """
        batch = tf.shape(primer)[0]
        primer_len = tf.shape(primer)[1]
        total = primer_len - 1 + num_steps
        # Slot t holds the token fed at step t + 1: primer tokens first, then samples.
        tokens_out = tf.TensorArray(tf.int32, size=total, element_shape=tf.TensorShape([None]))

        def body(t, token, state, tokens_out):
            logits, state = self.step(token, state)
            vocab = tf.shape(logits)[-1]
            never = tf.one_hot(PAD_ID, vocab) + tf.one_hot(EOS_ID, vocab)
            logits = tf.cast(logits, tf.float32) + never[None, :] * NEG_INF
            sampled = sample_logits(logits, temperature, top_k, top_p, tf.stack([seed, t]))
            from_primer = primer[:, tf.minimum(t + 1, primer_len - 1)]
            next_token = tf.where(t + 1 < primer_len, from_primer, sampled)
            return t + 1, next_token, state, tokens_out.write(t, next_token)

        _, _, _, tokens_out = tf.while_loop(
            lambda t, *_: t < total,
            body,
            (tf.constant(0), primer[:, 0], self.initial_state(batch), tokens_out),
        )
        return tf.transpose(tokens_out.stack())[:, primer_len - 1:]


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
