"""Presets: preset.json read and checked, listed, verified; a preset folder is never written (its outputs go to
outputs/NAME/); runs compared side by side; `zoo.from_preset` from Python; `--init_from PRESET`."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

import zoo
from helpers import train_args
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.presets import (
    PRESET_FILE,
    compare_runs,
    list_presets,
    read_preset,
    sha256_file,
    verify_checksums,
)
from zoo.core.run_folder import RunFolder
from zoo.errors import RunError, UsageError

PRESET = "bach-tiny"
SHIPPED = ["config.json", "model.keras", "training_log.csv", "README.md"]
DROPPED = ("checkpoints", "backup", "samples", "export", "export-*", "evaluation.csv", "metrics.csv", "analysis")


def preset_json(folder: Path) -> dict:
    return {
        "name": folder.name, "model_type": "lstm", "title": "Tiny LSTM composer on 16 Bach chorales",
        "data": {"name": "Bach chorales (music21 corpus)", "source": "music21:bach", "licence": "public domain",
                 "pieces": {"train": 12, "valid": 2, "test": 2}},
        "weights_licence": "CC-BY-4.0",
        "parameters": 12345,
        "files": {name: sha256_file(folder / name) for name in SHIPPED},
        "headline": {"metric": "nll_nats_per_event", "value": 5.5, "label": "test NLL/event (nats)"},
        "training": {"command": "python training.py -m lstm -n bach-tiny -e 2", "epochs": 2, "steps": 8,
                     "wall_time_s": 12.5, "machine": "2-core CPU"},
        "evaluate": {"command": f"python -m zoo evaluate -n {folder.name}"},
        "generate": {"command": f"python generate.py -n {folder.name}"},
    }


@pytest.fixture
def weights(tmp_path, trained_run, monkeypatch) -> Path:
    """A weights folder in a tmp working directory with the preset 'bach-tiny' (the tiny trained run as it would
    ship: no checkpoints/, backup/, samples/) and an ordinary copy of the run, 'tiny'."""
    source, name = trained_run
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "weights"
    folder = root / PRESET
    shutil.copytree(source / name, folder, ignore=shutil.ignore_patterns(*DROPPED))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "name": PRESET}))
    (folder / "README.md").write_text("# bach-tiny\n\nA model card.\n")
    (folder / PRESET_FILE).write_text(json.dumps(preset_json(folder), indent=2))
    shutil.copytree(source / name, root / "tiny", ignore=shutil.ignore_patterns("evaluation.csv", "metrics.csv"))
    return root


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (relative path -> bytes): a preset folder must stay byte-identical."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- reading, listing, checksums
def test_presets_are_listed_and_read(weights, capsys):
    infos = list_presets(weights)
    assert [info.name for info in infos] == [PRESET]
    info = infos[0]
    assert info.model_type == "lstm" and info.data.pieces == {"train": 12, "valid": 2, "test": 2}
    assert info.headline.value == 5.5 and info.training.steps == 8 and info.folder == weights / PRESET
    assert info.to_dict() == json.loads((weights / PRESET / PRESET_FILE).read_text())
    assert 0 < info.size_mb < 5
    assert read_preset(weights / "tiny") is None  # an ordinary run
    assert list_presets(weights.parent / "nowhere") == []
    assert RunFolder(weights, PRESET).is_preset and not RunFolder(weights, "tiny").is_preset
    assert RunFolder(weights, PRESET).outputs == Path("outputs") / PRESET
    assert RunFolder(weights, "tiny").outputs == weights / "tiny"

    before = set(Path.cwd().rglob("*"))
    assert run_cli(zoo_main, ["presets", "-w", str(weights)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "model", "type"] and len(lines) == 2
    assert lines[1].startswith(PRESET) and "lstm" in lines[1] and "12.3k" in lines[1]
    assert "5.5 test NLL/event (nats)" in lines[1]
    assert set(Path.cwd().rglob("*")) == before  # writes nothing


def test_checksum_mismatch_is_found(weights, capsys):
    folder = weights / PRESET
    assert verify_checksums(folder) == []
    assert run_cli(zoo_main, ["presets", "-w", str(weights), "--check"]) == 0
    with open(folder / "training_log.csv", "a") as file:
        file.write("9,9,9\n")
    (folder / "README.md").unlink()
    assert verify_checksums(folder) == ["training_log.csv", "README.md"]
    capsys.readouterr()
    assert run_cli(zoo_main, ["presets", "-w", str(weights), "--check"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [f"error: {folder / 'training_log.csv'} differs from the sha256 in preset.json",
                      f"error: {folder / 'README.md'} is missing"]
    with pytest.raises(RunError, match="not a preset"):
        verify_checksums(weights / "tiny")


@pytest.mark.parametrize("edit, fragment", [
    (lambda p: "{not json", "preset.json is corrupt"),
    (lambda p: json.dumps([p]), "not a JSON object"),
    (lambda p: json.dumps({k: v for k, v in p.items() if k != "headline"}), "'headline' is missing"),
    (lambda p: json.dumps({**p, "data": {**p["data"], "licence": ""}}), "'data.licence' must be a non-empty string"),
    (lambda p: json.dumps({**p, "parameters": "many"}), "'parameters' must be a whole number"),
    (lambda p: json.dumps({**p, "headline": {**p["headline"], "value": True}}), "'headline.value' must be a number"),
    (lambda p: json.dumps({**p, "files": {"model.keras": "abc"}}), "'files.model.keras' must be a sha256"),
    (lambda p: json.dumps({**p, "files": {"../x": "0" * 64}}), "not a file inside the preset folder"),
    (lambda p: json.dumps({**p, "name": "other"}), "its folder is 'bach-tiny'"),
    (lambda p: json.dumps({**p, "model_type": "gan"}), "its config.json 'lstm'"),
])
def test_a_corrupt_preset_json_is_one_clear_error(weights, edit, fragment, capfd):
    path = weights / PRESET / PRESET_FILE
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(RunError, match="preset.json is corrupt") as error:
        read_preset(weights / PRESET)
    assert fragment in str(error.value) and "\n" not in str(error.value)
    capfd.readouterr()
    assert run_cli(zoo_main, ["presets", "-w", str(weights)]) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err
    with pytest.raises(RunError, match="preset.json is corrupt"):
        zoo.from_preset(PRESET, weights_root=weights)


# ---------------------------------------------------------------- a preset is read-only
def test_generate_evaluate_export_write_to_outputs_and_leave_the_preset_as_it_was(weights, tmp_path, capfd):
    folder = weights / PRESET
    shipped = tree(folder)
    outputs = tmp_path / "outputs" / PRESET
    w = ["-w", str(weights)]
    assert run_cli(generate_main, ["-n", PRESET, *w, "--num_outputs", "1", "--length", "16"]) == 0
    assert sorted(p.name for p in (outputs / "samples").iterdir())[0] == f"{PRESET}-sample-s0-0.mid"
    assert run_cli(zoo_main, ["evaluate", "-n", PRESET, *w, "--num_samples", "2", "--sample_length", "16"]) == 0
    assert (outputs / "evaluation.csv").is_file() and (outputs / "metrics.csv").is_file()
    assert run_cli(zoo_main, ["export", "-n", PRESET, *w]) == 0
    assert (outputs / "export" / "saved_model.pb").is_file()
    assert tree(folder) == shipped

    # Written into the preset on purpose: refused, by name.
    capfd.readouterr()
    assert run_cli(generate_main, ["-n", PRESET, *w, "--output_dir", str(folder / "samples")]) == 2
    assert "read-only" in capfd.readouterr().err
    assert run_cli(zoo_main, ["export", "-n", PRESET, *w, "--output", str(folder / "export")]) == 2
    assert "read-only" in capfd.readouterr().err
    assert tree(folder) == shipped


def test_compare_puts_runs_side_by_side(weights, tmp_path, capfd):
    w = ["-w", str(weights)]
    shutil.copytree(weights / "tiny", weights / "unevaluated")
    for name in ("unevaluated", "tiny"):
        for stale in ("evaluation.csv", "metrics.csv"):
            (weights / name / stale).unlink(missing_ok=True)
    assert run_cli(zoo_main, ["evaluate", "-n", PRESET, *w, "--num_samples", "2", "--sample_length", "16"]) == 0
    assert run_cli(zoo_main, ["evaluate", "-n", "tiny", *w, "--num_samples", "0"]) == 0
    capfd.readouterr()
    assert run_cli(zoo_main, ["compare", *w]) == 0
    out, err = capfd.readouterr()
    assert "note: no evaluation.csv or metrics.csv yet for unevaluated" in err
    assert PRESET in out and "tiny" in out and "pitch_range_rel_gap" in out

    rows = list(csv.DictReader(open(tmp_path / "outputs" / "compare" / "compare.csv")))
    assert [row["run"] for row in rows] == [PRESET, "tiny"]
    assert {row["model_type"] for row in rows} == {"lstm"} and rows[0]["checkpoint"] == "best"
    assert rows[0]["test_pieces"] == rows[1]["test_pieces"] == "2"
    assert float(rows[0]["nll_nats_per_event"]) > 0 and float(rows[1]["nll_nats_per_event"]) > 0
    gap, generated, test = (float(rows[0][f"pitch_range_{k}"]) for k in ("rel_gap", "generated", "test"))
    assert gap == pytest.approx(abs(generated - test) / abs(test))
    assert rows[1]["pitch_range_generated"] == "nan"  # evaluated without samples
    markdown = (tmp_path / "outputs" / "compare" / "compare.md").read_text().splitlines()
    assert markdown[0].startswith("| run | model_type | checkpoint | test_pieces |") and len(markdown) == 4
    assert markdown[2].startswith(f"| {PRESET} | lstm | best | 2 |")

    frame, missing = compare_runs(weights, ["tiny", "unevaluated"])
    assert list(frame["run"]) == ["tiny"] and missing == ["unevaluated"]
    assert run_cli(zoo_main, ["compare", "tiny", *w, "--output_dir", str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "compare.md").is_file()
    capfd.readouterr()
    assert run_cli(zoo_main, ["compare", "nosuchrun", *w]) == 2
    assert capfd.readouterr().err.strip().startswith("error: no run named 'nosuchrun'")


# ---------------------------------------------------------------- Python, fine-tuning
def test_from_preset_samples_and_generates(weights, tmp_path):
    import keras

    from zoo.music.score import Score

    loaded = zoo.from_preset(PRESET, weights_root=weights)
    assert isinstance(loaded.model, keras.Model) and loaded.model_type.name == "lstm"
    assert loaded.encoding.name == "event" and loaded.config["lstm_size"] == 32
    assert loaded.info is not None and loaded.info.name == PRESET
    scores = loaded.sample(num=2, seed=3, length=24)
    assert len(scores) == 2 and all(isinstance(score, Score) for score in scores)
    again = loaded.sample(num=2, seed=3, length=24)
    assert ([[t.notes.tolist() for t in s.tracks] for s in scores]
            == [[t.notes.tolist() for t in s.tracks] for s in again])
    written = loaded.generate(num_outputs=1, length=16, temperature=0.5)
    assert written and all(path.parent == Path("outputs") / PRESET / "samples" for path in written)
    assert loaded.generate(tmp_path / "elsewhere", seed=1, length=16)[0].parent == tmp_path / "elsewhere"
    with pytest.raises(UsageError, match="'nonsense' is not a generate flag"):
        loaded.generate(nonsense=1)
    with pytest.raises(UsageError, match="temperature"):
        loaded.generate(temperature="hot")
    with pytest.raises(UsageError, match="at least 1"):
        loaded.sample(num=0)

    ordinary = zoo.from_preset("tiny", weights_root=weights, checkpoint="last")
    assert ordinary.info is None and ordinary.checkpoint == "last"
    with pytest.raises(RunError, match="no run named 'absent'"):
        zoo.from_preset("absent", weights_root=weights)


def test_init_from_a_preset_with_only_model_keras(weights, event_data, tmp_path):
    shipped = tree(weights / PRESET)
    assert not (weights / PRESET / "checkpoints").exists()
    argv = train_args(**{"-n": "tuned", "-p": str(event_data / "train.pkl"), "-w": str(weights),
                         "-t": str(tmp_path / "logs"), "-e": "1", "--steps_per_epoch": "1", "--init_from": PRESET})
    assert run_cli(training_main, argv) == 0
    assert (weights / "tuned" / "model.keras").is_file()
    assert tree(weights / PRESET) == shipped
