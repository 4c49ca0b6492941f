"""Hostile files (issue 9, part 3): refused with one `error: ...` line and exit code 2, nothing of
them run, nothing written outside the run folder.

Every payload here is live: it would create a marker file (or import a module that creates one)
if anything loaded it; the controls show Keras itself running or accepting some of them. The
malicious training pickle is tests/test_cli_errors.py::test_malicious_pickle_is_refused and the
unpickler's own cases are tests/data/test_safe_pickle.py; here the other routes to a pickle.
"""
from __future__ import annotations

import json
import pickle
import re
import shutil
import sys
import tokenize
import zipfile
from pathlib import Path

import keras
import mido
import pytest
import tensorflow as tf

from helpers import ROOT
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.checkpoints import check_keras_file, check_weights_file, load_model, load_weights_into
from zoo.core.run_folder import check_run_name
from zoo.errors import RunError, UsageError

PAYLOAD_MODULE = "zoo_hostile_payload"


def one_error_line(capfd, main, argv, *fragments: str) -> str:
    """Runs `main` through run_cli: exit code 2 and a single `error: ...` line holding every fragment."""
    capfd.readouterr()
    code = run_cli(main, [str(a) for a in argv])
    err = capfd.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def files_under(folder: Path) -> set[Path]:
    return {p for p in Path(folder).rglob("*") if p.is_file()}


@pytest.fixture
def run(tmp_path, trained_run) -> tuple[Path, str]:
    """A private copy of the tiny trained LSTM run: (weights folder, name)."""
    weights, name = trained_run
    shutil.copytree(weights / name, tmp_path / "weights" / name)
    return tmp_path / "weights", name


@pytest.fixture
def payload(tmp_path, monkeypatch) -> Path:
    """A module on sys.path that creates the returned marker when imported: naming it must not import it."""
    marker = tmp_path / "payload-ran"
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / f"{PAYLOAD_MODULE}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n\nclass Payload:\n    pass\n\n"
        "def run(*args, **kwargs):\n    return args[0] if args else None\n")
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(PAYLOAD_MODULE, None)
    yield marker
    sys.modules.pop(PAYLOAD_MODULE, None)


def lambda_model_file(path: Path, marker: Path) -> Path:
    """A `.keras` file with `keras.layers.Lambda(lambda ...)` whose code creates `marker` when it runs."""
    inputs = keras.Input((4,))
    # the path is a constant of the lambda's code (Keras cannot reload a lambda's defaults or closure)
    function = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    evil = keras.layers.Lambda(function)
    keras.Model(inputs, evil(inputs)).save(path)
    marker.unlink(missing_ok=True)  # building the model ran it once, here, on purpose
    return path


def edit_keras_config(source: Path, target: Path, edit) -> Path:
    """Copies a `.keras` zip, letting `edit(config)` change its config.json."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def first_dense(config: dict) -> dict:
    """The first serialised keras.layers.Dense of a model config."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "Dense" and item.get("module") == "keras.layers":
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise AssertionError("no Dense layer in the run's model")


def set_activation(module: str, function: str):
    def edit(config):
        first_dense(config)["config"]["activation"] = {"module": module, "class_name": "function",
                                                       "config": function, "registered_name": "function"}
    return edit


def set_class(module: str, class_name: str, registered_name: str | None = None):
    def edit(config):
        first_dense(config).update(module=module, class_name=class_name, registered_name=registered_name)
    return edit


# ---------------------------------------------------------------- every load site is a safe one
_UNSAFE_CALLS = re.compile(
    r"pickle\.loads?\b|Unpickler|allow_pickle\s*=\s*True|joblib|torch\.load|yaml\.(unsafe_)?load|dill|"
    r"\beval\(|\bexec\(|saved_model\.load|keras\.models\.load_model|saving\.load_model|safe_mode\s*=\s*False|"
    r"enable_unsafe_deserialization|func_load|marshal"
)
# The two readers that may touch the raw APIs: the restricted unpickler and the checked model loader.
_ALLOWED = {("zoo/data/safe_pickle.py", "Unpickler"), ("zoo/core/checkpoints.py", "keras.models.load_model")}


