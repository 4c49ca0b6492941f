"""MusicVAE inference: generation compiles once, and slerp meets both ends."""
from __future__ import annotations

import numpy as np

from musicvae_helpers import tiny_model
from zoo.families.musicvae.vae_inference import compiled_functions, decode_z, slerp


def test_generation_compiles_once():
    model = tiny_model(False)
    rng = np.random.default_rng(1)
    first = decode_z(model, rng.standard_normal((2, 16)).astype(np.float32), 1.0, 0)
    decode_z(model, rng.standard_normal((5, 16)).astype(np.float32), 0.0, 7)
    assert compiled_functions(model)["decode"].experimental_get_tracing_count() == 1
    assert first.shape == (2, 32) and first.min() >= 0 and first.max() < 90
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    np.testing.assert_allclose(slerp(a, b, 0.0), a)
    np.testing.assert_allclose(slerp(a, b, 1.0), b)
