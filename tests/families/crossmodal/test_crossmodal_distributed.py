"""The cross-modal train step under MirroredStrategy on two logical CPUs (in a subprocess: the
devices must be split before TensorFlow starts). Hand-made losses are divided by the replicas, so
one step moves the weights as far as on one device, not twice as far."""
import json
import os
import subprocess
import sys

from helpers import ROOT

SCRIPT = r"""
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from zoo.families.crossmodal.crossmodal_vae import CrossModalVAE

rng = np.random.default_rng(0)
x = rng.normal(size=(16, 410)).astype("float32")
y = np.eye(29, dtype="float32")[rng.integers(0, 29, 16)]
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
result = {}
for name, strategy in (("one", tf.distribute.get_strategy()), ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = CrossModalVAE(head_sizes=[29], hidden_1=16, hidden_2=8, latent_dim=4, adversarial=True, adv_dim=8,
                              beta_1=0, beta_2=0, cross_1=0)
        model.build()
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    before = model.symbol_logits.kernel.numpy().copy()
    history = model.fit(data, epochs=1, verbose=0)
    result[name] = {"replicas": strategy.num_replicas_in_sync, "loss": history.history["loss"][0],
                    "step": float(np.abs(model.symbol_logits.kernel.numpy() - before).sum())}
print("RESULT" + json.dumps(result))
"""


def test_two_replicas_train_like_one():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    line = [text for text in done.stdout.splitlines() if text.startswith("RESULT")]
    assert line, done.stderr[-2000:]
    result = json.loads(line[0][len("RESULT"):])
    assert result["one"]["replicas"] == 1 and result["two"]["replicas"] == 2
    # The symbol decoder's step depends only on the symbol VAE's cross-entropy (no KL terms here).
    assert 0.7 < result["two"]["step"] / result["one"]["step"] < 1.4, result