def test_every_load_site_goes_through_the_restricted_loaders():
    found = []
    for path in sorted((ROOT / "zoo").rglob("*.py")):
        with open(path, "rb") as file:  # code only: docstrings and comments may name the APIs
            code = " ".join(token.string for token in tokenize.tokenize(file.readline)
                            if token.type not in (tokenize.COMMENT, tokenize.STRING))
        relative = str(path.relative_to(ROOT))
        found += [(relative, m.group(0)) for m in _UNSAFE_CALLS.finditer(code) if (relative, m.group(0)) not in _ALLOWED]
    assert found == [], f"raw deserialisation outside zoo/data/safe_pickle.py and zoo/core/checkpoints.py: {found}"


# ---------------------------------------------------------------- .keras files with a Lambda layer
def test_a_lambda_model_is_refused_wherever_a_model_is_read(run, tmp_path, capfd):
    weights, name = run
    marker = tmp_path / "lambda-ran"
    evil = lambda_model_file(tmp_path / "evil.keras", marker)
    # Control: the payload is live; Keras runs it when safe mode is off.
    keras.models.load_model(evil, safe_mode=False)
    assert marker.exists()
    marker.unlink()

    folder = weights / name
    for target in (folder / "checkpoints" / "best.keras", folder / "checkpoints" / "last.keras", folder / "model.keras"):
        shutil.copy(evil, target)
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "Python lambda", "best.keras")
    one_error_line(capfd, zoo_main, ["evaluate", "-n", name, "-w", weights, "--checkpoint", "final"], "Python lambda")
    one_error_line(capfd, zoo_main, ["export", "-n", name, "-w", weights, "--checkpoint", "last"], "Python lambda")
    assert not (folder / "export").exists()
    # --resume PARAMFILE (lead-sheet models) is checked before the run folder is made.
    one_error_line(capfd, training_main, ["-m", "poex", "-n", "resumed", "-w", weights, "--resume", "0", evil],
                   "--resume", "Python lambda")
    assert not (weights / "resumed").exists()
    # --init_from, and the seeds' spellings of it (MusicVAE's ckpt_path, crossmodal --load), are checked before any
    # data is prepared or a run folder made.
    for argv, named in ((["-m", "lstm", "--init_from", name], "--init_from"),
                        (["-m", "lstm", "--init_from", str(evil)], "--init_from"),
                        (["-m", "musicvae", "--ckpt_path", str(evil)], "ckpt_path"),
                        (["-m", "crossmodal", "--load", name], "--init_from")):
        one_error_line(capfd, training_main, [*argv, "-n", "tuned", "-w", weights, "-p", "nowhere/train.pkl"],
                       named, "Python lambda")
        assert not (weights / "tuned").exists()
    assert not marker.exists()


# ---------------------------------------------------------------- .keras files with an edited config.json
HOSTILE_CONFIGS = {
    "a layer class from another module": set_class(PAYLOAD_MODULE, "Payload"),
    "os.system as a layer class": set_class("os", "system"),
    "a registered zoo name over another module": set_class(PAYLOAD_MODULE, "Payload", "zoo>TransformerBlock"),
    "an activation from another module": set_activation(PAYLOAD_MODULE, "run"),
    "os.system as an activation": set_activation("os", "system"),
    "builtins.eval as an activation": set_activation("builtins", "eval"),
    "keras.utils.get_file": set_activation("keras.utils", "get_file"),
    "keras.config.set_epsilon": set_activation("keras.config", "set_epsilon"),
    "a keras.src helper by module path": set_class("keras.src.utils.file_utils", "rmtree"),
    "a zoo function that writes files": set_activation("zoo.atomic", "write_json"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CONFIGS))
def test_a_config_naming_code_outside_keras_and_the_zoo_is_refused(case, run, payload, capfd):
    weights, name = run
    best = weights / name / "checkpoints" / "best.keras"
    check_keras_file(best)  # the untouched model passes
    edit_keras_config(best, best, HOSTILE_CONFIGS[case])
    epsilon = keras.config.epsilon()
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "refusing", "nothing of the file was run")
    assert not payload.exists() and PAYLOAD_MODULE not in sys.modules
    assert keras.config.epsilon() == epsilon
    samples = weights / name / "samples"
    assert not samples.exists() or not any(samples.glob(f"{name}-sample-s0-*"))


