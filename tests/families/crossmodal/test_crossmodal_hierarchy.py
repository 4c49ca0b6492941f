"""A cross-modal run with a hierarchy of latent layers (`--dims 6 4`): training, resume, --load, play, analysis.

The hierarchy's bound and layers are tested on the model itself in test_crossmodal_vae.py."""
import json

import numpy as np
import pytest

from zoo.cli import run_cli, training_main, zoo_main
from zoo.core.checkpoints import load_model
from zoo.music import soundfont

needs_renderer = pytest.mark.skipif(not soundfont.available() or soundfont.pip_soundfont() is None,
                                    reason="the notes data needs midirenderer and pretty_midi (requirements.txt)")
TINY = ["--hidden_dims_1", "24", "16", "--hidden_num_1", "1", "2", "--hidden_dims_2", "12", "--hidden_num_2", "1",
        "--dims", "6", "4", "--adversarial", "1", "--adv_dim", "8"]


@pytest.fixture(scope="module")
def hierarchy_run(tmp_path_factory):
    """A two-level run on flute notes (every 12th pitch, two dynamics), trained 2 epochs of 3 steps."""
    root = tmp_path_factory.mktemp("crossmodal-hierarchy")
    data = root / "notes"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "--pitch_step", "12",
                              "--dynamics", "p", "ff", "--valid_fraction", "0.25", "--test_fraction", "0.25",
                              "-o", str(data)]) == 0
    common = ["-m", "crossmodal", "-p", str(data), "-w", str(root / "weights"), "-t", str(root / "logs"),
              "--instruments", "Flute", "-b", "16", "--steps_per_epoch", "3", "--sample_every", "0", "--verbose", "0"]
    assert run_cli(training_main, ["-n", "h2", "-e", "2", "--save_epochs", "1", "--plot_epochs", "2",
                                   *common, *TINY]) == 0
    return root, data, common


@needs_renderer
def test_two_level_run_trains_resumes_loads_plays_and_evaluates(hierarchy_run, tmp_path, capsys):
    import zoo.cli as cli

    root, data, common = hierarchy_run
    weights = root / "weights"
    assert (weights / "h2" / "samples" / "reconstruction-epoch-0002.png").is_file()
    model = load_model(weights / "h2" / "model.keras")
    assert model.latent_dims == [6, 4] and model.hidden_1s == [24, 16] and model.num_1s == [1, 2]
    assert model.adversarial and int(model.d_optimizer.iterations) == 6

    assert run_cli(training_main, ["-n", "h2", "--resume_auto", "-e", "3", *common, *TINY]) == 0
    assert json.loads((weights / "h2" / "backup" / "state.json").read_text())["epoch"] == 3
    assert run_cli(training_main, ["-n", "h2b", "--load", "h2", "--load_epoch", "1", "-e", "1", *common, *TINY]) == 0
    assert "epoch-0001.keras" in capsys.readouterr().err
    flat = ["--dims", "6", "--hidden_dims_1", "24", "--hidden_num_1", "1", "--hidden_dims_2", "12", "--hidden_num_2", "1"]
    assert run_cli(training_main, ["-n", "h2c", "--load", "h2", "-e", "1", *common, *flat]) == 2
    assert "latent layers" in capsys.readouterr().err

    out = ["-n", "h2", "-w", str(weights), "--output_dir", str(tmp_path), "--num_outputs", "1", "--iterations", "1"]
    assert run_cli(cli.generate_main, ["--mode", "info", *out]) == 0
    assert "latent 6 -> 4" in (tmp_path / "h2-info-s0-0.txt").read_text()
    assert run_cli(cli.generate_main, ["--mode", "trajectory", "--trajectory", "circle", "--n_steps", "6", *out]) == 0
    t = np.arange(11025) / 22050
    from zoo.music.audio import write_wav

    write_wav((0.3 * np.sin(2 * np.pi * 659.25 * t)).astype(np.float32), tmp_path / "e5.wav", 22050)
    assert run_cli(cli.generate_main, ["--mode", "audio", "--input", str(tmp_path / "e5.wav"), *out]) == 0
    for name in ("h2-trajectory-s0-0-circle.wav", "h2-audio-s0-0-transcription.mid", "h2-audio-s0-0-resynthesis.wav"):
        assert (tmp_path / name).is_file(), name

    assert run_cli(zoo_main, ["evaluate", "-n", "h2", "-w", str(weights), "--classifier_epochs", "2"]) == 0
    rows = (weights / "h2" / "analysis" / "metrics.csv").read_text().splitlines()[1:]
    values = {tuple(row.split(",")[:3]): float(row.split(",")[3]) for row in rows}
    for direction in ("reconstruction", "transfer", "baseline"):
        assert 0 <= values[(direction, "classif", "pitch")] <= 1, direction
    spectral = [v for k, v in values.items() if k[1] == "spectral_ll" and k[0] in ("reconstruction", "transfer")]
    assert len(spectral) == 2 and np.all(np.isfinite(spectral))
    assert np.load(weights / "h2" / "analysis" / "baseline_pca.npz")["components"].shape[1] == 4  # the top size


@needs_renderer
def test_hidden_sizes_must_match_the_latent_layers(hierarchy_run, tmp_path, capsys):
    _, data, _ = hierarchy_run
    base = ["-m", "crossmodal", "-n", "bad", "-p", str(data), "-w", str(tmp_path), "-t", str(tmp_path),
            "--instruments", "Flute"]
    cases = [
        (["--dims", "8", "4", "--hidden_dims_1", "8", "8", "8"], "--hidden_dims_1 takes one value or one per --dims"),
        (["--dims", "8", "0"], "argument --dims: must be at least 1 (got 0)"),
    ]
    for flags, message in cases:
        assert run_cli(training_main, base + flags) == 2, flags
        err = capsys.readouterr().err
        assert message in err and err.strip().startswith("error:"), (flags, err)
