"""The contract every registered model type keeps, checked for each name the registry knows.

For each type, at a tiny size on small real data (the legacy fixtures' data, ours to ship):
train two epochs that each write a sample (one compiled sampler per model, traced once), reload the
saved model to the same weights and the same samples, start a new run from it with --init_from (the
weights are the source's) that --patience stops and a resume with --max_steps ends, generate from that run
and export it. A new model type needs a line in
TINY (tests/fixtures/tiny_runs.py); one that forgets a hook fails here.
"""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from fixtures.tiny_runs import COMMON, TINY
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.registry import model_type_names


def test_every_registered_type_is_checked():
    assert sorted(TINY) == sorted(model_type_names()), "give each registered model type tiny flags in TINY"


def tf_functions(entry) -> list:
    """The tf.functions a cached entry holds: itself, its values, or its (bound) tf.function methods."""
    kinds = (tf.types.experimental.PolymorphicFunction,)
    if isinstance(entry, kinds):
        return [entry]
    if isinstance(entry, dict):
        return [f for value in entry.values() for f in tf_functions(value)]
    methods = {name for klass in type(entry).__mro__ for name, value in vars(klass).items() if isinstance(value, kinds)}
    found = [getattr(entry, name) for name in sorted(methods)]
    return found + [value for value in vars(entry).values() if isinstance(value, kinds)]


def logged_epochs(run) -> list[int]:
    with open(run.path / "training_log.csv", newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def scores_notes(scores) -> list[np.ndarray]:
    return [np.concatenate([track.notes for track in score.tracks]) if score.tracks else np.zeros(0)
            for score in scores]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Runs in tmp_path (a default-data cache, if any, goes there, never into the repository)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("name", sorted(TINY))
def test_model_type_contract(name, workdir, monkeypatch):
    import zoo.engine.callbacks
    from zoo.core.checkpoints import load_model, save_model
    from zoo.core.model_cache import cached
    from zoo.core.registry import get_model_type
    from zoo.core.run_folder import RunFolder
    from zoo.encodings import encoding_from_config
    from zoo.engine.warm_start import resolve_init_from, warm_start

    flags, generate_flags = TINY[name]
    flags = [str(flag) for flag in flags]
    weights, logs = workdir / "weights", workdir / "logs"
    where = ["-w", str(weights), "-t", str(logs)]

    # 1. Two epochs, a sample after each: the sampler is built once for the model and traced once.
    seen = []
    original = zoo.engine.callbacks.SampleWriter.on_epoch_end

    def spy(self, epoch, logs=None):
        original(self, epoch, logs)
        seen.append(cached(self.model))

    monkeypatch.setattr(zoo.engine.callbacks.SampleWriter, "on_epoch_end", spy)
    assert run_cli(training_main, ["-m", name, "-n", "source", *where, "-e", "2", *COMMON, *flags]) == 0
    run = RunFolder(weights, "source")
    assert sorted(p.name for p in run.samples.glob("epoch-*.mid")) == ["epoch-0001.mid", "epoch-0002.mid"]
    assert len(seen) == 2 and seen[0], f"{name}: sample_scores cached no compiled sampler (zoo.core.model_cache)"
    assert seen[0].keys() == seen[1].keys() and all(seen[0][k] is seen[1][k] for k in seen[0]), \
        f"{name}: the second epoch's sample built its sampler again"
    functions = [f for entry in seen[1].values() for f in tf_functions(entry)]
    assert functions, f"{name}: the cached sampler holds no tf.function"
    traced = [f.experimental_get_tracing_count() for f in functions]
    assert max(traced) == 1, f"{name}: traced {traced} times over two samples"
    monkeypatch.setattr(zoo.engine.callbacks.SampleWriter, "on_epoch_end", original)

    # 2. Saved and reloaded: the same weights, the same samples.
    model_type = get_model_type(name)
    config = run.load_config()
    encoding = encoding_from_config(config["encoding"])
    model = load_model(run.model_path)
    save_model(model, workdir / "again.keras")
    again = load_model(workdir / "again.keras")
    for mine, theirs in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    first = model_type.sample_scores(model, config["args"], encoding, 2, seed=5)
    for a, b in zip(scores_notes(first), scores_notes(model_type.sample_scores(again, config["args"], encoding, 2, 5)),
                    strict=True):
        np.testing.assert_array_equal(a, b)

    # 3. --init_from: a new run from the source's weights, and the engine's warm start copies every weight.
    # No fall of val_loss is as large as --min_delta 1e9: early stopping ends it after two of its four epochs.
    assert run_cli(training_main, ["-m", name, "-n", "tuned", *where, "-e", "4", *COMMON, *flags,
                                   "--init_from", "source:final", "--sample_every", "0", "--patience", "1",
                                   "--min_delta", "1e9"]) == 0
    tuned = RunFolder(weights, "tuned")
    assert tuned.load_config()["args"]["init_from"] == "source:final"
    assert logged_epochs(tuned) == [0, 1], f"{name}: --patience did not stop it"
    fresh = model_type.build(config["args"], encoding)
    warm_start(fresh, model_type, resolve_init_from("source:final", weights, model_type))
    for mine, theirs in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # --max_steps counts the steps before it was given (2 epochs x 2): one more step, in one more epoch.
    assert run_cli(training_main, ["-m", name, "-n", "tuned", *where, "--resume_auto", "-e", "9", "--max_steps", "5",
                                   "--patience", "0", "--verbose", "0"]) == 0
    assert logged_epochs(tuned) == [0, 1, 2], f"{name}: --max_steps did not stop it"
    state = json.loads((tuned.backup / "state.json").read_text())
    assert [v for k, v in state["callbacks"].items() if k.endswith("StepLimit")] == [{"steps": 5}]

    # 4. The new run generates and exports.
    assert run_cli(generate_main, ["-n", "tuned", "-w", str(weights), "--num_outputs", "1", *generate_flags]) == 0
    assert any(RunFolder(weights, "tuned").samples.iterdir())
    assert run_cli(zoo_main, ["export", "-n", "tuned", "-w", str(weights)]) == 0
    assert (weights / "tuned" / "export" / "saved_model.pb").is_file()
    assert os.listdir(weights / "tuned" / "export" / "variables")