def test_keras_safe_mode_alone_accepts_a_global_setting_as_an_activation(run, tmp_path):
    """Why the zoo walks config.json itself: Keras 3.15's safe mode loads this file, and calling the
    model would set Keras's global epsilon to a tensor."""
    weights, name = run
    edited = edit_keras_config(weights / name / "checkpoints" / "best.keras", tmp_path / "m.keras",
                               set_activation("keras.config", "set_epsilon"))
    keras.models.load_model(edited, compile=False, safe_mode=True)  # loads: no error from Keras
    with pytest.raises(RunError, match="keras.config.set_epsilon"):
        load_model(edited)


def test_archive_members_outside_the_archive_are_refused(run, tmp_path):
    weights, name = run
    target = tmp_path / "slip.keras"
    shutil.copy(weights / name / "checkpoints" / "best.keras", target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("../../outside.txt", "x")
    with pytest.raises(RunError, match="outside the archive"):
        load_model(target)
    assert not (tmp_path.parent / "outside.txt").exists()


# ---------------------------------------------------------------- SavedModels and other formats
def test_a_savedmodel_from_elsewhere_is_never_loaded(run, tmp_path, capfd):
    weights, name = run
    saved = tmp_path / "savedmodel"
    tf.saved_model.save(tf.Module(), str(saved))
    best = weights / name / "checkpoints" / "best.keras"
    best.unlink()
    shutil.copytree(saved, best)  # a SavedModel folder in place of the run's model
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "SavedModel", "never loads")
    one_error_line(capfd, training_main, ["-m", "poex", "-n", "r", "-w", tmp_path / "w2", "--resume", "0", saved],
                   "SavedModel")
    assert not (tmp_path / "w2").exists()
    with pytest.raises(RunError, match="never loads SavedModels"):
        load_model(saved)
    # an HDF5 file renamed .keras (here: the run's own resume weights) is not a .keras zip either
    shutil.rmtree(best)
    shutil.copy(next((weights / name / "backup").glob("*.weights.h5")), best)
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "not a .keras file")


# ---------------------------------------------------------------- run names
BAD_NAMES = ["../../etc", "/tmp/x", "a/b", "..", ".hidden", "x\n", "a" * 101, ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_check_run_name_refuses_paths(name):
    with pytest.raises(UsageError):
        check_run_name(name)


@pytest.mark.parametrize("name", ["../../etc", "/tmp/x", "a/b"])
def test_every_entry_point_refuses_a_name_with_a_path(name, tmp_path, capfd, monkeypatch, event_data):
    monkeypatch.chdir(tmp_path)
    weights = tmp_path / "w" / "weights"
    one_error_line(capfd, training_main, ["-m", "lstm", "-n", name, "-p", event_data / "train.pkl", "-w", weights,
                                          "-t", tmp_path / "w" / "logs", "-e", "1"], repr(name))
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], repr(name))
    one_error_line(capfd, zoo_main, ["evaluate", "-n", name, "-w", weights], repr(name))
    one_error_line(capfd, zoo_main, ["export", "-n", name, "-w", weights], repr(name))
    # a run named on another run's behalf: crossmodal --load, multinn --encoders_from
    one_error_line(capfd, training_main, ["-m", "crossmodal", "-n", "ok", "-w", weights, "--load", name], repr(name))
    one_error_line(capfd, training_main, ["-m", "multinn", "-n", "ok", "-w", weights, "--encoder", "dbn",
                                          "--encoders_from", name], repr(name))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- names inside music files
def _hostile_midi(path: Path) -> Path:
    midi = mido.MidiFile(ticks_per_beat=96)
    for track_name, pitch in (("../../../x", 60), ("/etc/passwd", 64)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=track_name),
                                mido.MetaMessage("text", text="../../evil")])
        for i in range(4):
            track += [mido.Message("note_on", note=pitch + i, velocity=80, time=0 if i == 0 else 48),
                      mido.Message("note_off", note=pitch + i, velocity=0, time=48)]
        midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(path)
    return path


def _hostile_leadsheet(path: Path) -> Path:
    from zoo.music.leadsheet import write_leadsheet
    from zoo.music.score import ChordSymbol, Score, Track, make_notes

    score = Score(resolution=480, tracks=[Track(name="../../melody", notes=make_notes(
        pitch=[60, 62, 64, 65], start=[0, 480, 960, 1440], end=[480, 960, 1440, 1920]))],
        chords=[ChordSymbol(time=0, root=0, pitch_classes=(0, 4, 7), bass=0)],
        metadata={"title": "../../../etc/passwd"})
    write_leadsheet(score, path)
    return path


