"""Binary RBM with Gibbs sampling, CD-k and annealed importance sampling (specs/multinn.md §3, §4.4).

Free energy F(v) = -v.b_v - sum_j softplus((vW + b_h)_j), with optional per-example bias offsets (the
RNN-conditioned parts of an RNN-RBM, added to the static biases). Gibbs chains run in a graph loop with
stop-gradient on the samples; CD-k differentiates mean F(v) - mean F(stop_grad(v_k)).

AIS (Salakhutdinov & Murray 2008, `log_partition_ais`) estimates log Z of every example's own RBM (its
biases differ per time step), from a factorised base model (the visible biases alone, or a mean-field
approximation) through linearly spaced temperatures, with the spread of the estimate.
"""
from __future__ import annotations

import math

import keras
from keras import ops

from zoo.layers.nade import seed_tensor, uniform_at


def _bernoulli(probs, seed, index):
    return ops.cast(uniform_at(ops.shape(probs), seed, index) < probs, probs.dtype)


@keras.saving.register_keras_serializable(package="zoo")
class Rbm(keras.layers.Layer):
    """A binary-binary RBM.

    Args:
        num_visible (int): D.
        num_hidden (int): H.
        kernel_stddev (float, 0.01): std of the normal initialisation of `kernel` (Boulanger-Lewandowski's 0.01).

    Weights: `kernel` [D, H], `visible_bias` [D], `hidden_bias` [H] (zeros).
    """

    def __init__(self, num_visible: int, num_hidden: int, kernel_stddev: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.num_visible, self.num_hidden, self.kernel_stddev = int(num_visible), int(num_hidden), float(kernel_stddev)

    def build(self, input_shape=None):
        self.kernel = self.add_weight(name="kernel", shape=(self.num_visible, self.num_hidden),
                                      initializer=keras.initializers.RandomNormal(stddev=self.kernel_stddev))
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.num_visible,), initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.num_hidden,), initializer="zeros")
        self.built = True

    def biases(self, bv_offset=None, bh_offset=None):
        """(b_v, b_h): the static biases plus the offsets ([D]/[H], or [N, D]/[N, H] with offsets)."""
        if not self.built:
            self.build()
        bv = self.visible_bias if bv_offset is None else self.visible_bias + bv_offset
        bh = self.hidden_bias if bh_offset is None else self.hidden_bias + bh_offset
        return bv, bh

    def free_energy(self, v, bv_offset=None, bh_offset=None):
        """F(v) [N] of v [N, D]."""
        bv, bh = self.biases(bv_offset, bh_offset)
        v = ops.cast(v, self.compute_dtype)
        return -ops.sum(v * bv, axis=-1) - ops.sum(ops.softplus(ops.matmul(v, self.kernel) + bh), axis=-1)

    def hidden_probs(self, v, bh_offset=None):
        """p(h = 1 | v) [N, H]."""
        _, bh = self.biases(None, bh_offset)
        return ops.sigmoid(ops.matmul(ops.cast(v, self.compute_dtype), self.kernel) + bh)

    def visible_probs(self, h, bv_offset=None):
        """p(v = 1 | h) [N, D]."""
        bv, _ = self.biases(bv_offset, None)
        return ops.sigmoid(ops.matmul(h, ops.transpose(self.kernel)) + bv)

    def gibbs(self, v, k, seed, bv_offset=None, bh_offset=None):
        """k steps of (h ~ p(h|v), v ~ p(v|h)) from v [N, D]: (v_k, p_vk), both gradient-stopped.

        k: a Python int or a scalar tensor (the loop is a graph loop either way).
        """
        seed = seed_tensor(seed)
        v = ops.cast(v, self.compute_dtype)

        def body(i, carry):
            v, _ = carry
            h = _bernoulli(self.hidden_probs(v, bh_offset), seed, 2 * i)
            p_v = self.visible_probs(h, bv_offset)
            return ops.stop_gradient(_bernoulli(p_v, seed, 2 * i + 1)), ops.stop_gradient(p_v)

        return ops.fori_loop(0, k, body, (ops.stop_gradient(v), ops.zeros_like(v)))

    def cd_loss(self, v, k, seed, bv_offset=None, bh_offset=None):
        """CD-k objective: mean F(v) - mean F(stop_grad(v_k)) (its gradient is the CD-k update)."""
        v_k, _ = self.gibbs(v, k, seed, bv_offset, bh_offset)
        return ops.mean(self.free_energy(v, bv_offset, bh_offset)) - ops.mean(
            self.free_energy(v_k, bv_offset, bh_offset))

    def log_partition_ais(self, bv_offset=None, bh_offset=None, num_chains: int = 100, num_betas: int = 1000,
                          seed=0, count: int | None = None, base: str = "mean_field"):
        """AIS estimate of log Z for each example's RBM: (log_z [N], spread [N]); see `log_partition_ais`."""
        return log_partition_ais(self, bv_offset, bh_offset, num_chains, num_betas, seed, count, base)

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible, "num_hidden": self.num_hidden,
                "kernel_stddev": self.kernel_stddev}


