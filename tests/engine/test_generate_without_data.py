"""generate.py works from a preset's run folder alone, on a clone where the data it trained on is not there.

A preset (weights/<preset>/) ships config.json, model.keras, training_log.csv, a card and maybe a primer; the
data paths its config.json records are absolute paths of the machine that trained it. For every model type,
one tiny run is trained (module fixture), made preset-like (no checkpoints/, backup/, samples/; every
recorded data path pointing to a missing file), and generated from with the type's default command: it exits
0, writes files that parse back, and says on stderr, in one `note:` line, when it fell back from the data
(MultINN's intro from the test split). What asks for the data by a flag fails with one clear line instead.
A lead-sheet run folder's own `primer.ls` (ours, zoo/families/leadsheet/primers/) is its default chart.
Fine-tuning from such a preset (--init_from) with the user's own data needs none of the preset's data, and data
encoded otherwise is refused in one line naming what differs.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixtures.tiny_runs import COMMON, DATA, TINY
from helpers import check_output_file
from zoo.cli import generate_main, run_cli, training_main

QUICK = ["-e", "1", "--steps_per_epoch", "1", "--sample_every", "0"]  # after COMMON: the last value wins
PRIMERS = Path(__file__).resolve().parents[2] / "zoo" / "families" / "leadsheet" / "primers"
# Types whose default command reads the data when it is there, and says what it does instead when it is not.
FALLS_BACK = {"multinn": "test split"}


@pytest.fixture(scope="module")
def presets(tmp_path_factory, data_cache) -> dict:
    """{"weights": folder, "configs": {type: config.json as trained}, "gone": missing folder}: one tiny run per type."""
    root = tmp_path_factory.mktemp("presets")
    weights = root / "weights"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name, (flags, _) in TINY.items():
            argv = ["-m", name, "-n", name, "-w", str(weights), "-t", str(root / "logs"), *COMMON,
                    *[str(flag) for flag in flags], *QUICK]
            assert run_cli(training_main, argv) == 0, name
    configs = {}
    for name in TINY:
        run = weights / name
        for folder in ("checkpoints", "backup", "samples"):
            shutil.rmtree(run / folder, ignore_errors=True)
        configs[name] = json.loads((run / "config.json").read_text())
    return {"weights": weights, "configs": configs, "gone": root / "gone", "roots": (str(DATA), str(data_cache))}


def moved(value, roots: tuple[str, ...], gone: Path):
    """`value` (a config's JSON) with every path under one of `roots` moved under the missing folder `gone`."""
    if isinstance(value, dict):
        return {k: moved(v, roots, gone) for k, v in value.items()}
    if isinstance(value, list):
        return [moved(v, roots, gone) for v in value]
    if isinstance(value, str):
        for number, root in enumerate(roots):
            if value.startswith(root):
                return str(gone / str(number)) + value[len(root):]
    return value


def as_preset(presets: dict, name: str, data: bool = False) -> Path:
    """The run folder of `name`, its config.json as trained (`data`) or with every data path missing."""
    config = presets["configs"][name]
    if not data:
        config = moved(config, presets["roots"], presets["gone"])
        assert config["data"] and not any(Path(p).exists() for p in config["data"].values()), config["data"]
    run = presets["weights"] / name
    (run / "config.json").write_text(json.dumps(config, indent=2))
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.keras", "training_log.csv"]
    return run


def generate(presets: dict, name: str, out: Path, *flags: str, tiny: bool = True) -> int:
    """generate.py -n NAME into `out`, with the type's tiny generate flags (`tiny`) and `flags`."""
    return run_cli(generate_main, ["-n", name, "-w", str(presets["weights"]), "--num_outputs", "1",
                                   "--output_dir", str(out), *(TINY[name][1] if tiny else []), *flags])


def outputs(out: Path) -> list[Path]:
    written = sorted(path for path in out.rglob("*") if path.is_file())
    assert any(path.suffix in (".mid", ".wav") for path in written), written
    for path in written:
        check_output_file(path)
    return written


@pytest.mark.parametrize("name", sorted(TINY))
def test_default_generate_needs_no_data(name, presets, tmp_path, capsys):
    as_preset(presets, name)
    assert generate(presets, name, tmp_path / "out") == 0, capsys.readouterr().err[-2000:]
    outputs(tmp_path / "out")
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    if name in FALLS_BACK:
        assert len(notes) == 1 and FALLS_BACK[name] in notes[0] and "from scratch" in notes[0], notes
        assert str(presets["gone"]) in notes[0], notes  # it names the path it looked for
    else:
        assert notes == [], notes


def test_multinn_with_its_data_takes_the_intro_from_the_test_split(presets, tmp_path, capsys, monkeypatch):
    import zoo.families.multinn.multinn as multinn

    intros = []
    original = multinn.MultINN.sample_rolls.__func__

    def spy(cls, model, encoding, intro, *args, **kwargs):
        intros.append(intro.shape[1])
        return original(cls, model, encoding, intro, *args, **kwargs)

    monkeypatch.setattr(multinn.MultINN, "sample_rolls", classmethod(spy))
    as_preset(presets, "multinn", data=True)
    assert generate(presets, "multinn", tmp_path / "out") == 0
    assert "note:" not in capsys.readouterr().err
    assert intros and intros[0] > 0, intros  # as before: an intro of --intro_beats from the test split
    outputs(tmp_path / "out")


@pytest.mark.parametrize("name, flags, named", [
    ("multinn", ["--intro_from", "test"], "--intro_from"),
    ("rnn_nade", ["--intro_frames", "2"], "--intro_frames"),
    ("poex", ["--generate"], "--generate"),
])
def test_asking_for_the_missing_data_by_flag_is_one_clear_line(name, flags, named, presets, tmp_path, capsys):
    as_preset(presets, name)
    assert generate(presets, name, tmp_path / "out", *flags) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and named in err[0] and str(presets["gone"]) in err[0], err


def test_the_bundled_primers_read_back_as_4_4_chord_charts():
    from zoo.families.leadsheet import leadsheet_encoding as ls
    from zoo.music.leadsheet import read_leadsheet

    primers = sorted(PRIMERS.glob("*.ls"))
    assert primers, PRIMERS
    for path in primers:
        score = read_leadsheet(path)
        assert score.chords and score.metadata["chord_warnings"] == "0", path
        grid = ls.score_to_grid(score)
        assert len(grid["root"]) % ls.STEPS_PER_BAR == 0 and len(grid["root"]) >= 4 * ls.STEPS_PER_BAR, path


@pytest.mark.parametrize("name", ["poex", "compae"])
def test_a_primer_in_the_run_folder_is_the_default_chart(name, presets, tmp_path, capsys):
    from zoo.music.leadsheet import read_leadsheet

    run = as_preset(presets, name)
    shutil.copy(PRIMERS / "blues-in-f.ls", run / "primer.ls")
    try:
        assert generate(presets, name, tmp_path / "out", tiny=False) == 0, capsys.readouterr().err[-2000:]
    finally:
        (run / "primer.ls").unlink()
    sheets = [p for p in outputs(tmp_path / "out") if p.suffix == ".ls"]
    assert len(sheets) == 1
    primer, generated = read_leadsheet(PRIMERS / "blues-in-f.ls"), read_leadsheet(sheets[0])
    assert [(c.time, c.root, c.pitch_classes) for c in generated.chords] == \
           [(c.time, c.root, c.pitch_classes) for c in primer.chords]
    source = next(p for p in tmp_path.joinpath("out").iterdir() if p.name.endswith("-source.txt"))
    assert "primer.ls" in source.read_text()


@pytest.mark.parametrize("name", ["lstm", "poex", "rnn_nade"])
def test_init_from_a_preset_without_its_data(name, presets, tmp_path):
    """Fine-tuning with the user's own data reads nothing of the preset's (its data paths are gone)."""
    as_preset(presets, name)
    flags = [str(flag) for flag in TINY[name][0]]
    argv = ["-m", name, "-n", f"{name}-mine", "-w", str(presets["weights"]), "-t", str(tmp_path / "logs"), *COMMON,
            *flags, *QUICK, "--init_from", name]
    try:
        assert run_cli(training_main, argv) == 0
    finally:
        shutil.rmtree(presets["weights"] / f"{name}-mine", ignore_errors=True)


def test_init_from_a_preset_whose_data_was_encoded_otherwise_is_one_clear_line(presets, tmp_path, capsys):
    run = as_preset(presets, "lstm")
    config = json.loads((run / "config.json").read_text())
    config["encoding"]["velocity_bins"] = 16  # as if the preset's data had been prepared with --velocity_bins 16
    (run / "config.json").write_text(json.dumps(config))
    argv = ["-m", "lstm", "-n", "lstm-mine", "-w", str(presets["weights"]), "-t", str(tmp_path / "logs"), *COMMON,
            *[str(flag) for flag in TINY["lstm"][0]], *QUICK, "--init_from", "lstm"]
    assert run_cli(training_main, argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "velocity_bins: 16 there, 32 here" in err[0], err
    assert not (presets["weights"] / "lstm-mine").exists()


def source(encoding: dict):
    from zoo.engine.warm_start import WarmStartSource

    return WarmStartSource("preset", Path("preset/model.keras"), {"model_type": "x", "encoding": encoding})


def test_a_learnt_vocabulary_that_differs_is_said_by_its_size_and_an_entry():
    from zoo.engine.warm_start import check_compatible
    from zoo.errors import UsageError

    theirs = {"name": "numeric", "vocabulary": [f"token{i}" for i in range(50)]}
    ours = {"name": "numeric", "vocabulary": [f"token{i}" for i in range(50)] + ["C#7"]}
    with pytest.raises(UsageError) as caught:
        check_compatible(source(theirs), ours)
    assert "vocabulary: 50 entries there, 51 here, 1 of them new (e.g. 'C#7')" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="trained on 'numeric' data and this data holds the 'event' encoding"):
        check_compatible(source(theirs), {"name": "event"})


def test_notes_data_rendered_or_measured_otherwise_warm_start_with_a_note(capsys):
    from zoo.engine.warm_start import check_compatible
    from zoo.errors import UsageError
    from zoo.families.crossmodal.notes_encoding import NotesEncoding

    theirs = NotesEncoding(instruments=["Flute"], log_mean=-11.5, log_scale=14.5).to_config()
    ours = NotesEncoding(instruments=["Flute", "Piano"], soundfont=["mine.sf2"], log_mean=-10.0,
                         log_scale=13.0).to_config()
    check_compatible(source(theirs), ours)
    [note] = capsys.readouterr().err.splitlines()
    assert note.startswith("note: --init_from preset:") and "log_mean" in note and "soundfont" in note, note
    with pytest.raises(UsageError, match="transform"):  # how a frame is represented must match
        check_compatible(source({**theirs, "transform": {"bins": 1}}), ours)
