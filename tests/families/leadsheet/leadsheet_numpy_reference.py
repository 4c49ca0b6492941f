"""Numpy reference of the lead-sheet experts' decoders and product (specs/lstmprovisor.md §3, §4.2).

A second, plain-numpy form of each formula that the Keras layers of zoo/families/leadsheet/experts.py
implement; test_experts.py compares the layers against it. Distributions are over [rest, sustain,
MIDI low..high-1] (39 wide by default, 38 for cot).
"""
from __future__ import annotations

import numpy as np

from zoo.families.leadsheet.leadsheet_encoding import COT_HIGH, EPSILON, HIGH, LOW, WINDOW_RADIUS


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def interval_probs(act: np.ndarray, pos: np.ndarray, with_artic: bool = True, low: int = LOW,
                   high: int = HIGH) -> np.ndarray:
    """[..., 27 or 25] activations, [...] positions -> [..., 39]; notes beyond an octave get 0."""
    r = softmax(act)
    jumps = r[..., 2:] if with_artic else r
    idx = np.arange(low, high) - np.asarray(pos)[..., None] + WINDOW_RADIUS
    mask = (idx >= 0) & (idx <= 2 * WINDOW_RADIUS)
    q = np.take_along_axis(jumps, np.clip(idx, 0, 2 * WINDOW_RADIUS), axis=-1) * mask
    if with_artic:
        s = np.maximum(q.sum(-1) + r[..., 0] + r[..., 1], EPSILON)[..., None]
        return np.concatenate([r[..., :2], q], axis=-1) / s
    s = np.maximum(q.sum(-1), EPSILON)[..., None]
    return np.concatenate([np.ones_like(q[..., :2]), q / s], axis=-1)


def chord_probs(act: np.ndarray, root: np.ndarray, with_artic: bool = True, low: int = LOW,
                high: int = HIGH) -> np.ndarray:
    """[..., 14 or 12] activations, [...] chord roots -> [..., 39] (not normalised: the product is)."""
    r = softmax(act)
    pcs = r[..., 2:] if with_artic else r
    idx = (np.arange(low, high) - np.asarray(root)[..., None]) % 12
    q = np.take_along_axis(pcs, idx, axis=-1)
    head = r[..., :2] if with_artic else np.ones_like(q[..., :2])
    return np.concatenate([head, q], axis=-1)


def rhythm_probs(act: np.ndarray, low: int = LOW, high: int = HIGH) -> np.ndarray:
    """[..., 3] activations -> [..., 39]: [p_rest, p_sustain, p_articulate repeated for every pitch]."""
    r = softmax(act)
    return np.concatenate([r[..., :2], np.repeat(r[..., 2:3], high - low, axis=-1)], axis=-1)


def cot_probs(act: np.ndarray, low: int = LOW, high: int = COT_HIGH) -> np.ndarray:
    """[..., 13] -> [..., 38]: rest, sustain, then P(play) P(octave) P(pc mod 4) P(pc mod 3), octave-major."""
    rsp, c1, c2, octave = softmax(act[..., 0:3]), softmax(act[..., 3:7]), softmax(act[..., 7:10]), softmax(act[..., 10:13])
    k = np.arange(high - low)
    notes = rsp[..., 2:3] * octave[..., k // 12] * c1[..., k % 12 % 4] * c2[..., k % 12 % 3]
    return np.concatenate([rsp[..., :2], notes], axis=-1)


def product(probs: list[np.ndarray], separate_rhythm: bool = False) -> np.ndarray:
    """Normalised product of the experts' [..., 39] distributions (spec §4.2)."""
    prod = np.prod(np.stack(probs), axis=0)
    if not separate_rhythm:
        return prod / np.maximum(prod.sum(-1, keepdims=True), EPSILON)
    head, notes = prod[..., :2], prod[..., 2:]
    scale = (1 - head.sum(-1, keepdims=True)) / np.maximum(notes.sum(-1, keepdims=True), EPSILON)
    return np.concatenate([head, notes * scale], axis=-1)
