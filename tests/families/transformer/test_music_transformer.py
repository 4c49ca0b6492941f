"""The Music Transformer model type: relative attention, cached generation, saving, and runs on real data."""
import csv
import json
import math
import subprocess
import sys
import textwrap
import types

import keras
import mido
import numpy as np
import pytest
import tensorflow as tf

from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type
from zoo.core.sampling import SMALL_SAMPLING_BATCH
from zoo.encodings import EOS_ID, PAD_ID
from zoo.families.transformer.music_transformer import TransformerGenerator
from zoo.families.transformer.relative_attention import RelativeSelfAttention, skew

VOCAB = 40
CONFIG = dict(embed_dim=16, num_heads=2, ff_dim=24, transformer_dropout_prob=0.1, transformer_num_hidden_dense=1,
              transformer_hidden_dense_size=16, transformer_hidden_dense_activation="relu",
              transformer_num_layers=2, max_seq_len=8, seq_len=8)
TINY_FLAGS = ["-m", "transformer", "--embed_dim", "16", "--num_heads", "2", "--ff_dim", "32",
              "--transformer_num_layers", "2", "--transformer_num_hidden_dense", "1",
              "--transformer_hidden_dense_size", "32", "-b", "16", "--sample_every", "0", "--verbose", "0"]


def build(config=CONFIG):
    keras.utils.set_random_seed(0)
    return get_model_type("transformer").build(config, types.SimpleNamespace(vocab_size=VOCAB))


def random_tokens(seed, shape):
    return np.random.default_rng(seed).integers(2, VOCAB, shape).astype("int32")


def test_shapes_and_float32_logits():
    logits = build()(random_tokens(0, (3, 11)))
    assert logits.shape == (3, 11, VOCAB) and logits.dtype == "float32"


def test_float32_logits_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build()
        logits = model(random_tokens(0, (2, 5)))
        assert logits.dtype == "float32" and np.isfinite(logits.numpy()).all()
        generator = get_model_type("transformer").token_generator(model, CONFIG)
        state = generator.initial_state(2)
        assert state[1][0][0].dtype == tf.bfloat16
        step_logits, _ = generator.step(tf.constant([3, 4]), state)
        assert step_logits.dtype == tf.float32
        np.testing.assert_allclose(step_logits.numpy(), model(np.array([[3], [4]], np.int32))[:, 0].numpy(), atol=0.1)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_changing_a_future_token_leaves_earlier_logits_alone():
    model = build()
    tokens = random_tokens(1, (2, 12))
    changed = tokens.copy()
    changed[:, 7] = (changed[:, 7] + 5) % (VOCAB - 2) + 2
    before, after = model(tokens, training=False).numpy(), model(changed, training=False).numpy()
    np.testing.assert_allclose(before[:, :7], after[:, :7], atol=1e-6)
    assert np.abs(before[:, 7:] - after[:, 7:]).max() > 1e-4


def test_skewing_equals_the_naive_relative_gather():
    rng = np.random.default_rng(2)
    batch, heads, length, depth = 2, 3, 9, 4
    query = rng.normal(size=(batch, heads, length, depth)).astype("float32")
    table = rng.normal(size=(heads, length, depth)).astype("float32")  # row r: distance r - (length - 1)
    skewed = skew(tf.einsum("bhid,hjd->bhij", query, table)).numpy()
    for i in range(length):
        for j in range(i + 1):
            naive = np.einsum("bhd,hd->bh", query[:, :, i], table[:, j - i + length - 1])
            np.testing.assert_allclose(skewed[:, :, i, j], naive, rtol=1e-5, atol=1e-5)


def test_attention_is_the_relative_formula_with_a_banded_causal_mask():
    """The layer's full pass against a naive loop over (i, j), including sequences longer than max_seq_len."""
    keras.utils.set_random_seed(3)
    layer = RelativeSelfAttention(num_heads=2, key_dim=3, max_seq_len=4)
    x = np.random.default_rng(3).normal(size=(1, 7, 5)).astype("float32")
    out = layer(x).numpy()
    kernel, bias = layer.qkv_kernel.numpy(), layer.qkv_bias.numpy()
    q, k, v = (np.einsum("ld,dhe->hle", x[0], kernel[:, n]) + bias[n][:, None] for n in range(3))
    table = layer.relative_embeddings.numpy()
    attended = np.zeros_like(q)
    for i in range(7):
        keys = [j for j in range(7) if i - 4 < j <= i]
        scores = np.stack([np.einsum("hd,hd->h", q[:, i], k[:, j] + table[:, j - i + 3]) for j in keys], -1) / np.sqrt(3)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attended[:, i] = np.einsum("hs,hsd->hd", weights, v[:, keys])
    expected = np.einsum("hld,hde->le", attended, layer.output_kernel.numpy()) + layer.output_bias.numpy()
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


