"""lstmprovisor's expert layers: the decoders, product and loss against the numpy reference, the per-note cell."""
from __future__ import annotations

import numpy as np
import pytest

import leadsheet_numpy_reference as ref
from leadsheet_helpers import random_batch, tiny_model
from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type
from zoo.families.leadsheet import experts as layers
from zoo.families.leadsheet import leadsheet_encoding as ls


def test_keras_decoders_match_the_numpy_reference():
    rng = np.random.default_rng(1)
    act27, pos = rng.normal(size=(2, 5, 27)).astype("float32"), rng.integers(48, 85, (2, 5))
    np.testing.assert_allclose(layers.IntervalDecoder()([act27, pos]), ref.interval_probs(act27, pos), atol=1e-6)
    act25 = act27[..., 2:]
    np.testing.assert_allclose(layers.IntervalDecoder(with_artic=False)([act25, pos]),
                               ref.interval_probs(act25, pos, with_artic=False), atol=1e-6)
    act14, root = rng.normal(size=(2, 5, 14)).astype("float32"), rng.integers(0, 12, (2, 5))
    np.testing.assert_allclose(layers.ChordDecoder()([act14, root]), ref.chord_probs(act14, root), atol=1e-6)
    act13 = rng.normal(size=(2, 5, 13)).astype("float32")
    np.testing.assert_allclose(layers.CircleOfThirdsDecoder(high=84)(act13), ref.cot_probs(act13), atol=1e-6)
    act3 = rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(layers.RhythmDecoder()(act3), ref.rhythm_probs(act3), atol=1e-6)
    p = [ref.interval_probs(act27, pos), ref.chord_probs(act14, root)]
    np.testing.assert_allclose(layers.ProductOfExperts()(p), ref.product(p), atol=1e-6)
    target = rng.integers(0, 39, (2, 5))
    loss = layers.SummedNLL()(target, ref.product(p).astype("float32"))
    assert float(loss) == pytest.approx(ls.nll(ref.product(p), target), rel=1e-5)


def test_decoders_sum_to_one_and_repeat_per_octave():
    rng = np.random.default_rng(0)
    pos = np.array([50, 64, 84])
    interval = ref.interval_probs(rng.normal(size=(3, 27)), pos)
    np.testing.assert_allclose(interval.sum(-1), 1, rtol=1e-6)
    assert np.all(interval[0, 2 + 63 - 48:] == 0)  # pos 50: nothing above 62
    chord = ref.chord_probs(rng.normal(size=(1, 14)), np.array([5]))
    assert chord[0, 2 + 53 - 48] == chord[0, 2 + 65 - 48]
    cot = ref.cot_probs(rng.normal(size=(4, 13)))
    assert cot.shape == (4, 38)
    np.testing.assert_allclose(cot.sum(-1), 1, rtol=1e-6)
    prod = ref.product([interval[:1], chord])
    np.testing.assert_allclose(prod.sum(-1), 1, rtol=1e-6)
    rhythm = ref.rhythm_probs(rng.normal(size=(1, 3)))
    split = ref.product([ref.interval_probs(rng.normal(size=(1, 25)), pos[1:2], with_artic=False),
                        ref.chord_probs(rng.normal(size=(1, 12)), np.array([0]), with_artic=False), rhythm],
                       separate_rhythm=True)
    np.testing.assert_allclose(split[0, :2], rhythm[0, :2], rtol=1e-6)  # the rhythm expert sets the rhythm
    np.testing.assert_allclose(split.sum(-1), 1, rtol=1e-6)
    assert ls.nll(np.array([[0.5, 0.5]]), np.array([1])) == pytest.approx(np.log(2), rel=1e-5)


def test_per_note_memory_moves_with_the_position(tmp_path):
    cell = layers.PerNoteLSTMCell(5, per_note=1, window=4, mode="drop")
    c = np.array([[9, 1, 2, 3, 4]], "float32")  # one independent cell, then notes a b c d
    assert np.asarray(cell.shift_memory(c, np.array([1.0]))).tolist() == [[9, 2, 3, 4, 0]]
    assert np.asarray(cell.shift_memory(c, np.array([-1.0]))).tolist() == [[9, 0, 1, 2, 3]]
    roll = layers.PerNoteLSTMCell(5, per_note=1, window=4, mode="roll")
    assert np.asarray(roll.shift_memory(c, np.array([-1.0]))).tolist() == [[9, 4, 1, 2, 3]]
    model, config = tiny_model(per_note=2)
    assert model.get_layer("interval_lstm1").cell.units == 8 + 2 * 25
    assert model.get_layer("chord_lstm2").cell.units == 8 + 2 * 12
    inputs, _, _ = random_batch(get_model_type("poex"), config)
    save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "m.keras")(inputs)), np.asarray(model(inputs)),
                               atol=1e-6)

