"""The `.ctome` connectome: tensor keys, order and orientation (spec §7)."""
from __future__ import annotations

import numpy as np

from leadsheet_helpers import tiny_model
from zoo.families.leadsheet.connectome import connectome_tensors


def test_connectome_layout_follows_the_spec():
    model, _ = tiny_model(layer_size=[8, 6])
    tensors = connectome_tensors(model, ("interval", "chord"))
    keys = [k for k, _ in tensors]
    expected = []
    for e in (0, 1):
        for layer in (1, 2):
            for gate in ("input", "forget", "activate", "out"):
                expected += [f"{e}_lstm{layer}_{gate}_w", f"{e}_lstm{layer}_{gate}_b"]
        expected += [f"{e}_full_w", f"{e}_full_b", f"{e}_lstm1_initialstate", f"{e}_lstm2_initialstate"]
    assert keys == expected
    shapes = dict((k, v.shape) for k, v in tensors)
    assert shapes["0_lstm1_input_w"] == (8, 50 + 8) and shapes["1_lstm1_input_w"] == (6, 37 + 6)
    assert shapes["0_lstm2_out_b"] == (8,) and shapes["0_full_w"] == (27, 8) and shapes["1_full_w"] == (14, 6)
    assert shapes["1_lstm2_initialstate"] == (12,)
    # W_k = [kernel_k^T, recurrent_k^T]: the forget gate is Keras's second column block.
    kernel = model.get_layer("interval_lstm1").cell.kernel.numpy()
    np.testing.assert_array_equal(dict(tensors)["0_lstm1_forget_w"][:, :50], kernel[:, 8:16].T)