@pytest.mark.parametrize("xla", [False, True], ids=["graph-step", "xla-step"])
@pytest.mark.parametrize("max_seq_len", [8, 150], ids=["one-span", "spans-64-128-150"])
def test_cached_steps_equal_the_full_forward_pass_past_max_seq_len(xla, max_seq_len):
    config = {**CONFIG, "max_seq_len": max_seq_len}
    model = build(config)
    # Past max_seq_len the cache wraps around; with M = 150 the steps read spans of 64, 128 and 150 slots.
    tokens = random_tokens(4, (2, max_seq_len + 12))
    full = model(tokens, training=False).numpy()
    generator = TransformerGenerator(model, config, xla=xla)
    assert generator.blocks[0].attention.attention_spans() == ([8] if max_seq_len == 8 else [64, 128, 150])
    state = generator.initial_state(2)
    for t in range(tokens.shape[1]):
        logits, state = generator.step(tf.constant(tokens[:, t]), state)
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-5, err_msg=f"position {t}")


def test_generate_is_compiled_once_seeded_and_never_samples_specials():
    model = build()
    generator = get_model_type("transformer").token_generator(model, CONFIG)

    def run(primer, steps, seed, temperature=1.0, top_k=0, top_p=1.0):
        return generator.generate(tf.constant(primer, tf.int32), tf.constant(steps), tf.constant(temperature),
                                  tf.constant(top_k), tf.constant(top_p), tf.constant(seed)).numpy()

    first = run([[EOS_ID]] * 3, 30, seed=5)
    assert first.shape == (3, 30) and not np.isin(first, [PAD_ID, EOS_ID]).any()
    np.testing.assert_array_equal(first, run([[EOS_ID]] * 3, 30, seed=5))
    assert not np.array_equal(first, run([[EOS_ID]] * 3, 30, seed=6))
    greedy = run([[EOS_ID, 5, 6, 7]], 12, seed=1, temperature=0.0)
    np.testing.assert_array_equal(greedy, run([[EOS_ID, 5, 6, 7]], 12, seed=2, temperature=0.0))
    run([[EOS_ID, 5, 6]], 10, seed=1, temperature=0.7, top_k=5, top_p=0.9)
    assert generator.generate.experimental_get_tracing_count() == 1


def test_greedy_generation_matches_argmax_of_full_passes():
    """The compiled loop with its cache continues a primer as re-running the whole prefix would."""
    model = build()
    generator = get_model_type("transformer").token_generator(model, CONFIG)
    primer = [EOS_ID, 7, 9, 11]
    ids = generator.generate(tf.constant([primer]), tf.constant(14), tf.constant(0.0), tf.constant(0),
                             tf.constant(1.0), tf.constant(0)).numpy()[0]
    sequence = list(primer)
    for _ in range(14):
        logits = model(np.array([sequence], np.int32), training=False).numpy()[0, -1]
        logits[[PAD_ID, EOS_ID]] = -np.inf
        sequence.append(int(np.argmax(logits)))
    np.testing.assert_array_equal(ids, sequence[len(primer):])


def test_checkpoint_reloads_to_the_same_outputs(tmp_path):
    model = build()
    tokens = random_tokens(5, (2, 10))
    save_model(model, tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(tokens).numpy(), model(tokens).numpy(), atol=1e-6)
    block = reloaded.get_layer("block_1")
    assert block.attention.relative_embeddings.shape == (2, 8, 8)
    generator = get_model_type("transformer").token_generator(reloaded, CONFIG)
    assert generator.generate(tf.constant([[EOS_ID]]), tf.constant(5), tf.constant(1.0), tf.constant(0),
                              tf.constant(1.0), tf.constant(0)).shape == (1, 5)


