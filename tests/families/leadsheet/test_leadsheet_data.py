"""The lead-sheet data: segment starts, the folder cache, skipped files, batches drawn per --dataset folder."""
from __future__ import annotations

import numpy as np
import pytest
from leadsheet_helpers import leadsheet_folders

from zoo.core.registry import get_model_type
from zoo.families.leadsheet.leadsheet_data import folder_groups, segment_starts


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return leadsheet_folders(tmp_path_factory.mktemp("leadsheets"))


def test_segment_starts_include_the_last_one():
    assert segment_starts(192, 192, 48).tolist() == [0]
    assert segment_starts(240, 192, 48).tolist() == [0, 48]



def test_batches_draw_each_dataset_folder_and_skip_unusable_files(folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path / "cache"))  # a fresh cache: the skipped files are printed
    (folders / "v" / "chords_only.ls").write_text("(part (type chords))\nC7 | F7 | C7 | G7 |\n")
    model_type = get_model_type("poex")
    args = model_type.check_args({"model_type": "poex", "dataset": [str(folders / "a"), str(folders / "b")],
                                  "validation": str(folders / "v"), "segment_len": "4bar", "segment_step": "1bar",
                                  "loss_function": "summed_nll", "layer_size": None, "num_layers": [2],
                                  "iterations": None, "steps_per_epoch": 10, "seed": 0, "batch_size": 4})
    data = model_type.resolve_data(args)
    err = capsys.readouterr().err
    assert "LittleDancerHarrell.ls: meter 3/4" in err and "chords_only.ls: no notes" in err
    assert len(data.train.pieces) == 4 and len(data.valid.pieces) == 1
    assert sorted(map(len, folder_groups(data.train, args["dataset"]))) == [2, 2]
    train_ds, valid_ds, _ = model_type.datasets(data, None, args)
    inputs, target = next(iter(train_ds))
    assert inputs["interval_features"].shape == (4, 192, 50) and inputs["chord_pos"].shape == (4, 192)
    assert target.shape == (4, 192) and int(np.max(target)) < 39
    (folders / "v" / "chords_only.ls").unlink()
