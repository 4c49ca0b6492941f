"""MultINN's DBN encoder: a stack of binary RBMs, pre-trained layer by layer with CD-k (specs/multinn.md §3).

`encode` runs up the stack and returns sampled binary top-layer units (and their probabilities);
`decode` runs down and returns a sampled binary visible vector. Pre-training (`cd_losses`) gives each
RBM its own CD-k objective on the gradient-stopped samples of the layer below, so one optimizer step
updates every layer exactly as greedy layer-wise training would update that layer given the layer
below (the layers train side by side rather than one after another). While the generators train, the
encodings are gradient-stopped and the DBN's weights are frozen (MultINN's `tune_encoder: False`).

Two choices make CD-k learn on sparse, nearly one-hot frames (a chorale voice: one of ~44 pitches on), both
measured against a numpy CD-1 reference (Hinton's recipe): at W ≈ 0 with Hinton's visible biases the RBM is
already the data's independent-Bernoulli fit, a saddle (linearised, W grows at a rate ~ p_i², p_i the pitches'
on-rates, ~1e-3 here), so (1) the kernels start Xavier-sized (std sqrt(2 / (D + H)), MultINN's Xavier init)
rather than 0.01, and (2) the negative phase is taken at the chain's final visible PROBABILITIES p(v_k), as
MultINN's `p_vkᵀ p_hk` and Hinton's recipe do: with a binary v_k (independent draws of marginals summing to
~1 give no note in ~e⁻¹ of the frames) the hidden units drift off and the loss stays at the independent level.
"""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from zoo.layers.nade import seed_tensor, uniform_at
from zoo.layers.rbm import Rbm

EPS = 1e-6  # MultINN's safe_log offset


def xavier_stddev(fan_in: int, fan_out: int) -> float:
    """The std of Xavier (Glorot) initialisation, sqrt(2 / (fan_in + fan_out))."""
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


@keras.saving.register_keras_serializable(package="zoo")
class Dbn(keras.layers.Layer):
    """A stack of RBMs `num_visible -> hidden_units[0] -> ... -> hidden_units[-1]`.

    Args:
        num_visible (int): D, the input width.
        hidden_units (list[int]): hidden size of each RBM, bottom first (MultINN's example: [168, 84]).
        gibbs_k (int, 2): Gibbs steps of each layer's CD-k (MultINN's k = 2).
    """

    def __init__(self, num_visible: int, hidden_units: Sequence[int], gibbs_k: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.num_visible, self.hidden_units, self.gibbs_k = int(num_visible), [int(h) for h in hidden_units], int(gibbs_k)
        if not self.hidden_units:
            raise ValueError("a DBN needs at least one hidden layer")
        sizes = [self.num_visible] + self.hidden_units
        # Xavier-sized kernels (see the module docstring: 0.01 leaves CD-k stuck at the W = 0 saddle).
        self.rbms = [Rbm(sizes[i], sizes[i + 1], kernel_stddev=xavier_stddev(sizes[i], sizes[i + 1]), name=f"rbm_{i}")
                     for i in range(len(self.hidden_units))]

    @property
    def num_outputs(self) -> int:
        return self.hidden_units[-1]

    def build(self, input_shape=None):
        for rbm in self.rbms:
            rbm.build()
        self.built = True

    def init_visible_bias(self, on_rate: np.ndarray) -> None:
        """Hinton's initialisation of the bottom visible biases: log(p / (1 - p)) of each unit's on-rate p."""
        p = np.asarray(on_rate, np.float64)
        self.rbms[0].visible_bias.assign(np.log(EPS + p) - np.log(EPS + 1.0 - p))

    def encode(self, v, seed, sample: bool = True):
        """v [N, D] -> (top units [N, hidden_units[-1]], their probabilities); sampled binary when `sample`."""
        seed = seed_tensor(seed)
        probs = v = ops.cast(v, self.compute_dtype)
        for index, rbm in enumerate(self.rbms):
            probs = rbm.hidden_probs(v)
            v = ops.cast(uniform_at(ops.shape(probs), seed, index) < probs, probs.dtype) if sample else probs
        return v, probs

    def decode(self, h, seed, sample: bool = True):
        """top units [N, hidden_units[-1]] -> (visible [N, D], its probabilities), down the stack."""
        seed = seed_tensor(seed)
        probs = h = ops.cast(h, self.compute_dtype)
        for index, rbm in enumerate(reversed(self.rbms)):
            probs = rbm.visible_probs(h)
            h = ops.cast(uniform_at(ops.shape(probs), seed, 100 + index) < probs, probs.dtype) if sample else probs
        return h, probs

    def reconstruction_probs(self, v):
        """One deterministic pass up and down the stack: p(v) [N, D] of the reconstruction."""
        h = ops.cast(v, self.compute_dtype)
        for rbm in self.rbms:
            h = rbm.hidden_probs(h)
        for rbm in reversed(self.rbms):
            h = rbm.visible_probs(h)
        return h

    def reconstruction_loss(self, v):
        """MultINN's monitor: log-loss of the one-pass reconstruction, summed over dims, per row [N]."""
        v = ops.cast(v, self.compute_dtype)
        p = self.reconstruction_probs(v)
        return -ops.sum(v * ops.log(EPS + p) + (1.0 - v) * ops.log(EPS + 1.0 - p), axis=-1)

    def cd_losses(self, v, seed, weights=None):
        """Each layer's CD-k objective, weighted mean over rows (`weights` [N], e.g. a padding mask): a list."""
        seed = seed_tensor(seed)
        v = ops.cast(v, self.compute_dtype)
        weights = ops.ones(ops.shape(v)[:1], v.dtype) if weights is None else ops.cast(weights, v.dtype)
        total = ops.maximum(ops.sum(weights), 1.0)
        losses = []
        for index, rbm in enumerate(self.rbms):
            layer_seed = seed + ops.convert_to_tensor([0, 1000 * (index + 1)], "int32")
            # Negative phase at the reconstruction's probabilities (gradient-stopped by gibbs): the gradient of
            # F(v) - F(p_vk) is Hinton's / MultINN's CD update, hidden probabilities in both phases.
            _, p_vk = rbm.gibbs(v, self.gibbs_k, layer_seed)
            gap = rbm.free_energy(v) - rbm.free_energy(p_vk)
            losses.append(ops.sum(gap * weights) / total)
            probs = rbm.hidden_probs(v)
            v = ops.stop_gradient(ops.cast(uniform_at(ops.shape(probs), layer_seed, 999) < probs, probs.dtype))
        return losses

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible, "hidden_units": list(self.hidden_units),
                "gibbs_k": self.gibbs_k}
