"""End to end on real music: train a tiny LSTM, then generate, export and evaluate from its run folder."""
import csv
import json
import math
import subprocess
import sys
import textwrap

import keras
import mido
import numpy as np
import pytest

from helpers import ROOT, check_reruns_add_outputs, train_args
from zoo.cli import generate_main, run_cli, training_main, zoo_main


def test_run_folder_layout(trained_run):
    weights, name = trained_run
    run = weights / name
    config = json.loads((run / "config.json").read_text())
    assert config["model_type"] == "lstm" and config["encoding"]["name"] == "event"
    assert config["args"]["lstm_size"] == 32 and config["vocab_size"] == 390
    for path in ["model.keras", "checkpoints/best.keras", "checkpoints/last.keras", "backup/state.json",
                 "backup/epoch-0002.weights.h5", "training_log.csv", "samples/epoch-0002.mid",
                 "samples/epoch-0002.wav", "samples/epoch-0002.png"]:
        assert (run / path).is_file(), path
    logs = weights.parent / "logs" / name
    assert list((logs / "train").glob("events.out.tfevents.*")) and list((logs / "validation").glob("events.*"))
    assert list((logs / "samples").glob("events.*"))


def test_training_samples_hold_audio_and_image(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    weights, name = trained_run
    events = EventAccumulator(str(weights.parent / "logs" / name / "samples"), size_guidance={"tensors": 0})
    events.Reload()
    assert {"sample", "pianoroll"} <= set(events.Tags()["tensors"])


def test_loss_goes_down_on_real_data(tmp_path, event_data):
    argv = train_args(**{"-n": "learn", "-p": str(event_data), "-w": str(tmp_path), "-t": str(tmp_path / "logs"),
                         "-e": "4", "--steps_per_epoch": "10", "--learning_rate": "0.01"})
    assert run_cli(training_main, argv) == 0
    rows = list(csv.DictReader(open(tmp_path / "learn" / "training_log.csv")))
    losses = [float(r["val_loss"]) for r in rows]
    assert len(losses) == 4 and losses[-1] < losses[0] < math.log(390) + 0.1


def test_generate_writes_music_other_tools_read(tmp_path, trained_run):
    weights, name = trained_run
    out = tmp_path / "out"
    argv = ["-m", "LSTM", "-n", name, "-w", str(weights), "--num_outputs", "2", "--length", "120",
            "--output_dir", str(out), "--seed", "3"]
    assert run_cli(generate_main, argv) == 0
    midis = sorted(out.glob("*.mid"))
    assert len(midis) == 2 and len(list(out.glob("*.wav"))) == 2 and len(list(out.glob("*.png"))) == 2
    notes = [m for m in mido.MidiFile(midis[0]) if m.type == "note_on" and m.velocity > 0]
    assert notes
    import music21

    assert len(music21.converter.parse(midis[0]).flatten().notes) > 0
    # Same seed, same music.
    again = tmp_path / "again"
    assert run_cli(generate_main, argv[:-4] + ["--output_dir", str(again), "--seed", "3"]) == 0
    assert midis[0].read_bytes() == (again / midis[0].name).read_bytes()


def test_generating_again_never_overwrites(tmp_path, trained_run):
    weights, name = trained_run
    files = check_reruns_add_outputs(["-n", name, "-w", str(weights), "--num_outputs", "2", "--length", "20"],
                                     tmp_path)
    assert sorted(n for n in files if n.endswith(".mid")) == [
        f"{name}-sample-s1-{i}.mid" for i in range(4)] + [f"{name}-sample-s2-{i}.mid" for i in range(2)]
    assert files[f"{name}-sample-s1-2.mid"] == files[f"{name}-sample-s1-0.mid"]  # same seed, same music, new name


def test_generate_continues_a_primer(tmp_path, trained_run, chorale_files):
    weights, name = trained_run
    argv = ["-n", name, "-w", str(weights), "--num_outputs", "1", "--length", "30", "--output_dir", str(tmp_path),
            "--primer", chorale_files[0], "--primer_max_tokens", "40", "--top_k", "8", "--temperature", "0.8"]
    assert run_cli(generate_main, argv) == 0
    assert len(list(tmp_path.glob("*.mid"))) == 1


def test_export_loads_and_generates_without_zoo(tmp_path, trained_run):
    weights, name = trained_run
    assert run_cli(zoo_main, ["export", "-n", name, "-w", str(weights), "--output", str(tmp_path / "sm")]) == 0
    script = textwrap.dedent(f"""
        import sys, tensorflow as tf
        m = tf.saved_model.load({str(tmp_path / 'sm')!r})
        logits = m.serve(tf.constant([[1, 5, 9]], tf.int32))
        ids = m.generate(tf.constant([[1], [1]], tf.int32), tf.constant(25), tf.constant(1.0),
                         tf.constant(0), tf.constant(0.95), tf.constant(7))
        assert logits.shape == (1, 3, 390), logits.shape
        assert ids.shape == (2, 25) and int(tf.reduce_min(ids)) >= 2, ids
        assert "zoo" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
    assert json.loads((tmp_path / "sm" / "encoding.json").read_text())["encoding"]["name"] == "event"


def test_evaluate_reports_nll_and_accuracy(trained_run, capsys):
    weights, name = trained_run
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights)]) == 0
    assert "nll_bits_per_event" in capsys.readouterr().out
    row = list(csv.DictReader(open(weights / name / "evaluation.csv")))[-1]
    nats, bits = float(row["nll_nats_per_event"]), float(row["nll_bits_per_event"])
    assert 0 < nats < math.log(390) + 0.5 and bits == pytest.approx(nats / math.log(2))
    assert 0 <= float(row["accuracy"]) <= 1 and int(row["tokens"]) > 100


@pytest.fixture
def restore_float32():
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains(tmp_path, event_data, precision, restore_float32):
    argv = train_args(**{"-n": "mp", "-p": str(event_data), "-w": str(tmp_path), "-t": str(tmp_path / "logs"),
                         "-e": "1", "--steps_per_epoch": "2", "--precision": precision})
    assert run_cli(training_main, argv) == 0
    assert (tmp_path / "mp" / "model.keras").is_file()


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, event_data):
    script = textwrap.dedent(f"""
        import sys, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from zoo.cli import run_cli, training_main
        sys.exit(run_cli(training_main, {train_args(**{"-n": "mirror", "-p": str(event_data), "-w": str(tmp_path),
                                                      "-t": str(tmp_path / "logs"), "-e": "1",
                                                      "--strategy": "mirrored"})!r}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stderr
    rows = list(csv.DictReader(open(tmp_path / "mirror" / "training_log.csv")))
    assert np.isfinite(float(rows[-1]["loss"]))


def test_numeric_encoding_trains_and_generates(tmp_path, chorale_files):
    from zoo.data.prepare import prepare

    prepare(chorale_files[:8], "numeric", tmp_path / "data", valid_fraction=0.125, test_fraction=0.125,
            progress=False)
    argv = train_args(**{"-n": "num", "-p": str(tmp_path / "data" / "train.pkl"), "-w": str(tmp_path / "w"),
                         "-t": str(tmp_path / "logs"), "-d": "Numeric", "-e": "1", "-s": "16"})
    assert run_cli(training_main, argv) == 0
    assert run_cli(generate_main, ["-n", "num", "-w", str(tmp_path / "w"), "--num_outputs", "1", "--length", "20",
                                   "--output_dir", str(tmp_path / "out")]) == 0
    midi = mido.MidiFile(next((tmp_path / "out").glob("*.mid")))
    onsets = [m for m in midi if m.type == "note_on" and m.velocity > 0]
    assert len(onsets) >= 20  # one event (note or chord) every half quarter note


def test_seed_default_data_path_is_used_when_present(tmp_path, event_data, monkeypatch):
    import shutil

    shutil.copytree(event_data, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_DATA_CACHE")  # the default cache root, data/cache here, must stay unmade
    argv = [a for a in train_args(**{"-n": "seedpath", "-e": "1"})]
    assert run_cli(training_main, argv) == 0
    config = json.loads((tmp_path / "weights" / "seedpath" / "config.json").read_text())
    assert config["data"]["train"] == "data/train.pkl" and config["data"]["test"] == "data/test.pkl"
    assert not (tmp_path / "data" / "cache").exists()


def test_data_mode_must_match_the_pickle(tmp_path, event_data, capsys):
    argv = train_args(**{"-n": "mismatch", "-p": str(event_data), "-w": str(tmp_path), "-d": "numeric"})
    assert run_cli(training_main, argv) == 2
    assert "holds the 'event' encoding" in capsys.readouterr().err


def test_thread_flags_reach_tensorflow(tmp_path, event_data):
    script = textwrap.dedent(f"""
        import sys
        from zoo.cli import run_cli, training_main
        code = run_cli(training_main, {train_args(**{"-n": "threads", "-p": str(event_data), "-w": str(tmp_path),
                                                    "-t": str(tmp_path / "logs"), "-e": "1",
                                                    "--intra_op_threads": "1", "--inter_op_threads": "3"})!r})
        import tensorflow as tf
        print(code, tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.split() == ["0", "1", "3"], result.stderr[-2000:]
