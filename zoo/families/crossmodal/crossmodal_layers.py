"""Building blocks of the cross-modal VAEs: residual MLP trunks, Gaussian heads, the discriminator.

Sizes and initialisation follow the original (specs/crossmodal.md §5.2-5.3, §7, §11): Linear ->
BatchNorm -> ReLU layers, a residual link `relu(out + x)` where widths match, Xavier-normal
weights (gain sqrt(2) in the trunk, 1 in the heads) and biases 0.01; PyTorch's BatchNorm
momentum 0.1 / epsilon 1e-5.
"""
from __future__ import annotations

import keras
from keras import ops

VARIANCE_FLOOR = 1e-4  # keeps log v finite; the sigmoid head gives v in (VARIANCE_FLOOR, 1)


def _xavier(gain_squared: float) -> keras.initializers.Initializer:
    return keras.initializers.VarianceScaling(scale=gain_squared, mode="fan_avg", distribution="untruncated_normal")


def _dense(units: int, gain_squared: float, name: str, dtype=None) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=_xavier(gain_squared),
                              bias_initializer=keras.initializers.Constant(0.01), name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="zoo")
class ResidualMLP(keras.layers.Layer):
    """`num_layers` x (Dense -> BatchNorm -> ReLU), each added to its input when the widths match.

    [B, D] -> [B, units].
    """

    def __init__(self, units: int, num_layers: int, residual: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_layers, self.residual = int(units), int(num_layers), bool(residual)
        self.dense = [_dense(self.units, 2.0, f"dense_{i}") for i in range(self.num_layers)]
        self.norms = [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"norm_{i}")
                      for i in range(self.num_layers)]

    def build(self, input_shape):
        width = input_shape[-1]
        for dense, norm in zip(self.dense, self.norms):
            dense.build((None, width))
            norm.build((None, self.units))
            width = self.units
        self.built = True

    def call(self, x, training=None):
        for dense, norm in zip(self.dense, self.norms):
            out = ops.relu(norm(dense(x), training=training))
            x = ops.relu(out + x) if self.residual and x.shape[-1] == self.units else out
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers, "residual": self.residual}


@keras.saving.register_keras_serializable(package="zoo")
class GaussianHead(keras.layers.Layer):
    """[B, H] -> (mean [B, dim], variance [B, dim]); variance = sigmoid(linear), in (1e-4, 1), float32.

    The original's sigmoid head, read as a variance everywhere (sampling uses its square root).
    """

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.mean = _dense(self.dim, 1.0, "mean", dtype="float32")
        self.variance = _dense(self.dim, 1.0, "variance", dtype="float32")

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.variance.build(input_shape)
        self.built = True

    def call(self, h):
        variance = VARIANCE_FLOOR + (1.0 - VARIANCE_FLOOR) * ops.sigmoid(self.variance(h))
        return self.mean(h), variance

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="zoo")
class Discriminator(keras.layers.Layer):
    """`num_layers` x (Dense -> BatchNorm -> ReLU) -> Dense(1): logit that a spectral frame is real. [B, D] -> [B]."""

    def __init__(self, units: int = 500, num_layers: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_layers = int(units), int(num_layers)
        self.trunk = ResidualMLP(self.units, self.num_layers, residual=False, name="trunk")
        self.logit = _dense(1, 1.0, "logit", dtype="float32")

    def build(self, input_shape):
        self.trunk.build(input_shape)
        self.logit.build((None, self.units))
        self.built = True

    def call(self, x, training=None):
        return self.logit(self.trunk(x, training=training))[:, 0]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers}


def gaussian_nll(x, mean, variance):
    """-log N(x; mean, variance), summed over the last axis: [B, D] -> [B]."""
    return 0.5 * ops.sum(ops.log(variance) + ops.square(x - mean) / variance + ops.log(2.0 * 3.141592653589793), axis=-1)


def gaussian_kl(mean_1, var_1, mean_2, var_2):
    """KL(N(mean_1, var_1) || N(mean_2, var_2)) of diagonal Gaussians, summed over the last axis: -> [B]."""
    return 0.5 * ops.sum(ops.log(var_2) - ops.log(var_1) + var_1 / var_2 + ops.square(mean_1 - mean_2) / var_2 - 1.0,
                         axis=-1)


def gaussian_entropy(variance):
    """Differential entropy of a diagonal Gaussian, summed over the last axis: [B, D] -> [B]."""
    return 0.5 * ops.sum(ops.log(variance) + ops.log(2.0 * 3.141592653589793) + 1.0, axis=-1)
