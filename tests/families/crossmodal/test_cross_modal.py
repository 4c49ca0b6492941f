"""Cross-modal VAEs: likelihoods, the joint train step, save/reload, and the command lines end to end."""
import wave

import keras
import numpy as np
import pytest

from zoo.cli import parse_training_args, run_cli, training_main, zoo_main
from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type
from zoo.data.dataset import TrainingData, load_split
from zoo.encodings import encoding_from_config
from zoo.families.crossmodal.crossmodal_layers import gaussian_kl
from zoo.music import soundfont

pytestmark = pytest.mark.skipif(not soundfont.available() or soundfont.pip_soundfont() is None,
                                reason="the notes data needs midirenderer and pretty_midi (requirements.txt)")
TINY = ["--hidden_dims_1", "32", "--hidden_dims_2", "16", "--dims", "4", "--adv_dim", "8"]


@pytest.fixture(scope="module")
def notes_data(tmp_path_factory):
    """Flute and violin, every 6th pitch at p and ff: about 30 notes, split by note."""
    out = tmp_path_factory.mktemp("notes")
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "Violin", "--pitch_step",
                              "6", "--dynamics", "p", "ff", "--valid_fraction", "0.2", "--test_fraction", "0.2",
                              "-o", str(out)]) == 0
    return out


def config_for(notes_data, *flags):
    args = parse_training_args(["-m", "crossmodal", "-n", "x", "-p", str(notes_data), "--instruments", "Flute",
                                "Violin", *TINY, *flags])
    return get_model_type("crossmodal").check_args(args)


def test_l2_replaces_the_kl_cross_terms(notes_data):
    model_type = get_model_type("crossmodal")
    for regularization in ("kld", "l2"):
        config = config_for(notes_data, "--regularization_type", regularization, "--cross_2", "3")
        model = model_type.build(config, encoding_from_config(load_split(notes_data / "train.pkl").encoding))
        x = np.random.default_rng(1).normal(size=(5, 410)).astype(np.float32)
        y = np.zeros((5, model.symbol_dim), np.float32)
        y[:, 0] = 1
        terms, _ = model.losses_of(x, y, training=False)
        zs, vs = model.encode_signal(x)
        zy, vy = model.encode_symbol(y)
        if regularization == "l2":
            expected = 13 * np.mean(np.sum((zs - zy) ** 2, axis=-1))
        else:
            expected = np.mean(10 * gaussian_kl(zs, vs, zy, vy) + 3 * gaussian_kl(zy, vy, zs, vs))
        np.testing.assert_allclose(float(terms["cross"]), expected, rtol=1e-4)


def test_adversarial_training_step_and_reload(notes_data, tmp_path):
    model_type = get_model_type("crossmodal")
    config = config_for(notes_data, "--adversarial", "1", "--random_mode", "bernoulli", "-b", "8")
    train = load_split(notes_data / "train.pkl")
    valid = load_split(notes_data / "valid.pkl")
    encoding = encoding_from_config(train.encoding)
    train_ds, valid_ds, _ = model_type.datasets(TrainingData(train, valid, {}, train.encoding), encoding, config)
    keras.utils.set_random_seed(0)
    model = model_type.build(config, encoding)
    model_type.compile(model, config)
    discriminator_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    encoder_before = model.signal_encoder.trainable_weights[0].numpy().copy()
    history = model.fit(train_ds.take(3), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "adv_discriminator" in history.history
    assert np.isfinite(float(model.test_step(next(iter(valid_ds)))["adv_discriminator"]))
    assert not np.allclose(encoder_before, model.signal_encoder.trainable_weights[0].numpy())
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(discriminator_before, model.discriminator.trainable_weights))
    assert int(model.d_optimizer.iterations) == 3 and int(model.optimizer.iterations) == 3
    # The VAE optimizer never holds discriminator slots: its variables cover the VAE only.
    assert len(model.optimizer.variables) == 2 + 2 * len(model.vae_variables())

    save_model(model, tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    x, y = next(iter(valid_ds))
    first, second = model({"signal": x, "symbol": y}), again({"signal": x, "symbol": y})
    for key in first:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-5, atol=1e-6)


def _write_wav(path, samples, rate=22050, channels=1):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm.tobytes())


