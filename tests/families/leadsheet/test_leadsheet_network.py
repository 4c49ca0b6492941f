"""lstmprovisor's network: parameter count, distributions and reload, dropout masks, the compiled sampler."""
from __future__ import annotations

import numpy as np
import pytest

from leadsheet_helpers import random_batch, tiny_model
from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator


def test_default_poex_has_the_spec_parameter_count():
    model = get_model_type("poex").build({"layer_size": [300], "num_layers": [2]}, None)
    assert model.count_params() == 1_151_727 + 1_132_214


@pytest.mark.parametrize("name, config", [("poex", {}), ("poex", {"separate_rhythm": True}),
                                          ("simple", {"encoding": "abs"}), ("simple", {"encoding": "cot"}),
                                          ("simple", {"encoding": "rel"})])
def test_outputs_are_distributions_and_reload_gives_the_same(tmp_path, name, config):
    model, config = tiny_model(name, **config)
    model_type = get_model_type(name)
    inputs, _, _ = random_batch(model_type, config)
    probs = np.asarray(model(inputs))
    assert probs.shape == (2, 48, 38 if config.get("encoding") == "cot" else 39)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
    save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "m.keras")(inputs)), probs, atol=1e-6)



def test_dropout_uses_one_mask_per_sequence():
    model, _ = tiny_model()
    dropped = np.asarray(model.get_layer("interval_dropout1")(np.ones((3, 20, 8), "float32"), training=True))
    assert np.all(dropped == dropped[:, :1, :])  # same units dropped at every step
    assert set(np.unique(dropped)) <= {0.0, 2.0}


@pytest.mark.parametrize("name, config", [("simple", {"encoding": "cot"}), ("poex", {"separate_rhythm": True}),
                                          ("poex", {"per_note": 2})])
def test_generation_matches_the_teacher_forced_network_and_compiles_once(name, config):
    model, config = tiny_model(name, **config)
    model_type = get_model_type(name)
    experts = model_type.experts(config)
    _, _, pieces = random_batch(model_type, config, steps=40)
    roots = np.stack([p["root"] for p in pieces]).astype("int32")
    chords = np.stack([p["chord"] for p in pieces]).astype("float32")
    generator = LeadSheetGenerator(model, experts)
    chosen, probs, _ = (np.asarray(x) for x in generator.generate(roots, chords, np.full(2, 72, "int32"),
                                                                   np.array([3, 0], "int32")))
    encoding = model_type.input_encoding(config)
    features = {}
    for kind in experts:
        rows = [ls.expert_features(kind, c, r, h, 72 - (c[c >= 2][0] - 2 + 48) if (c >= 2).any() else 0,
                                   encoding.low, encoding.high) for c, r, h in zip(chosen, roots, chords)]
        features[f"{kind}_features"] = np.stack([f for f, _ in rows])
        features[f"{kind}_pos"] = np.stack([p for _, p in rows])
    forced = np.asarray(model(model_type.model_inputs(features, experts)))
    np.testing.assert_allclose(forced, probs, atol=1e-5)
    generator.generate(roots[:1, :10], chords[:1, :10], np.full(1, 60, "int32"), np.array([1, 2], "int32"))
    assert generator.generate.experimental_get_tracing_count() == 1

