"""lstmprovisor's compressing autoencoder as pure tensor functions (specs/lstmprovisor.md §4.3).

The "fragmented queue": the encoder pushes feature vectors v_t with strengths s_t in [0, 1]; at
step t the decoder reads a window of width 1 of the queue that starts at the total strength
pushed before t, so it sees the features pushed at or after t (`queue_transform`). The queue
managers' extra losses, the sample_var REINFORCE surrogate and the four loss modes that balance
the reconstruction loss R against the extra loss Q are here too, each a function of tensors
(shapes in the docstrings; B batch, T steps, F feature size), tested against hand-computed cases.
"""
from __future__ import annotations

import math

from keras import ops

EPSILON = 1.1920929e-07  # float32 machine epsilon, as the original
NEARNESS_DECAY = 0.97
NEARNESS_SHOCK = 10.0  # shock = 10 x the sparsity scale
BASELINE_DECAY = 0.9
LOSS_MODES = ("add", "priority", "cutoff", "trigger")


# ---------------------------------------------------------------- the queue
def queue_transform(strengths, vectors):
    """strengths [B, T], vectors [B, T, F] -> features [B, T, F] the decoder reads at each step.

    With S_tau = sum_{u <= tau} s_u: cap[t, tau] = clip(S_tau - S_{t-1}, 0, 1),
    peek[t, tau] = cap[t, tau] - cap[t, tau - 1] (cap[t, -1] = 0), feature_t = sum_tau peek[t, tau] v_tau.
    """
    strengths = ops.cast(strengths, "float32")
    total = ops.cumsum(strengths, axis=1)  # S_tau
    before = total - strengths  # S_{t-1}
    cap = ops.clip(total[:, None, :] - before[:, :, None], 0.0, 1.0)  # [B, t, tau]
    peek = cap - ops.pad(cap[:, :, :-1], [[0, 0], [0, 0], [1, 0]])
    return ops.matmul(peek, ops.cast(vectors, "float32"))


def fixed_strengths(batch, steps, period: int | None):
    """[B, T] strengths of the queueless managers: 1 at t = P-1, 2P-1, ... (only the last step if P is None).

    When P does not divide T (a generation chunk; training segments are multiples of P) the last step
    pushes too, so the steps after the last full period still read a feature.
    """
    t = ops.arange(steps)
    last = ops.equal(t, steps - 1)
    row = ops.logical_or(ops.equal(ops.mod(t + 1, period), 0), last) if period else last
    return ops.broadcast_to(ops.cast(row, "float32")[None, :], (batch, steps))


def force_last(strengths):
    """Strengths [B, T] with the last step set to 1, so every pushed vector is eventually read."""
    last = ops.cast(ops.equal(ops.arange(ops.shape(strengths)[1]), ops.shape(strengths)[1] - 1), strengths.dtype)
    return strengths * (1.0 - last)[None, :] + last[None, :]


# ---------------------------------------------------------------- the managers' extra losses
def sparsity_cost(strengths, scale: float = 1.0):
    """sum of lossfun(s) = scale * log(1 + 99 s) / log(100) over every strength: 0 at s = 0, `scale` at s = 1."""
    return scale * ops.sum(ops.log1p(99.0 * ops.cast(strengths, "float32"))) / math.log(100.0)


def kl_cost(mean, std, mask=None, scale: float = 1.0):
    """scale * -1/2 sum (1 + log std^2 - mean^2 - std^2): KL(N(mean, std) || N(0, 1)) summed over [B, T, F].

    `mask` [B, T] keeps only some steps (queueless_var: the push steps).
    """
    terms = 1.0 + ops.log(ops.square(std)) - ops.square(mean) - ops.square(std)
    if mask is not None:
        terms = terms * ops.cast(mask, terms.dtype)[..., None]
    return -0.5 * scale * ops.sum(terms)


