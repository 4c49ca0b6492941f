"""Cross-modal analysis: the posterior predictive of `--n_samples` averages probabilities, not logits."""
import numpy as np

from zoo.families.crossmodal.analysis import head_log_probs, symbol_log_probs


class _IdentityDecoder:
    """Stands in for a trained model: the latent is the logits."""

    def decode_symbol(self, z, layer=-1):
        return np.asarray(z, np.float32)


def _log_softmax(a):
    return a - np.log(np.exp(a).sum(-1, keepdims=True))


def test_posterior_predictive_averages_label_probabilities():
    config = {"instruments": ["Flute"], "labels": ["dynamics"], "zero_extra_class": 0, "label_type": "categorical"}
    z_mean = np.array([[2.0, 0.0, -1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 3.0]], np.float32)
    z_var = np.full_like(z_mean, 4.0)
    model = _IdentityDecoder()

    plain = symbol_log_probs(model, z_mean, z_var, config, 0, seed=0)
    np.testing.assert_allclose(plain[0], _log_softmax(z_mean.astype(np.float64)), rtol=1e-6)

    draws = z_mean + 2.0 * np.random.default_rng(7).standard_normal((3, *z_mean.shape))
    expected = np.log(np.exp(_log_softmax(draws.astype(np.float32).astype(np.float64))).mean(axis=0))
    predictive = symbol_log_probs(model, z_mean, z_var, config, 3, seed=7)
    np.testing.assert_allclose(predictive[0], expected, rtol=1e-5)
    np.testing.assert_allclose(np.exp(predictive[0]).sum(-1), 1.0, rtol=1e-6)
    # The former code averaged logits (a geometric mean of probabilities): a different, sharper prediction.
    geometric = head_log_probs(draws.astype(np.float32).mean(axis=0), config)[0]
    assert np.abs(geometric - expected).max() > 0.1
