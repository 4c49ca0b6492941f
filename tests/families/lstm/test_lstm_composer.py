import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.core.checkpoints import load_model, save_model
from zoo.encodings import EOS_ID, PAD_ID
from zoo.core.registry import get_model_type

CONFIG = dict(lstm_size=24, lstm_num_layers=2, lstm_dropout_prob=0.2, lstm_num_hidden_dense=1,
              lstm_hidden_dense_size=16, lstm_hidden_dense_activation="relu", lstm_embedding_size=8)
VOCAB = 40


@pytest.fixture(params=[8, 0], ids=["embedding", "scalar-input"])
def model_and_config(request):
    config = {**CONFIG, "lstm_embedding_size": request.param}
    keras.utils.set_random_seed(0)
    return get_model_type("lstm").build(config, types.SimpleNamespace(vocab_size=VOCAB)), config


def test_shapes_and_float32_logits(model_and_config):
    model, _ = model_and_config
    logits = model(np.random.default_rng(0).integers(2, VOCAB, (3, 11)).astype("int32"))
    assert logits.shape == (3, 11, VOCAB) and logits.dtype == "float32"


def test_stepwise_generator_matches_the_full_forward_pass(model_and_config):
    model, config = model_and_config
    tokens = np.random.default_rng(1).integers(2, VOCAB, (2, 9)).astype("int32")
    full = model(tokens, training=False).numpy()
    generator = get_model_type("lstm").token_generator(model, config)
    state = generator.initial_state(2)
    for t in range(tokens.shape[1]):
        logits, state = generator.step(tf.constant(tokens[:, t]), state)
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-5)


def test_generate_is_compiled_once_seeded_and_never_samples_specials(model_and_config):
    model, config = model_and_config
    generator = get_model_type("lstm").token_generator(model, config)

    def run(primer, steps, seed, temperature=1.0, top_k=0, top_p=1.0):
        return generator.generate(tf.constant(primer, tf.int32), tf.constant(steps), tf.constant(temperature),
                                  tf.constant(top_k), tf.constant(top_p), tf.constant(seed)).numpy()

    first = run([[EOS_ID]] * 3, 40, seed=5)
    assert first.shape == (3, 40) and not np.isin(first, [PAD_ID, EOS_ID]).any()
    np.testing.assert_array_equal(first, run([[EOS_ID]] * 3, 40, seed=5))
    assert not np.array_equal(first, run([[EOS_ID]] * 3, 40, seed=6))
    run([[EOS_ID, 5, 6, 7]], 10, seed=1, temperature=0.7, top_k=5, top_p=0.9)
    assert generator.generate.experimental_get_tracing_count() == 1


def test_checkpoint_reloads_to_the_same_outputs(tmp_path, model_and_config):
    model, _ = model_and_config
    tokens = np.random.default_rng(2).integers(2, VOCAB, (2, 7)).astype("int32")
    save_model(model, tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(tokens).numpy(), model(tokens).numpy(), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]  # no temporary left behind
