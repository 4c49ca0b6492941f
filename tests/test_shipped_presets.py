"""The presets that ship in weights/: intact, within the size budget, usable from nothing, and as good as their cards.

Each preset is checked as a user meets it on a fresh clone: a copy of its folder whose recorded data paths
lead nowhere, generated from in a folder with no ../shared beside it. Where its test data can be had (the
music21 corpus and the bundled JSB set always; ../shared where present) its card's figure is measured again
on the first test pieces.
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import mido
import pytest

from helpers import ROOT, check_output_file, needs_shared
from zoo.core.presets import list_presets, verify_checksums

WEIGHTS = ROOT / "weights"
PRESETS = {info.name: info for info in list_presets(WEIGHTS)}
MAX_PRESET_MB, MAX_TOTAL_MB = 15.0, 60.0
# How far a figure measured here may be from the card's: the same computation on another CPU (oneDNN and XLA
# may order floating-point sums differently), not another model.
RELATIVE_TOLERANCE = 1e-3
# Short generate.py flags per model type, so each preset writes a piece in seconds.
QUICK_GENERATE = {
    "lstm": ["--length", "48"], "transformer": ["--length", "48"], "gan": ["--num_bars", "2"],
    "rnn_nade": ["--length", "16"], "rnn_rbm": ["--length", "16"], "multinn": ["--sample_beats", "8"],
    "simple": ["--bars", "2"], "poex": ["--bars", "2"], "compae": [], "musicvae": [],
    "crossmodal": [],
}

preset_names = pytest.mark.parametrize("name", sorted(PRESETS))


def test_presets_fit_the_size_budget():
    sizes = {name: info.size_mb for name, info in PRESETS.items()}
    assert all(size <= MAX_PRESET_MB for size in sizes.values()), sizes
    assert sum(sizes.values()) <= MAX_TOTAL_MB, sizes


def test_every_preset_folder_holds_only_what_ships():
    """No checkpoints, optimizer state or samples: a preset is its card, its config and its weights."""
    for name in PRESETS:
        extra = {path.name for path in (WEIGHTS / name).iterdir()} - {
            "config.json", "model.keras", "training_log.csv", "evaluation.csv", "metrics.csv", "pianoroll.png",
            "primer.ls", "README.md", "preset.json"}
        assert not {entry for entry in extra if not entry.startswith(".")}, (name, extra)


@preset_names
def test_weights_match_the_card(name):
    assert verify_checksums(WEIGHTS / name) == []
    card = (WEIGHTS / name / "README.md").read_text()
    for file_name, digest in PRESETS[name].files.items():
        assert digest in card, f"{name}'s card does not state the sha256 of {file_name}"


@preset_names
def test_generates_from_nothing(name, tmp_path, monkeypatch):
    """A copy of the preset whose recorded data is gone, generated from where no ../shared is reachable."""
    from zoo.cli import generate_main, run_cli

    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS / name, weights / name)
    config_path = weights / name / "config.json"
    config = json.loads(config_path.read_text())
    config["data"] = {split: str(tmp_path / "gone" / f"{split}.pkl") for split in (config.get("data") or {})}
    config_path.write_text(json.dumps(config))
    before = {path.name: path.read_bytes() for path in (weights / name).iterdir()}
    monkeypatch.chdir(tmp_path)

    flags = QUICK_GENERATE[PRESETS[name].model_type]
    assert run_cli(generate_main, ["-n", name, "-w", str(weights), "--num_outputs", "1", *flags]) == 0

    written = sorted((tmp_path / "outputs" / name / "samples").iterdir())
    assert any(path.suffix in (".mid", ".wav") for path in written), written
    for path in written:
        check_output_file(path)
    for path in (path for path in written if path.suffix == ".mid"):
        assert sum(len(track) for track in mido.MidiFile(path).tracks) > 2, f"{path} holds no notes"
    assert {path.name: path.read_bytes() for path in (weights / name).iterdir()} == before, "wrote into the preset"


@preset_names
def test_figure_reproduces_on_the_first_test_pieces(name, tmp_path):
    """The card's figure on its first test pieces, measured again here, through `python -m zoo evaluate`."""
    sys.path.insert(0, str(ROOT))
    from tools.presets import headline_on_test_slice

    info = json.loads((WEIGHTS / name / "preset.json").read_text())
    check = info["check"]
    test_path = None
    if "prepare" in info:  # data the user prepares from ../shared (GPL sets the preset may not ship)
        flags = shlex.split(info["prepare"]["command"])[3:]
        needs_shared(ROOT / flags[flags.index("--input") + 1])
        flags[flags.index("-o") + 1] = str(tmp_path / "data")
        done = subprocess.run([sys.executable, "-m", "zoo", *flags], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        test_path = tmp_path / "data" / "test.pkl"
    value = headline_on_test_slice(WEIGHTS / name, info, check["test_pieces"], outputs=tmp_path, test_path=test_path)
    assert value == pytest.approx(check["value"], rel=RELATIVE_TOLERANCE)


# A preset fine-tuned on the data its type trains on by default (no -p): one short epoch, against the same
# epoch of the same network from scratch (the preset's own training command). Bounds stated: the preset's
# first-epoch loss is under half the untrained model's, and near its card's test figure.
FINE_TUNE = ("jsb-rnn-nade", "bach-lstm")
STEPS = "5"


@pytest.mark.parametrize("name", sorted(set(FINE_TUNE) & set(PRESETS)))
def test_fine_tuning_a_preset_starts_far_below_an_untrained_model(name, tmp_path):
    from zoo.cli import run_cli, training_main

    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS / name, weights / name)
    common = ["-w", str(weights), "-t", str(tmp_path / "logs"), "-e", "1", "--steps_per_epoch", STEPS,
              "--sample_every", "0", "--verbose", "0", "--seed", "0"]
    recipe = shlex.split(PRESETS[name].training.command)[2:]  # after "python training.py"
    recipe = recipe[:recipe.index("-n")] + recipe[recipe.index("-n") + 2:]
    assert run_cli(training_main, [*recipe, *common, "-n", "scratch"]) == 0
    assert run_cli(training_main, ["-m", PRESETS[name].model_type, *common, "-n", "tuned", "--init_from", name]) == 0

    def first_loss(run):
        rows = (weights / run / "training_log.csv").read_text().splitlines()
        header, first = rows[0].split(","), rows[1].split(",")
        return float(first[header.index("loss")])

    scratch, tuned = first_loss("scratch"), first_loss("tuned")
    assert tuned < 0.5 * scratch, (tuned, scratch)
    assert tuned < 1.2 * PRESETS[name].headline.value, (tuned, PRESETS[name].headline.value)
