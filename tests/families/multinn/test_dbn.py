"""The DBN encoder: shapes, Hinton's bias init, CD-k pre-training through Model.fit lowers reconstruction error
(on synthetic patterns, and on real chorale voices, where CD-k used to stay at the independent-Bernoulli level)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from helpers import chorale_paths

from zoo.families.multinn.multitrack_encoding import MultitrackEncoding
from zoo.families.multinn.dbn import Dbn, xavier_stddev
from zoo.families.multinn.multinn_model import MultiNN
from zoo.music.io import load_score


def patterns(n: int, seed: int = 0) -> np.ndarray:
    """[n, 2, 12, 2] rolls: each step one of four fixed patterns per track, with 5% flipped bits."""
    rng = np.random.default_rng(seed)
    prototypes = (np.random.default_rng(42).random((4, 12)) < 0.4).astype("float32")
    picks = prototypes[rng.integers(0, 4, size=(n, 2, 2))]                   # [n, 2, 2, 12]
    flips = rng.random(picks.shape) < 0.05
    return np.abs(picks - flips).transpose(0, 1, 3, 2).astype("float32")


def test_encode_decode_shapes_and_binary_samples():
    dbn = Dbn(12, [8, 4])
    dbn.build()
    h, p_h = dbn.encode(patterns(3).reshape(-1, 12)[:5], tf.constant([1, 2]))
    assert h.shape == (5, 4) and p_h.shape == (5, 4) and set(np.unique(h.numpy())) <= {0.0, 1.0}
    v, p_v = dbn.decode(h, tf.constant([1, 2]))
    assert v.shape == (5, 12) and set(np.unique(v.numpy())) <= {0.0, 1.0}
    assert 0.0 < float(tf.reduce_min(p_v)) and float(tf.reduce_max(p_v)) < 1.0
    assert Dbn.from_config(dbn.get_config()).hidden_units == [8, 4]


def test_hinton_visible_bias_init():
    dbn = Dbn(3, [2])
    dbn.build()
    dbn.init_visible_bias(np.array([0.5, 0.1, 0.0]))
    np.testing.assert_allclose(dbn.rbms[0].visible_bias.numpy(), [0.0, np.log(0.1 / 0.9), np.log(1e-6)], atol=1e-4)


def test_pretraining_lowers_reconstruction_error_and_leaves_generators_alone():
    keras.utils.set_random_seed(0)
    model = MultiNN(12, 2, "jamming", "rnn_nade", num_hidden=4, rnn_units=[4], encoder="dbn", encoder_hidden=[16, 8],
                    stage="encoders")
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(5e-2))
    data = patterns(64)
    flat = data.transpose(0, 1, 3, 2).reshape(-1, 12)

    def recon():
        return float(np.mean([dbn.reconstruction_loss(flat).numpy().mean() for dbn in model.encoders]))

    generator_weights = [w.copy() for g in model.generators for w in g.get_weights()]
    before = recon()
    dataset = tf.data.Dataset.from_tensor_slices((data, np.ones((64, 2), "float32"))).batch(16).repeat()
    history = model.fit(dataset, steps_per_epoch=150, epochs=1, verbose=0).history
    assert set(history) == {"loss", "cd_0", "cd_1"}
    assert recon() < 0.75 * before  # from 8.3 nats a step toward ~3.4 (the cost of the 5% noise)
    after = [w for g in model.generators for w in g.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(generator_weights, after))


def chorale_windows(paths: list[str], steps: int) -> np.ndarray:
    """float32 [N, steps, 48, 4]: non-overlapping windows of the chorales' per-voice rolls (MIDI 36..83, 16ths)."""
    encoding = MultitrackEncoding("parts:4", lowest_pitch=36, highest_pitch=84, steps_per_beat=4, steps_per_model_step=1)
    windows = []
    for path in paths:
        roll = encoding.encode(load_score(path)).astype("float32")
        windows += [roll[start:start + steps] for start in range(0, len(roll) - steps + 1, steps)]
    return np.stack(windows)


def test_kernels_start_xavier_sized():
    dbn = Dbn(48, [32, 16])
    dbn.build()
    for rbm, (fan_in, fan_out) in zip(dbn.rbms, [(48, 32), (32, 16)]):
        expected = xavier_stddev(fan_in, fan_out)
        assert abs(float(np.std(rbm.kernel.numpy())) - expected) < 0.3 * expected


def test_pretraining_on_real_chorale_voices_beats_the_independent_level():
    """About one note of ~44 pitches on per frame: with 0.01 kernels and a binary negative phase the held-out
    reconstruction loss stayed at the independent level (3.55 -> 3.56); now it falls to about 1.0 nat."""
    paths = chorale_paths()
    train = chorale_windows([p for p in paths if "bwv1.6" not in p][:10], 16)   # bwv1.6 has 5 parts
    held_out = chorale_windows(paths[12:], 16).transpose(0, 1, 3, 2).reshape(-1, 4, 48)  # [frames, voice, pitch]
    keras.utils.set_random_seed(0)
    model = MultiNN(48, 4, "composer", "rnn_nade", num_hidden=4, rnn_units=[4], encoder="dbn", encoder_hidden=[32, 16],
                    stage="encoders")
    model.build()
    flat = train.transpose(0, 1, 3, 2).reshape(-1, 4, 48)
    for k, dbn in enumerate(model.encoders):   # Hinton's visible-bias init, as the model type does
        dbn.init_visible_bias(flat[:, k].mean(axis=0))
    model.compile(optimizer=keras.optimizers.Adam(5e-2))

    def recon():  # each voice's DBN on that voice's held-out frames
        return float(np.mean([dbn.reconstruction_loss(held_out[:, k]).numpy().mean()
                              for k, dbn in enumerate(model.encoders)]))

    before = recon()
    on_rate = flat.mean(axis=0)   # [voice, pitch]
    log_loss = held_out * np.log(1e-6 + on_rate) + (1 - held_out) * np.log(1e-6 + 1 - on_rate)
    independent = float(np.mean(-np.sum(log_loss, -1)))
    dataset = tf.data.Dataset.from_tensor_slices((train, np.ones(train.shape[:2], "float32"))).shuffle(
        len(train), seed=0).batch(8).repeat()
    model.fit(dataset, steps_per_epoch=120, epochs=1, verbose=0)
    after = recon()
    # The independent-Bernoulli level (each pitch's own on-rate) is 3.56 nats a frame here.
    assert after < 0.5 * independent and after < 0.5 * before, (before, independent, after)