def test_names_inside_primers_never_become_paths(run, tmp_path, capfd):
    from zoo.music.io import load_score

    weights, name = run
    odd_folder = tmp_path / "in" / "sub"
    odd_folder.mkdir(parents=True)
    # a file name with '..' in the path, spaces, quotes, ';' and '$(...)'
    midi = _hostile_midi(odd_folder / ".." / "..;$(touch pwned) 'x'.mid")
    leadsheet = _hostile_leadsheet(odd_folder / "../../etc passwd.ls")
    assert load_score(leadsheet).metadata["title"] == "../../../etc/passwd"
    assert load_score(midi).metadata["title"] == "../../../x"
    before = files_under(tmp_path)
    samples, chosen = weights / name / "samples", tmp_path / "chosen output"
    for primer, output in ((midi, None), (leadsheet, chosen)):
        argv = ["-n", name, "-w", weights, "--primer", primer, "--length", "8", "--num_outputs", "1"]
        assert run_cli(generate_main, [str(a) for a in argv + (["--output_dir", output] if output else [])]) == 0, \
            capfd.readouterr().err
    written = files_under(tmp_path) - before
    assert written, "nothing was generated"
    for path in written:  # only in the samples folder or the --output_dir named, under the run's own name
        assert path.parent in (samples, chosen) and path.name.startswith(f"{name}-sample-s0-"), path
    assert not (tmp_path / "pwned").exists() and not any(tmp_path.rglob("passwd*"))


# ---------------------------------------------------------------- a run's config.json, edited
def _edit_run_config(weights: Path, name: str, edit) -> None:
    path = weights / name / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps(edit(config)))


class _Touch:
    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_test_split_named_by_the_config_is_read_by_the_restricted_unpickler(run, tmp_path, capfd):
    weights, name = run
    marker = tmp_path / "pickle-ran"
    evil = tmp_path / "elsewhere" / "test.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps({"format": "zoo-encoded/1", "pieces": [_Touch(marker)]}))
    pickle.loads(evil.read_bytes())  # control: the payload is live
    assert marker.exists()
    marker.unlink()
    _edit_run_config(weights, name, lambda c: {**c, "data": {**c["data"], "test": str(evil)}})
    args = ["evaluate", "-n", name, "-w", weights, "--num_samples", "0"]
    one_error_line(capfd, zoo_main, args, "refusing", "touch")
    one_error_line(capfd, zoo_main, args + ["-p", evil], "refusing", "touch")
    assert not marker.exists()


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: [c], "not a run config"),
    (lambda c: {k: v for k, v in c.items() if k != "model_type"}, "not a run config"),
    (lambda c: {**c, "encoding": {**c["encoding"], "not_an_option": 1}}, "encoding config"),
    (lambda c: {**c, "encoding": "event"}, "must be JSON objects"),
])
def test_an_edited_run_config_is_one_clear_error(edit, fragment, run, capfd):
    weights, name = run
    _edit_run_config(weights, name, edit)
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "config.json is corrupt", fragment)


def test_a_run_config_that_is_not_utf8_json_is_one_clear_error(run, capfd):
    weights, name = run
    (weights / name / "config.json").write_bytes(b"\xff\xfe" + b"[" * 100_000)
    one_error_line(capfd, generate_main, ["-n", name, "-w", weights], "config.json is corrupt")


def test_an_unknown_export_format_is_refused_before_it_names_a_path(run, capfd):
    weights, name = run
    one_error_line(capfd, zoo_main, ["export", "-n", name, "-w", weights, "--format", "../../x"],
                   "no export format '../../x'")
    assert sorted(p.name for p in weights.iterdir()) == [name]
    assert not any(p.name.startswith("export") for p in (weights / name).iterdir())


