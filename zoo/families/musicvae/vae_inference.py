"""Inference with a trained `MusicVAEModel`: its compiled encode/decode functions (traced once per model),
decoding latent codes to melodies, spherical interpolation of latents, and the reconstruction metrics
of `python -m zoo evaluate`. The model type (music_vae.py) and the training callbacks
(musicvae_callbacks.py) both use them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.core.model_cache import per_model
from zoo.families.musicvae.melody_encoding import STEPS_PER_BAR
from zoo.families.musicvae.vae_model import MusicVAEModel


def compiled_functions(model: MusicVAEModel) -> dict[str, Any]:
    """The model's encode/decode graphs, traced once per model (fixed input signatures)."""
    T, Z = model.seq_len, model.z_size
    return per_model(model, "encode_decode", lambda: {
        "encode": tf.function(lambda melody: model.encode(melody),
                              input_signature=[tf.TensorSpec([None, T], tf.int32)]),
        "decode": tf.function(lambda z, temperature, seed: model.generate(z, temperature, seed),
                              input_signature=[tf.TensorSpec([None, Z], tf.float32),
                                               tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.int32)]),
    })


def decode_z(model: MusicVAEModel, z: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    """Latent codes [N, Z] -> melody classes [N, T] (temperature 0: argmax at every step)."""
    fns = compiled_functions(model)
    return fns["decode"](tf.constant(z, tf.float32), tf.constant(temperature, tf.float32),
                         tf.constant([seed, 0], tf.int32)).numpy()


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two latent vectors (linear when they are parallel)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def reconstruction_metrics(model: MusicVAEModel, windows: np.ndarray, batch_size: int, vae: dict[str, Any]
                           ) -> dict[str, float]:
    """Teacher-forced and sampled reconstruction accuracy (z = posterior mean; metrics.md §4), NLL and KL.

    Sampled: the decoder is fed its own argmax at every step (`sampled_accuracy`, the paper's protocol), or
    a temperature-1 sample of its output (`sampled_accuracy_temperature_1`, fixed seed). Accuracies are means
    over all steps of all windows; `sampled_accuracy_bar_k` is that of bar k alone (argmax feedback).
    """
    free_nats = vae["free_bits"] * math.log(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None, model.seq_len], tf.int32), tf.TensorSpec([2], tf.int32)])
    def batch_sums(melody, seed):
        mu, logvar = model.encode(melody)
        teacher, _ = model.decode_logits(mu, melody, 0.0, 0.0, seed=tf.constant([0, 0]))
        sampled, _ = model.decode_logits(mu, melody, 1.0, 0.0, seed=tf.constant([0, 0]))
        drawn, _ = model.decode_logits(mu, melody, 1.0, 1.0, seed=seed)
        nll, kl, tf_correct = model.elbo_terms(melody, mu, logvar, teacher)
        _, _, sampled_correct = model.elbo_terms(melody, mu, logvar, sampled)
        _, _, drawn_correct = model.elbo_terms(melody, mu, logvar, drawn)
        return (tf.reduce_sum(tf_correct, 0), tf.reduce_sum(sampled_correct, 0), tf.reduce_sum(nll),
                tf.reduce_sum(kl), tf.reduce_sum(tf.maximum(kl - free_nats, 0.0)), tf.reduce_sum(drawn_correct))

    tf_steps = np.zeros(model.seq_len)
    sampled_steps = np.zeros(model.seq_len)
    nll = kl = kl_free = drawn = 0.0
    for start in range(0, len(windows), batch_size):
        sums = batch_sums(tf.constant(windows[start:start + batch_size]), tf.constant([0, start], tf.int32))
        tf_steps += sums[0].numpy()
        sampled_steps += sums[1].numpy()
        nll, kl, kl_free = nll + float(sums[2]), kl + float(sums[3]), kl_free + float(sums[4])
        drawn += float(sums[5])
    n = len(windows)
    beta = vae["beta_settings"]["end_beta"]
    numbers = {
        "melodies": n,
        "tf_accuracy": float(tf_steps.sum() / (n * model.seq_len)),
        "sampled_accuracy": float(sampled_steps.sum() / (n * model.seq_len)),
        "sampled_accuracy_temperature_1": drawn / (n * model.seq_len),
        "nll_per_melody": nll / n,
        "nll_per_step": nll / (n * model.seq_len),
        "kl": kl / n,
        "kl_after_free_bits": kl_free / n,
        "beta": beta,
        "loss_teacher_forced": (nll + beta * kl_free) / n,
    }
    for bar, part in enumerate(np.split(sampled_steps, model.seq_len // STEPS_PER_BAR)):
        numbers[f"sampled_accuracy_bar_{bar + 1}"] = float(part.sum() / (n * STEPS_PER_BAR))
    return numbers