@pytest.mark.parametrize("flags, message", [
    (["--embed_dim", "30", "--num_heads", "4"], "--embed_dim 30 is not a multiple of --num_heads 4"),
    (["--transformer_dropout_prob", "1.5"], "argument --transformer_dropout_prob: must be in [0, 1) (got 1.5)"),
    (["--max_seq_len", "0"], "argument --max_seq_len: must be at least 1 (got 0)"),
    (["--transformer_hidden_dense_activation", "nope"], "unknown --transformer_hidden_dense_activation 'nope'"),
    (["--lstm_size", "8"], "--lstm_size is a flag of model type 'lstm'"),
])
def test_bad_flags_are_one_line_errors(tmp_path, capsys, flags, message):
    argv = ["-m", "transformer", "-n", "bad", "-w", str(tmp_path), *flags]
    assert run_cli(training_main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_trains_generates_and_exports_on_real_chorales(tmp_path, event_data):
    weights = tmp_path / "w"
    argv = TINY_FLAGS + ["-n", "mt", "-p", str(event_data), "-w", str(weights), "-t", str(tmp_path / "logs"),
                         "-e", "3", "-s", "32", "--steps_per_epoch", "10", "--learning_rate", "0.002",
                         "--max_seq_len", "40"]
    assert run_cli(training_main, argv) == 0
    config = json.loads((weights / "mt" / "config.json").read_text())
    assert config["model_type"] == "transformer" and config["args"]["max_seq_len"] == 40
    losses = [float(r["val_loss"]) for r in csv.DictReader(open(weights / "mt" / "training_log.csv"))]
    assert len(losses) == 3 and losses[-1] < losses[0] < math.log(390) + 0.1

    # Longer than max_seq_len: the cache slides; a primer from a real chorale.
    out = tmp_path / "out"
    gen = ["-m", "transformer", "-n", "mt", "-w", str(weights), "--num_outputs", "2", "--length", "100",
           "--output_dir", str(out), "--top_p", "0.95", "--seed", "4"]
    assert run_cli(generate_main, gen) == 0
    midis = sorted(out.glob("*.mid"))
    assert len(midis) == 2 and len(list(out.glob("*.wav"))) == 2
    assert [m for m in mido.MidiFile(midis[0]) if m.type == "note_on" and m.velocity > 0]
    primed = tmp_path / "primed"
    assert run_cli(generate_main, gen[:-6] + ["--output_dir", str(primed), "--primer", str(event_data.parent),
                                              "--num_outputs", "1"]) == 2  # a folder is not a primer
    from helpers import chorale_paths

    assert run_cli(generate_main, gen[:-6] + ["--output_dir", str(primed), "--primer", chorale_paths()[0],
                                              "--primer_max_tokens", "40", "--num_outputs", "1",
                                              "--top_k", "8"]) == 0
    assert len(list(primed.glob("*.mid"))) == 1

    assert run_cli(zoo_main, ["export", "-n", "mt", "-w", str(weights), "--output", str(tmp_path / "sm")]) == 0
    script = textwrap.dedent(f"""
        import sys, tensorflow as tf
        m = tf.saved_model.load({str(tmp_path / 'sm')!r})
        logits = m.serve(tf.constant([[1, 5, 9]], tf.int32))
        ids = m.generate(tf.constant([[1], [1]], tf.int32), tf.constant(70), tf.constant(1.0),
                         tf.constant(0), tf.constant(0.95), tf.constant(7))
        assert logits.shape == (1, 3, 390), logits.shape
        assert ids.shape == (2, 70) and int(tf.reduce_min(ids)) >= 2, ids
        assert "zoo" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_trains_and_generates_on_numeric_data(tmp_path, chorale_files):
    from zoo.data.prepare import prepare

    prepare(chorale_files[:8], "numeric", tmp_path / "data", valid_fraction=0.125, test_fraction=0.125,
            progress=False)
    argv = TINY_FLAGS + ["-n", "num", "-p", str(tmp_path / "data" / "train.pkl"), "-w", str(tmp_path / "w"),
                         "-t", str(tmp_path / "logs"), "-d", "numeric", "-e", "1", "-s", "16"]
    assert run_cli(training_main, argv) == 0
    assert json.loads((tmp_path / "w" / "num" / "config.json").read_text())["encoding"]["name"] == "numeric"
    assert run_cli(generate_main, ["-n", "num", "-w", str(tmp_path / "w"), "--num_outputs", "1", "--length", "20",
                                   "--output_dir", str(tmp_path / "out")]) == 0
    midi = mido.MidiFile(next((tmp_path / "out").glob("*.mid")))
    assert len([m for m in midi if m.type == "note_on" and m.velocity > 0]) >= 20


def test_the_default_step_switches_to_xla_above_small_batches_with_the_same_tokens():
    """On CPU the default generator runs graph ops up to SMALL_SAMPLING_BATCH sequences and XLA above."""
    model = build()
    default, graph = TransformerGenerator(model, CONFIG), TransformerGenerator(model, CONFIG, xla=False)
    for batch in (2, SMALL_SAMPLING_BATCH + 2):
        args = (tf.constant([[EOS_ID]] * batch), tf.constant(20), tf.constant(1.0), tf.constant(0), tf.constant(1.0),
                tf.constant(3))
        np.testing.assert_array_equal(default.generate(*args).numpy(), graph.generate(*args).numpy())