# ---------------------------------------------------------------- links in a run folder from elsewhere
def test_links_in_a_run_folder_are_not_written_through(run, tmp_path, capfd):
    weights, name = run
    folder = weights / name
    outside, victim = tmp_path / "outside", tmp_path / "victim.txt"
    outside.mkdir()
    victim.write_text("keep me")
    shutil.rmtree(folder / "samples", ignore_errors=True)
    (folder / "samples").symlink_to(outside, target_is_directory=True)
    argv = ["-n", name, "-w", weights, "--length", "8", "--num_outputs", "1"]
    one_error_line(capfd, generate_main, argv, "symbolic link", "samples")
    (folder / "samples").unlink()
    (folder / "samples").mkdir()
    (folder / "samples" / f"{name}-sample-s0-0.mid").symlink_to(victim)
    one_error_line(capfd, generate_main, argv, "symbolic link", f"{name}-sample-s0-0.mid")
    (folder / "evaluation.csv").unlink(missing_ok=True)  # other tests evaluate the shared run first
    (folder / "evaluation.csv").symlink_to(victim)
    one_error_line(capfd, zoo_main, ["evaluate", "-n", name, "-w", weights, "--num_samples", "0"],
                   "symbolic link", "evaluation.csv")
    shutil.rmtree(folder / "export", ignore_errors=True)
    (folder / "export").symlink_to(outside, target_is_directory=True)
    one_error_line(capfd, zoo_main, ["export", "-n", name, "-w", weights], "symbolic link", "export")
    assert list(outside.iterdir()) == [] and victim.read_text() == "keep me"


# ---------------------------------------------------------------- a resumed run writes where the command line says
def test_a_resume_writes_where_the_command_line_says_not_where_config_json_says(run, tmp_path, capfd):
    weights, name = run
    elsewhere = tmp_path / "elsewhere"
    _edit_run_config(weights, name, lambda c: {**c, "args": {
        **c["args"], "name": "evil", "weights_path": str(elsewhere), "tensorboard_dir": str(elsewhere / "logs")}})
    capfd.readouterr()
    argv = ["-m", "lstm", "-n", name, "-w", weights, "-t", tmp_path / "logs", "-e", "3", "--resume_auto", "--verbose", "0"]
    assert run_cli(training_main, [str(a) for a in argv]) == 0, capfd.readouterr().err
    assert not elsewhere.exists()
    assert sorted(p.name for p in weights.iterdir()) == [name]
    assert json.loads((weights / name / "config.json").read_text())["args"]["weights_path"] == str(weights)


def test_a_backup_state_naming_a_file_outside_the_backup_is_refused(run, tmp_path, capfd):
    weights, name = run
    backup = weights / name / "backup"
    backup.mkdir(exist_ok=True)
    (tmp_path / "outside.weights.h5").write_bytes(b"not weights")
    for weights_name in ("../../../outside.weights.h5", str(tmp_path / "outside.weights.h5"), ".."):
        (backup / "state.json").write_text(json.dumps({"weights": weights_name, "epoch": 1, "best_val_loss": 1.0}))
        argv = ["-m", "lstm", "-n", name, "-w", weights, "-e", "3", "--resume_auto", "--verbose", "0"]
        one_error_line(capfd, training_main, argv, "state.json is corrupt", "not a file name inside the backup")


# ---------------------------------------------------------------- HDF5 weights that h5py would read from another file
SECRET = 7.0
# How each way of reaching another file is named in the refusal.
ELSEWHERE = {"external link": "is an external link", "virtual dataset": "is a virtual dataset",
             "external raw storage": "keeps its data in external raw files"}


def read_from_elsewhere(weights_file: Path, kind: str, secret_folder: Path) -> str:
    """Replaces a weight array of an h5 file by one that h5py reads from a secret file elsewhere, through `kind`
    (a key of ELSEWHERE); returns the array's path inside the file."""
    import h5py
    import numpy as np

    secret_folder.mkdir(exist_ok=True)
    with h5py.File(weights_file, "r+") as file:
        arrays = []  # the weights' paths, scalars (an optimizer's step count) left out
        file.visititems(lambda path, item: arrays.append(path) if isinstance(item, h5py.Dataset) and item.ndim
                        else None)
        target = arrays[0]
        shape, dtype = file[target].shape, file[target].dtype
        secret = np.full(shape, SECRET, dtype)
        with h5py.File(secret_folder / "secret.h5", "w") as other:
            other["data"] = secret
        secret.tofile(secret_folder / "secret.raw")
        del file[target]
        if kind == "external link":
            file[target] = h5py.ExternalLink(str(secret_folder / "secret.h5"), "/data")
        elif kind == "virtual dataset":
            layout = h5py.VirtualLayout(shape, dtype)
            layout[...] = h5py.VirtualSource(str(secret_folder / "secret.h5"), "data", shape)
            file.create_virtual_dataset(target, layout)
        else:
            file.create_dataset(target, shape, dtype, external=[(str(secret_folder / "secret.raw"), 0, secret.nbytes)])
    with h5py.File(weights_file, "r") as file:  # control: the payload is live, h5py reads the secret through it
        assert (file[target][()] == SECRET).all()
    return target