def nearness_cost(strengths, scale: float = 1.0, decay: float = NEARNESS_DECAY):
    """nearness_std: scale * sum f(s) + 10 scale * sum_b sum_{i > j} s_i s_j decay^(i - j - 1), f(x) = log(1+99x)/log(100).

    Two features close together cost more than two far apart.
    """
    s = ops.cast(strengths, "float32")
    steps = ops.shape(s)[1]
    i = ops.arange(steps)[:, None]
    j = ops.arange(steps)[None, :]
    gap = ops.cast(i - j - 1, "float32")
    weight = ops.where(i > j, ops.power(decay, ops.maximum(gap, 0.0)), 0.0)  # [i, j]
    pairs = ops.sum(ops.einsum("bi,ij,bj->b", s, weight, s))
    return sparsity_cost(s, scale) + NEARNESS_SHOCK * scale * pairs


def expected_sparsity_cost(probs, scale: float = 1.0):
    """sample_var's sparsity term for hard strengths s in {0, 1}: E[lossfun(s)] = scale * P(s = 1), summed.

    Differentiable in the probabilities (the original took lossfun of the samples: no gradient).
    """
    return scale * ops.sum(ops.cast(probs, "float32"))


def reinforce_surrogate(probs, choices, reward, baseline):
    """sum log p(choice) * (stopgrad(reward) - baseline): its gradient is the REINFORCE estimate for the strengths.

    probs [B, T] = P(s = 1); choices [B, T] in {0, 1}; reward = the reconstruction loss R (a scalar, lower
    is better, so descending the surrogate makes choices that gave a low R likelier).
    """
    chosen = probs * choices + (1.0 - probs) * (1.0 - choices)
    advantage = ops.stop_gradient(ops.cast(reward, "float32") - baseline)
    return ops.sum(ops.log(chosen + EPSILON)) * advantage


def update_baseline(acc_reward, acc_weight, reward, decay: float = BASELINE_DECAY):
    """One step of the bias-corrected moving average: (accQ, accD) <- (d accQ + (1-d) R, d accD + (1-d)).

    The baseline is accQ / accD (start: accQ = 0, accD = eps, so the first baseline is 0).
    """
    return decay * acc_reward + (1.0 - decay) * reward, decay * acc_weight + (1.0 - decay)


# ---------------------------------------------------------------- loss modes
def combine_losses(mode: str, reconstruction, extra, batch_size, option: float = 50.0, ramp_time: float = 1.0,
                   trigger_on=None, trigger_scale=None):
    """The loss to minimise from R (reconstruction NLL summed over batch and time) and Q (the manager's loss).

    Returns (loss, new_trigger_on, new_trigger_scale); the trigger state passes through except in `trigger` mode.
        add       L = R + Q
        priority  C' = option * B, L = C' ln(e^(R/C') + e^(Q/C') - 1) (stable form; Q = 0 gives R)
        cutoff    L = R + Q if R < option * B, else R
        trigger   L = R + scale Q, with the latched flag on <- on or R < option * B and
                  scale <- (previous on ? min(scale + 1 / ramp_time, 1) : 0): updated together, so scale lags a step
    """
    r = ops.cast(reconstruction, "float32")
    q = ops.cast(extra, "float32")
    b = ops.cast(batch_size, "float32")
    if mode == "add":
        return r + q, trigger_on, trigger_scale
    if mode == "priority":
        curviness = option * b
        x, y = r / curviness, q / curviness
        high, low = ops.maximum(x, y), ops.minimum(x, y)
        return curviness * (high + ops.log1p(ops.exp(low - high) - ops.exp(-high))), trigger_on, trigger_scale
    if mode == "cutoff":
        return ops.where(r < option * b, r + q, r), trigger_on, trigger_scale
    if mode == "trigger":
        on = ops.cast(trigger_on, "float32")
        scale = ops.cast(trigger_scale, "float32")
        new_on = ops.maximum(on, ops.cast(r < option * b, "float32"))
        new_scale = ops.where(on > 0, ops.minimum(scale + 1.0 / ramp_time, 1.0), 0.0)
        return r + scale * q, new_on, new_scale
    raise ValueError(f"unknown loss mode '{mode}' (known: {', '.join(LOSS_MODES)})")
