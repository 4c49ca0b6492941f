"""The notes data set: rendered with FluidSynth, analysed into CQT frames, split by note (`prepare --encoding notes`)."""
import shutil

import numpy as np
import pytest

from zoo.cli import run_cli, zoo_main
from zoo.data.dataset import load_split
from zoo.encodings import encoding_from_config

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")


@needs_fluidsynth
def test_prepare_renders_a_small_note_set_split_by_note(tmp_path, capsys):
    out = tmp_path / "notes"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "violin", "--pitch_step", "8",
                              "--dynamics", "p", "ff", "-o", str(out)]) == 0
    splits = {name: load_split(out / f"{name}.pkl") for name in ("train", "valid", "test")}
    keys = {name: {(p["instrument"][0], p["midi"][0], p["dynamics"][0]) for p in s.pieces} for name, s in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"] and not keys["valid"] & keys["test"]
    encoding = encoding_from_config(splits["train"].encoding)
    assert encoding.instruments == ["Flute", "Violin"] and encoding.log_scale > 0
    piece = splits["train"].pieces[0]
    assert piece["logmag"].shape[1] == 410 and len(set(piece["octave"])) == 1
    # The loudest bin of a sustained frame sits near the note's fundamental or a harmonic of it.
    from zoo.music.cqt import bin_frequencies

    peak = bin_frequencies()[piece["logmag"][15].astype(np.float32).argmax()]
    fundamental = 440 * 2 ** ((int(piece["midi"][0]) - 69) / 12)
    ratio = peak / fundamental
    assert abs(ratio - round(ratio)) < 0.05 and round(ratio) >= 1
    # ff is louder than p for the same note.
    same = [p for p in splits["train"].pieces + splits["valid"].pieces + splits["test"].pieces
            if p["midi"][0] == piece["midi"][0] and p["instrument"][0] == piece["instrument"][0]]
    if len(same) == 2:
        loud, soft = sorted(same, key=lambda p: -int(p["dynamics"][0]))
        assert np.exp(loud["logmag"][15].astype(np.float32)).sum() > np.exp(soft["logmag"][15].astype(np.float32)).sum()


def test_prepare_refuses_input_files_and_says_what_to_install(tmp_path, capsys, monkeypatch):
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--input", "x.mid", "-o", str(tmp_path)]) == 2
    assert "--input does not apply" in capsys.readouterr().err
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Kazoo", "-o", str(tmp_path)]) == 2
    assert "unknown instrument 'Kazoo'" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install fluidsynth" in err