@pytest.fixture(scope="module")
def trained(notes_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("crossmodal-runs")
    weights = root / "weights"
    argv = ["-m", "crossmodal", "-n", "cm", "-p", str(notes_data), "-w", str(weights), "-t", str(root / "logs"),
            "--instruments", "Flute", "Violin", "--random_mode", "bernoulli", "-e", "2", "-b", "16", "--adversarial", "1",
            "--pitch_shift", "1",
            "--steps_per_epoch", "3", "--plot_epochs", "2", "--save_epochs", "1", "--sample_every", "2",
            "--sample_length", "16", "--verbose", "0", *TINY]
    assert run_cli(training_main, argv) == 0
    return weights


@pytest.fixture
def generate():
    """generate.py through run_cli on the trained run."""
    import zoo.cli as cli

    return lambda weights, *flags: cli.run_cli(cli.generate_main, ["-n", "cm", "-w", str(weights), *flags])


def test_training_writes_checkpoints_plots_and_samples(trained):
    run = trained / "cm"
    assert (run / "model.keras").is_file() and (run / "checkpoints" / "epoch-0002.keras").is_file()
    assert (run / "samples" / "reconstruction-epoch-0002.png").is_file()
    assert (run / "samples" / "epoch-0002.mid").is_file()


def test_resume_and_load_continue_from_saved_state(trained, notes_data, capsys):
    import json

    common = ["-m", "crossmodal", "-p", str(notes_data), "-w", str(trained), "-t", str(trained / "logs"),
              "--instruments", "Flute", "Violin", "-b", "16", "--steps_per_epoch", "2", "--sample_every", "0",
              "--plot_epochs", "0", "--verbose", "0", *TINY]
    with _no_skipped_optimizer_warning():
        assert run_cli(training_main, ["-n", "cm", "--resume_auto", "-e", "3", *common]) == 0
    assert json.loads((trained / "cm" / "backup" / "state.json").read_text())["epoch"] == 3
    assert "resuming 'cm' from its backup after epoch 2" in capsys.readouterr().err
    # --load maps onto --init_from: another seed and a learning rate too small to move the weights keep the
    # source's VAEs; the source's discriminator is dropped (this run has none).
    source = trained / "cm" / "checkpoints" / "epoch-0001.keras"
    assert run_cli(training_main, ["-n", "cm2", "--load", "cm", "--load_epoch", "1", "-e", "1", "--seed", "1",
                                   "--learning_rate", "1e-9", *common]) == 0
    assert "epoch-0001.keras" in capsys.readouterr().err
    assert json.loads((trained / "cm2" / "config.json").read_text())["args"]["init_from"] == str(source)
    loaded, start = load_model(trained / "cm2" / "model.keras"), load_model(source)
    assert not loaded.adversarial and start.adversarial
    for name, part in loaded.vae_layers().items():
        for a, b in zip(part.trainable_weights, start.vae_layers()[name].trainable_weights, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)

    def fails(flags, message):
        capsys.readouterr()
        assert run_cli(training_main, [*common, "-e", "1", *flags]) == 2, flags
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err

    fails(["-n", "cm3", "--load", "cm", "--load_epoch", "9"], "no checkpoint of epoch 9 (it has: epoch-0001.keras")
    fails(["-n", "cm4", "--load", "cm", "--dims", "5"], "--init_from cm: its VAEs do not have this run's sizes")
    fails(["-n", "cm5", "--load", "cm", "--init_from", "cm2"], "name different starting weights")


def _no_skipped_optimizer_warning():
    """Fails when Keras skips loading an optimizer's saved state (both optimizers must resume)."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def check():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        skipped = [str(w.message) for w in caught if "Skipping variable loading for optimizer" in str(w.message)]
        assert not skipped, skipped

    return check()


def test_binary_labels_train_with_a_bernoulli_likelihood(notes_data):
    model_type = get_model_type("crossmodal")
    config = config_for(notes_data, "--label_type", "binary", "--zero_extra_class", "0", "-b", "8")
    train = load_split(notes_data / "train.pkl")
    encoding = encoding_from_config(train.encoding)
    model = model_type.build(config, encoding)
    model_type.compile(model, config)
    train_ds, _, _ = model_type.datasets(TrainingData(train, train, {}, train.encoding), encoding, config)
    x, y = next(iter(train_ds))
    assert model.symbol_dim == 2 * 26 and set(np.unique(y.numpy())) == {0.0, 1.0}
    logits = model.decode_symbol(model.encode_symbol(y)[0])
    expected = np.sum(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))), axis=-1)
    np.testing.assert_allclose(model.symbol_nll(y, logits), expected, rtol=1e-5)
    before = model.symbol_logits.kernel.numpy().copy()
    assert np.isfinite(float(model.train_step((x, y))["loss"]))  # eager: no graph to trace
    assert not np.allclose(before, model.symbol_logits.kernel.numpy())


def test_every_play_mode_writes_its_files(trained, generate, tmp_path, capsys):
    out = ["--output_dir", str(tmp_path), "--num_outputs", "1"]
    assert generate(trained, "--mode", "info", *out) == 0
    assert "signal VAE: input 410" in (tmp_path / "cm-info-s0-0.txt").read_text()
    assert generate(trained, "--mode", "trajectory", "--trajectory", "helix", "--iterations", "3", *out,
                    "--num_outputs", "2") == 0
    assert (tmp_path / "cm-trajectory-s0-1-helix.wav").is_file()
    assert generate(trained, "--mode", "sequence", "--sequence", "4:3:2+-", "5:0:4+4:3:1", "--n_steps", "5", *out,
                    "--num_outputs", "2", "--latent_sample", "1") == 0
    assert (tmp_path / "cm-sequence-s0-1.wav").is_file()
    assert generate(trained, "--mode", "morphing", "--sequence", "4:3:2+-", "5:0:4+4:3:1", "6:1:1+-",
                    "--interp_order", "3", "--n_steps", "4", "--iterations", "3", *out) == 0
    with wave.open(str(tmp_path / "cm-morphing-s0-0.wav")) as file:
        assert file.getframerate() == 22050 and file.getnchannels() == 1 and file.getnframes() >= 9 * 680
    t = np.arange(2 * 44100) / 44100  # one second of A4, then one of silence, at another rate
    _write_wav(tmp_path / "a4.wav", np.where(t < 1, 0.3 * np.sin(2 * np.pi * 440 * t), 0.0), rate=44100)
    assert generate(trained, "--mode", "audio", "--input", str(tmp_path / "a4.wav"), "--iterations", "3", *out) == 0
    assert "resampling" in capsys.readouterr().err
    assert {p.name for p in tmp_path.glob("cm-audio-s0-0*")} == {"cm-audio-s0-0-transcription.mid",
                                                                 "cm-audio-s0-0-resynthesis.wav", "cm-audio-s0-0.png"}
    from zoo.music.midi import read_midi, write_midi

    transcribed = read_midi(tmp_path / "cm-audio-s0-0-transcription.mid")  # at 120 qpm: 2 x resolution ticks a second
    assert all(track.notes["start"].max(initial=0) < 1.05 * 2 * transcribed.resolution for track in transcribed.tracks)
    from zoo.music.score import Score, Track, make_notes

    write_midi(Score(tracks=[Track(notes=make_notes([72, 74], [0, 480], [480, 960], [40, 100]))]), tmp_path / "in.mid")
    assert generate(trained, "--mode", "midi", "--input", str(tmp_path / "in.mid"), "--iterations", "3", *out) == 0
    assert (tmp_path / "cm-midi-s0-0.wav").is_file()


def test_bad_play_inputs_get_one_line_and_exit_code_2(trained, generate, tmp_path, capsys):
    from zoo.music.midi import write_midi
    from zoo.music.score import Score, Track, make_notes

    t = np.arange(4410) / 22050
    _write_wav(tmp_path / "stereo.wav", np.repeat(0.3 * np.sin(2 * np.pi * 440 * t), 2), channels=2)
    _write_wav(tmp_path / "silent.wav", np.zeros(4410))
    write_midi(Score(tracks=[Track(notes=make_notes([30], [0], [480]))]), tmp_path / "low.mid")
    cases = [
        (["--mode", "audio", "--input", str(tmp_path / "stereo.wav")], "2 channels"),
        (["--mode", "audio", "--input", str(tmp_path / "silent.wav")], "silent"),
        (["--mode", "audio", "--input", str(tmp_path / "missing.wav")], "no such file"),
        (["--mode", "midi", "--input", str(tmp_path / "low.mid")], "outside the Flute's range 60-96"),
        (["--mode", "sequence", "--sequence", "4:3:9+-"], "OCTAVE:PITCH:DYNAMICS"),
        (["--mode", "sequence", "--sequence", "4:3:2"], "joined by '+'"),
        (["--mode", "midi"], "needs --input"),
    ]
    for flags, message in cases:
        assert generate(trained, *flags, "--output_dir", str(tmp_path)) == 2, flags
        err = capsys.readouterr().err
        assert message in err and err.strip().startswith("error:") and err.count("\n") == 1, (flags, err)


def test_bad_training_flags_are_refused(notes_data, tmp_path, capsys):
    base = ["-m", "crossmodal", "-n", "bad", "-p", str(notes_data), "-w", str(tmp_path), "-t", str(tmp_path), *TINY]
    cases = [
        (["--instruments", "Kazoo"], "unknown instrument 'Kazoo'"),
        (["--instruments", "Piano"], "no Piano notes"),
        (["--dims", "8", "4", "--hidden_dims_1", "8", "8", "8"], "--hidden_dims_1 takes one value or one per --dims value"),
        (["--random_mode", "bernoulli", "--zero_extra_class", "0"], "need --zero_extra_class 1"),
        (["--labels", "pitch", "tempo"], "--labels takes distinct names"),
        (["--load", "nothing"], "no run named 'nothing'"),
        (["--load_epoch", "1"], "give --load"),
        (["--cuda", "7"], "--cuda 7"),
        (["--instruments", "Flute", "--frames", "10", "90"], "reaches past the 41 frames"),
        (["--pitch_shift", "-1"], "argument --pitch_shift: must be 0 or more (got -1)"),
    ]
    for flags, message in cases:
        assert run_cli(training_main, base + flags) == 2, flags
        assert message in capsys.readouterr().err, flags


def test_export_has_transcribe_and_synthesise_endpoints(trained, tmp_path):
    import tensorflow as tf

    assert run_cli(zoo_main, ["export", "-n", "cm", "-w", str(trained), "--output", str(tmp_path / "export")]) == 0
    exported = tf.saved_model.load(str(tmp_path / "export"))
    model = load_model(trained / "cm" / "checkpoints" / "best.keras")
    frames = np.random.default_rng(0).normal(size=(3, 410)).astype(np.float32)
    np.testing.assert_allclose(exported.transcribe(frames), model.decode_symbol(model.encode_signal(frames)[0]),
                               rtol=1e-4, atol=1e-5)
    labels = np.zeros((2, model.symbol_dim), np.float32)
    assert exported.synthesise(labels).shape == (2, 410)


def test_evaluate_writes_tables_figures_and_the_baseline(trained, generate, tmp_path, capsys):
    assert run_cli(zoo_main, ["evaluate", "-n", "cm", "-w", str(trained), "--classifier_epochs", "2",
                              "--nb_passes", "2", "--generate_audio", "1"]) == 0
    analysis = trained / "cm" / "analysis"
    for name in ("metrics.csv", "confusion-transfer.png", "confusion-reconstruction.png", "latent.png"):
        assert (analysis / name).is_file(), name
    rows = (analysis / "metrics.csv").read_text().splitlines()
    assert rows[0] == "direction,metric,label,value"
    directions = {row.split(",")[0] for row in rows[1:]}
    assert directions == {"reconstruction", "transfer", "baseline"}
    values = {tuple(row.split(",")[:3]): float(row.split(",")[3]) for row in rows[1:]}
    for label in ("octave", "pitch", "dynamics"):
        assert 0 <= values[("transfer", "classif", label)] <= values[("transfer", "classif_inv", label)] <= 1
        assert values[("transfer", "symbolic_ll", label)] < 0
    assert list(analysis.glob("test-0-*-from-labels.wav"))
    # info names the last evaluation's numbers per direction
    assert generate(trained, "--mode", "info", "--output_dir", str(tmp_path)) == 0
    info = (tmp_path / "cm-info-s0-0.txt").read_text()
    transfer = next(line for line in info.splitlines() if line.strip().startswith("transfer:"))
    assert f"classif {values[('transfer', 'classif', 'octave')]:.3f} / " in transfer
    assert "baseline: symbolic_ll" in info