def replace_member(source: Path, target: Path, name: str, data: bytes) -> Path:
    """Copies a zip, with the bytes of member `name` replaced."""
    with zipfile.ZipFile(source) as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    members[name] = data
    with zipfile.ZipFile(target, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return target


@pytest.mark.parametrize("kind", sorted(ELSEWHERE))
def test_weights_read_from_another_file_are_refused_and_nothing_is_loaded(kind, run, tmp_path):
    weights, name = run
    model = load_model(weights / name / "checkpoints" / "best.keras")
    hostile = tmp_path / "hostile.weights.h5"
    model.save_weights(hostile)
    target = read_from_elsewhere(hostile, kind, tmp_path / "secret")
    before = model.get_weights()
    with pytest.raises(RunError) as error:
        load_weights_into(model, hostile)
    message = str(error.value)
    assert "\n" not in message and str(hostile) in message and f"'/{target}'" in message, message
    assert ELSEWHERE[kind] in message and "nothing was read" in message, message
    assert all((a == b).all() for a, b in zip(before, model.get_weights()))  # not one layer loaded


@pytest.mark.parametrize("kind", sorted(ELSEWHERE))
def test_a_keras_file_whose_weights_read_another_file_is_refused(kind, run, tmp_path):
    weights, name = run
    best = weights / name / "checkpoints" / "best.keras"
    member = tmp_path / "member.weights.h5"
    with zipfile.ZipFile(best) as archive:
        member.write_bytes(archive.read("model.weights.h5"))
    target = read_from_elsewhere(member, kind, tmp_path / "secret")
    hostile = replace_member(best, tmp_path / "hostile.keras", "model.weights.h5", member.read_bytes())
    for load in (load_model, check_weights_file):
        with pytest.raises(RunError, match=f"hostile.keras \\(its model.weights.h5\\): HDF5 .*'/{target}' "
                                           f"{ELSEWHERE[kind]}"):
            load(hostile)


def test_a_resume_from_a_backup_that_links_to_another_file_is_refused(run, tmp_path, capfd):
    weights, name = run
    backup = weights / name / "backup"
    target = read_from_elsewhere(backup / json.loads((backup / "state.json").read_text())["weights"],
                                 "external link", tmp_path / "secret")
    before = {path: path.read_bytes() for path in files_under(weights / name)}
    argv = ["-m", "lstm", "-n", name, "-w", weights, "-t", tmp_path / "logs", "-e", "3", "--resume_auto",
            "--verbose", "0"]
    one_error_line(capfd, training_main, argv, "is an external link", target)
    assert {path: path.read_bytes() for path in files_under(weights / name)} == before  # the run is as it was


def test_h5_files_that_loop_or_are_not_hdf5_are_one_clear_error(run, tmp_path):
    import h5py

    weights, name = run
    looped = tmp_path / "looped.weights.h5"
    with h5py.File(looped, "w") as file:
        layers = file.create_group("layers")
        layers["again"] = layers  # a hard link to its own group: endless nesting
    with pytest.raises(RunError, match="nest deeper than 64 levels"):
        check_weights_file(looped)
    best = weights / name / "checkpoints" / "best.keras"
    with zipfile.ZipFile(best) as archive:
        data = archive.read("model.weights.h5")
    cut = replace_member(best, tmp_path / "cut.keras", "model.weights.h5", data[: len(data) // 2])
    (tmp_path / "text.weights.h5").write_text("not weights")
    for broken in (cut, tmp_path / "text.weights.h5"):
        with pytest.raises(RunError, match="corrupt or truncated"):
            check_weights_file(broken)


def test_a_compressed_keras_file_is_checked_and_loads(tmp_path):
    """Keras stores model.weights.h5 uncompressed; a file zipped again with deflate still loads."""
    shipped = ROOT / "weights" / "jsb-rnn-nade" / "model.keras"
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(shipped) as source, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.namelist():
            target.writestr(member, source.read(member))
    assert load_model(deflated).get_weights()


def test_the_shipped_presets_pass_the_h5_check():
    for path in sorted((ROOT / "weights").glob("*/model.keras")):
        check_weights_file(path)
    assert load_model(ROOT / "weights" / "jsb-rnn-nade" / "model.keras").get_weights()
