"""The notes data set: rendered from a SoundFont by the pip renderer, analysed into CQT frames, split by note
(`prepare --encoding notes`)."""
import shutil

import numpy as np
import pytest

from zoo.cli import run_cli, zoo_main
from zoo.data.dataset import load_split
from zoo.encodings import encoding_from_config
from zoo.music import soundfont

needs_renderer = pytest.mark.skipif(not soundfont.available() or soundfont.pip_soundfont() is None,
                                    reason="midirenderer and pretty_midi (requirements.txt) are not installed")


@needs_renderer
def test_prepare_renders_a_small_note_set_split_by_note(tmp_path, capsys, monkeypatch):
    """One fixed renderer and SoundFont, whatever else is installed: FluidSynth and $ZOO_SOUNDFONT are ignored."""
    other = tmp_path / "other.sf2"
    other.write_bytes(b"RIFF")  # would fail to render if it were used
    monkeypatch.setenv("ZOO_SOUNDFONT", str(other))
    monkeypatch.setattr(shutil, "which", lambda name: "/nonexistent/" + name)
    out = tmp_path / "notes"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "violin", "--pitch_step", "8",
                              "--dynamics", "p", "ff", "-o", str(out)]) == 0
    splits = {name: load_split(out / f"{name}.pkl") for name in ("train", "valid", "test")}
    keys = {name: {(p["instrument"][0], p["midi"][0], p["dynamics"][0]) for p in s.pieces}
            for name, s in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"] and not keys["valid"] & keys["test"]
    encoding = encoding_from_config(splits["train"].encoding)
    assert encoding.instruments == ["Flute", "Violin"] and encoding.log_scale > 0
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    font = soundfont.pip_soundfont()
    assert manifest["renderer"] == encoding.renderer == {**soundfont.renderer_info(),
                                                         "soundfonts": [soundfont.soundfont_info(font)]}
    assert manifest["renderer"]["name"] == "midirenderer"
    assert manifest["renderer"]["soundfonts"][0]["file"] == "TimGM6mb.sf2"
    assert manifest["inputs"] == [f"rendered with midirenderer {manifest['renderer']['version']} and TimGM6mb.sf2 "
                                  f"(sha256 {soundfont.soundfont_info(font)['sha256']})"]
    assert not manifest["skipped"]
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


@needs_renderer
def test_a_note_the_soundfont_has_no_sample_for_is_skipped_not_filled_with_the_last_notes_tail(tmp_path, capsys):
    """pretty_midi's TimGM6mb.sf2 has no Alto-Sax E4 (MIDI 64): its pp would hold only the tail of the ff before."""
    out = tmp_path / "sax"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Alto-Sax", "--pitch_step", "15",
                              "--dynamics", "pp", "ff", "--valid_fraction", "0", "--test_fraction", "0",
                              "-o", str(out)]) == 0
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert [item["file"] for item in manifest["skipped"]] == [
        "Alto-Sax/midi64/velocity16/TimGM6mb.sf2", "Alto-Sax/midi64/velocity112/TimGM6mb.sf2"]
    assert sorted({int(p["midi"][0]) for p in load_split(out / "train.pkl").pieces}) == [49, 79]


def test_prepare_refuses_input_files_and_says_what_to_install(tmp_path, capsys, monkeypatch):
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--input", "x.mid", "-o", str(tmp_path)]) == 2
    assert "--input does not apply" in capsys.readouterr().err
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Kazoo", "-o", str(tmp_path)]) == 2
    assert "unknown instrument 'Kazoo'" in capsys.readouterr().err
    monkeypatch.setattr(soundfont, "available", lambda: False)
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "midirenderer, which is not installed" in err
    assert "pip install -r requirements.txt" in err
    monkeypatch.setattr(soundfont, "available", lambda: True)
    monkeypatch.setattr(soundfont, "pip_soundfont", lambda: None)
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pretty_midi is not installed" in err and "--soundfont" in err


@needs_renderer
def test_the_default_data_cache_key_follows_the_renderer_and_the_soundfont(monkeypatch):
    from zoo.families.crossmodal import cross_modal

    keys = []
    monkeypatch.setattr(cross_modal, "cached_dataset", lambda key, build, describe: keys.append(key))
    cross_modal.default_notes_data()
    cross_modal.default_notes_data()
    monkeypatch.setattr(soundfont, "renderer_info", lambda: {"name": "midirenderer", "version": "9.9", "recipe": 1})
    cross_modal.default_notes_data()
    monkeypatch.setattr(soundfont, "soundfont_info", lambda path: {"file": "TimGM6mb.sf2", "sha256": "0" * 64})
    cross_modal.default_notes_data()
    assert keys[0] == keys[1] and len(set(keys)) == 3
