"""The papers' rows (zoo/core/papers.py) and `python -m zoo reproduce`, which prints them beside the presets'."""
from __future__ import annotations

import json

import pytest

from helpers import ROOT
from zoo.cli import run_cli, zoo_main
from zoo.core.papers import PAPER_ROWS, paper_row
from zoo.core.presets import list_presets


def test_gaps_are_signed_so_that_plus_is_better():
    nll, accuracy = paper_row("rnn-nade-jsb"), paper_row("musicvae-2bar-sampled")
    assert nll.gap(5.50) == "+0.060 (better)" and nll.gap(5.726) == "-0.166 (worse)"
    assert accuracy.gap(0.963) == "+0.012 (better)" and accuracy.gap(0.9) == "-0.051 (worse)"
    assert nll.gap(float("nan")) == "n/a"


def test_every_row_names_a_shipped_preset_of_the_right_kind_or_none():
    shipped = {info.name: info for info in list_presets(ROOT / "weights")}
    assert len({row.name for row in PAPER_ROWS}) == len(PAPER_ROWS)
    for row in PAPER_ROWS:
        if row.preset is not None:
            assert row.preset in shipped, row
            card = json.loads((ROOT / "weights" / row.preset / "preset.json").read_text())
            evaluation = (ROOT / "weights" / row.preset / "evaluation.csv").read_text().splitlines()[0]
            assert row.metric in evaluation.split(","), (row, card["headline"])


def test_reproduce_measures_a_row_on_a_slice_as_the_card_records_it(tmp_path, capsys, monkeypatch):
    """The JSB RNN-NADE row on the first 8 test pieces gives the figure preset.json recorded for that slice."""
    check = json.loads((ROOT / "weights" / "jsb-rnn-nade" / "preset.json").read_text())["check"]
    monkeypatch.chdir(tmp_path)  # evaluate writes outputs/jsb-rnn-nade/ under the working folder
    argv = ["reproduce", "rnn-nade-jsb", "rnn-nade-nottingham", "-w", str(ROOT / "weights"),
            "--pieces", str(check["test_pieces"])]
    assert run_cli(zoo_main, argv) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| RNN-NADE")]
    jsb = table[0].split(" | ")
    assert jsb[1] == "5.56" and float(jsb[2]) == pytest.approx(check["value"], rel=1e-3)
    assert jsb[3] == "5.726" and jsb[4] == "-0.166 (worse)", jsb  # the card's whole-split figure against the paper
    assert "no shipped model answers it yet" in table[1]
    assert not (ROOT / "weights" / "jsb-rnn-nade" / "outputs").exists() and (tmp_path / "outputs").is_dir()


def test_an_unknown_row_is_one_line(capsys):
    assert run_cli(zoo_main, ["reproduce", "rnn-nade-bach"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no paper row 'rnn-nade-bach' (known: rnn-nade-jsb, ") and "\n" not in err


def test_a_row_whose_test_data_is_not_here_names_the_cards_prepare_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/nott here: the card records a relative path
    argv = ["reproduce", "musicvae-2bar-sampled", "-w", str(ROOT / "weights")]
    assert run_cli(zoo_main, argv) == 2
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| MusicVAE"))
    prepare = json.loads((ROOT / "weights" / "nottingham-musicvae-2bar" / "preset.json").read_text())["prepare"]
    assert f"its test data is not here: {prepare['command']}" in row
    assert "| 0.9634 | +0.012 (better) |" in row  # the card's whole-split figure still stands beside the paper's
