"""Tests of the GAN keras.Model: networks, a training step, saving and resume state, mixed precision, replicas."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_helpers import GAN_TYPE, NUMERIC, PIANOROLL, real_batch, tiny_gan
from zoo.core.checkpoints import load_model, save_model
from zoo.families.gan.gan_model import GAN


@pytest.mark.parametrize("encoding, shape", [(PIANOROLL, (32, 48)), (NUMERIC, (10, 37))], ids=["pianoroll", "numeric"])
def test_shapes(encoding, shape):
    model = tiny_gan(encoding)
    out = model(np.zeros((3, 16), "float32"))
    assert out.shape == (3, *shape, 1) and out.dtype == "float32"
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0
    logits = model.discriminator(real_batch(shape, 3))
    assert logits.shape == (3, 1) and logits.dtype == "float32"
    # The hidden dense layer of the discriminator head exists only with --gan_num_dense_layers > 1.
    assert [layer.name for layer in model.discriminator.layers if "dense" in layer.name] == ["sn_dense_0"]
    plain = tiny_gan(encoding, gan_spectral_norm=0, gan_num_dense_layers=1)
    assert [layer.name for layer in plain.discriminator.layers if "dense" in layer.name] == []


def test_one_step_trains_both_networks_and_reports_the_losses():
    model = tiny_gan()
    before_g, before_d = model.generator.get_weights(), model.discriminator.get_weights()
    data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 16)).batch(8)
    history = model.fit(data, validation_data=data, epochs=1, verbose=0).history
    assert {"loss", "g_loss", "d_loss", "d_real_accuracy", "d_fake_accuracy", "val_loss", "val_g_loss"} <= set(history)
    # `loss` is the pitch profile gap: an untrained generator sounds every pitch about half the time.
    assert 0.2 < history["val_loss"][0] < 0.6
    assert all(math.isfinite(v[0]) for v in history.values())
    assert all(not np.allclose(a, b) for a, b in zip(before_g, model.generator.get_weights()))
    assert all(not np.allclose(a, b) for a, b in zip(before_d, model.discriminator.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == int(model.d_optimizer.iterations.numpy()) == 2


def test_reload_gives_the_same_generator_and_resume_restores_both_optimizers(tmp_path):
    model = tiny_gan(loss_function="mean_squared_error", gan_binarize="none")
    data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 8)).batch(4)
    model.fit(data, epochs=1, verbose=0)
    z = np.random.default_rng(1).normal(size=(2, 16)).astype("float32")
    save_model(model, tmp_path / "gan.keras")
    reloaded = load_model(tmp_path / "gan.keras")
    assert isinstance(reloaded, GAN) and reloaded.loss_function == "mean_squared_error"
    np.testing.assert_allclose(reloaded(z).numpy(), model(z).numpy(), atol=1e-6)
    np.testing.assert_allclose(reloaded.discriminator(real_batch((32, 48), 2)).numpy(),
                               model.discriminator(real_batch((32, 48), 2)).numpy(), atol=1e-5)

    model.save_weights(tmp_path / "backup.weights.h5")
    fresh = tiny_gan(loss_function="mean_squared_error", gan_binarize="none")
    GAN_TYPE.build_optimizer_state(fresh)  # what the trainer calls before loading a backup
    fresh.load_weights(tmp_path / "backup.weights.h5")
    for ours, theirs in [(fresh.optimizer, model.optimizer), (fresh.d_optimizer, model.d_optimizer)]:
        assert len(ours.variables) == len(theirs.variables) > 2
        for a, b in zip(ours.variables, theirs.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mixed_float16_wraps_both_optimizers():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_gan()
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 4)).batch(4)
        history = model.fit(data, epochs=1, verbose=0).history
        assert math.isfinite(history["loss"][0]) and model(np.zeros((1, 16), "float32")).dtype == "float32"
        assert model.discriminator(real_batch((32, 48), 1)).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


MIRRORED_SCRIPT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
sys.path.insert(0, "tests/families/gan")
from gan_helpers import GAN_TYPE, PIANOROLL, TINY, real_batch
config = {**TINY, "optimizer": "sgd", "learning_rate": 0.1, "gan_binarize": "none", "gan_dropout_prob": None}
norms = []
for strategy in [tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])]:
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = GAN_TYPE.build(config, PIANOROLL)
        GAN_TYPE.compile(model, config)
    before = model.discriminator.get_weights()
    model.fit(tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 8)).batch(8), epochs=1, verbose=0)
    norms.append(np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(model.discriminator.get_weights(), before))))
print("UPDATE_NORMS", norms[0], norms[1])
"""


def test_two_replicas_take_the_same_size_of_step():
    """Losses are divided by the replicas: one batch on 2 logical CPUs moves the discriminator as far as on one
    (without the division the summed replica gradients would double the step)."""
    import subprocess
    import sys

    from helpers import ROOT

    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=240)
    line = next((l for l in result.stdout.splitlines() if l.startswith("UPDATE_NORMS")), None)
    assert line is not None, result.stderr[-2000:]
    one, mirrored = map(float, line.split()[1:])
    assert 0.8 < mirrored / one < 1.25, (one, mirrored)
