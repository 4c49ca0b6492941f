"""Test-set likelihoods of rnn_nade and rnn_rbm: the exact NADE NLL in chunks, and log Z of every frame's RBM by AIS."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.families.rnn_piano.piano_roll_estimator_model import PianoRollEstimatorModel

EVAL_FRAMES_PER_CHUNK = 4096  # frames per NADE log-likelihood call in evaluation (N*D*H memory)


@tf.function(reduce_retracing=True)
def _nade_biases(estimator, inputs):
    return estimator.biases(inputs, training=False)


def nade_nll_sum(model: PianoRollEstimatorModel, rolls, mask) -> float:
    """Summed exact NLL of the unmasked frames of a batch (NADE in chunks of EVAL_FRAMES_PER_CHUNK frames)."""
    rolls = tf.cast(rolls, tf.float32)
    b_enc, b_dec = _nade_biases(model.estimator, model.shifted(rolls))
    keep = tf.cast(mask, tf.bool)
    x, b_enc, b_dec = (tf.boolean_mask(a, keep) for a in (rolls, b_enc, b_dec))
    total = 0.0
    for start in range(0, int(x.shape[0]), EVAL_FRAMES_PER_CHUNK):
        end = start + EVAL_FRAMES_PER_CHUNK
        total += float(-tf.reduce_sum(_nade_log_prob(model.estimator.nade, x[start:end], b_enc[start:end],
                                                     b_dec[start:end])))
    return total


@tf.function(reduce_retracing=True)
def _nade_log_prob(nade, x, b_enc, b_dec):
    return nade.log_prob(x, b_enc, b_dec)


def ais_log_z(rbm, bv: np.ndarray, bh: np.ndarray, chains: int, betas: int, frames_per_batch: int, seed: int,
              base: str = "mean_field"):
    """log Z_t and its spread for every frame's RBM, `frames_per_batch` frames at a time (one traced loop)."""

    @tf.function(input_signature=[tf.TensorSpec([None, bv.shape[1]]), tf.TensorSpec([None, bh.shape[1]]),
                                  tf.TensorSpec([2], tf.int32)])
    def batch(bv, bh, seed):
        return rbm.log_partition_ais(bv, bh, num_chains=chains, num_betas=betas, seed=seed, base=base)

    log_z, spread = [], []
    for index, start in enumerate(range(0, len(bv), frames_per_batch)):
        end = start + frames_per_batch
        z, s = batch(bv[start:end], bh[start:end], tf.constant([seed, index], tf.int32))
        log_z.append(z.numpy())
        spread.append(s.numpy())
    return np.concatenate(log_z), np.concatenate(spread)
