"""RNN-MultiNADE: one shared RNN, one NADE per track (MultINN's composer generator; specs/multinn.md §4.3).

Frames are interleaved dim-major / track-minor, as MultINN stacks the per-track encodings: a frame of K
tracks of E dims is the [E, K] array flattened, so column `e·K + k` is dim e of track k. The RNN reads
the whole interleaved frame; one Dense maps its output to [K·H | K·E] biases, each half cut into K equal
chunks, the k-th pair conditioning track k's NADE. Tracks are independent given the RNN state, so a
frame's NLL is the sum of the tracks' NLLs and sampling draws each track on its own.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from zoo.layers.nade import Nade, seed_tensor
from zoo.layers.rnn_estimators import RnnConditioner


@keras.saving.register_keras_serializable(package="zoo")
class RnnMultiNade(RnnConditioner):
    """K NADEs of `track_dims` units on one shared RNN (the step API of RnnNade, interleaved frames).

    Args:
        track_dims (int): E, units per track.
        num_tracks (int): K.
        num_hidden (int): H, hidden size of each track's NADE.
        rnn_units (tuple of int, (128,)): RNN layer sizes.
        dropout (float, 0.1): output dropout after every RNN layer (training only).
        internal_bias (bool, False): the NADEs also have static biases.
    """

    def __init__(self, track_dims: int, num_tracks: int, num_hidden: int, rnn_units=(128,), dropout: float = 0.1,
                 internal_bias: bool = False, **kwargs):
        for key in ("num_dims", "input_dims", "rnn_type"):  # derived here, present in the base class's config
            kwargs.pop(key, None)
        self.track_dims, self.num_tracks = int(track_dims), int(num_tracks)
        super().__init__(self.track_dims * self.num_tracks, int(num_hidden) * self.num_tracks, rnn_units, dropout,
                         "lstm", None, **kwargs)
        self.track_hidden, self.internal_bias = int(num_hidden), bool(internal_bias)
        self.nades = [Nade(self.track_dims, self.track_hidden, internal_bias=self.internal_bias, name=f"nade_{k}")
                      for k in range(self.num_tracks)]

    def _build_estimator(self):
        for nade in self.nades:
            nade.build()

    def _split(self, b_enc, b_dec, k):
        """Track k's (b_enc [..., H], b_dec [..., E]) out of the K-chunked bias blocks."""
        h, e = self.track_hidden, self.track_dims
        return b_enc[..., k * h:(k + 1) * h], b_dec[..., k * e:(k + 1) * e]

    def call(self, inputs, targets, mask=None, training=None):
        """NLL [B, T] (nats, summed over tracks and dims) of interleaved targets [B, T, E·K]."""
        b_enc, b_dec = self.biases(inputs, training=training)
        batch, steps = ops.shape(targets)[0], ops.shape(targets)[1]
        tracks = ops.reshape(targets, (batch * steps, self.track_dims, self.num_tracks))
        flat = lambda a: ops.reshape(a, (batch * steps, ops.shape(a)[-1]))  # noqa: E731
        nll = 0.0
        for k, nade in enumerate(self.nades):
            enc_k, dec_k = self._split(b_enc, b_dec, k)
            nll = nll - nade.log_prob(tracks[:, :, k], flat(enc_k), flat(dec_k))
        nll = ops.reshape(nll, (batch, steps))
        if mask is not None:
            nll = nll * ops.cast(mask, nll.dtype)
        return nll

    def sample_frame(self, b_enc, b_dec, seed, temperature=1.0):
        """An interleaved frame [B, E·K]: each track drawn from its NADE given the shared state."""
        seed = seed_tensor(seed)
        samples = []
        for k, nade in enumerate(self.nades):
            enc_k, dec_k = self._split(b_enc, b_dec, k)
            samples.append(nade.sample(enc_k, dec_k, tf.stack([seed[0], seed[1] + 104729 * (k + 1)]), temperature))
        return ops.reshape(ops.stack(samples, axis=-1), (-1, self.num_dims))

    def get_config(self):
        config = super().get_config()
        for key in ("num_dims", "num_hidden", "input_dims", "rnn_type"):
            config.pop(key, None)
        return {**config, "track_dims": self.track_dims, "num_tracks": self.num_tracks,
                "num_hidden": self.track_hidden, "internal_bias": self.internal_bias}