AIS_BASES = ("visible", "mean_field")
MEAN_FIELD_ITERATIONS = 20


def log_partition_ais(rbm: Rbm, bv_offset=None, bh_offset=None, num_chains: int = 100, num_betas: int = 1000,
                      seed=0, count: int | None = None, base: str = "mean_field"):
    """AIS estimate of log Z per example (Salakhutdinov & Murray 2008), each example's RBM on its own.

    Base model A (W = 0, visible biases b_A, H free hidden units: log Z_A = H log 2 + sum softplus(b_A)):
    base "visible" takes b_A = the example's visible biases; "mean_field" (default) takes
    b_A = b_v + W mu, mu the hidden means of a damped mean-field fixed point, a factorised
    approximation closer to the RBM, so fewer temperatures are needed. Intermediate distributions
    p_beta(v) ∝ exp((1 - beta) v.b_A + beta v.b_v) prod_j (1 + exp(beta (vW + b_h)_j)), betas linear in
    [0, 1] (`num_betas` steps), one Gibbs transition per beta, `num_chains` chains per example.

    Returns (log_z [N], spread [N]): spread = the standard deviation of the log Z estimate by the delta
    method, std(w) / (sqrt(num_chains) mean(w)). `count` gives N when both offsets are None.
    Memory N * num_chains * (D + H) floats: chunk N for long test sets.
    """
    if base not in AIS_BASES:
        raise ValueError(f"AIS base must be one of {AIS_BASES}, not {base!r}")
    bv, bh = rbm.biases(bv_offset, bh_offset)
    if len(bv.shape) == 1 and len(bh.shape) == 1:
        n = 1 if count is None else count
    else:
        n = ops.shape(bv)[0] if len(bv.shape) == 2 else ops.shape(bh)[0]
    bv = ops.broadcast_to(bv, (n, rbm.num_visible))
    bh = ops.broadcast_to(bh, (n, rbm.num_hidden))
    seed = seed_tensor(seed)
    kernel = ops.convert_to_tensor(rbm.kernel)
    # Chains as the leading axis: [C, N, .].
    base_bias = bv
    if base == "mean_field":
        visible_mean = ops.sigmoid(bv)
        for _ in range(MEAN_FIELD_ITERATIONS):  # a short fixed unrolled loop, damped for stability
            hidden_mean = ops.sigmoid(ops.matmul(visible_mean, kernel) + bh)
            visible_mean = 0.5 * visible_mean + 0.5 * ops.sigmoid(bv + ops.matmul(hidden_mean, ops.transpose(kernel)))
        base_bias = bv + ops.matmul(hidden_mean, ops.transpose(kernel))
    bv_c = ops.broadcast_to(bv[None], (num_chains,) + tuple(ops.shape(bv)))
    bh_c = ops.broadcast_to(bh[None], (num_chains,) + tuple(ops.shape(bh)))
    ba_c = ops.broadcast_to(base_bias[None], (num_chains,) + tuple(ops.shape(bv)))
    betas = ops.linspace(0.0, 1.0, num_betas + 1)

    def log_unnormalised(v, beta):
        # log p*_beta(v) = v.((1 - beta) b_A + beta b_v) + sum_j softplus(beta (vW + b_h)_j)
        return (ops.sum(v * ((1.0 - beta) * ba_c + beta * bv_c), -1)
                + ops.sum(ops.softplus(beta * (ops.matmul(v, kernel) + bh_c)), -1))

    v0 = _bernoulli(ops.sigmoid(ba_c), seed, 0)
    log_w0 = ops.zeros(ops.shape(v0)[:2], v0.dtype)

    def body(i, carry):
        v, log_w = carry
        beta_prev, beta = betas[i - 1], betas[i]
        log_w = log_w + log_unnormalised(v, beta) - log_unnormalised(v, beta_prev)
        # One Gibbs transition that leaves p_beta invariant: the hidden layer sees beta (vW + b_h).
        h = _bernoulli(ops.sigmoid(beta * (ops.matmul(v, kernel) + bh_c)), seed, 2 * i)
        visible_field = (1.0 - beta) * ba_c + beta * (bv_c + ops.matmul(h, ops.transpose(kernel)))
        v = _bernoulli(ops.sigmoid(visible_field), seed, 2 * i + 1)
        return v, log_w

    _, log_w = ops.fori_loop(1, num_betas + 1, body, (v0, log_w0))
    log_z_base = rbm.num_hidden * math.log(2.0) + ops.sum(ops.softplus(base_bias), -1)      # [N]
    log_mean_w = ops.logsumexp(log_w, axis=0) - math.log(num_chains)
    # Relative std of the mean weight: std(w) / (sqrt(C) mean(w)), computed in log space.
    relative = ops.exp(log_w - log_mean_w[None])
    spread = ops.std(relative, axis=0) / math.sqrt(num_chains)
    return log_z_base + log_mean_w, spread
