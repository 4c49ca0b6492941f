"""The house plan, checked: the registry loads one family at a time, `prepare` stays free of
TensorFlow, and the private-name rule that `lint-imports` enforces (see pyproject.toml) catches
what it should. The other import rules are import-linter's own contracts, run by .ci/run."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT

REPORT_MODULES = """
import json, sys
families = sorted({m.split(".")[2] for m in sys.modules if m.startswith("zoo.families.") and m.count(".") >= 2})
print("MODULES " + json.dumps({"families": families, "tensorflow": "tensorflow" in sys.modules}))
"""


def _run_and_report(code: str) -> dict:
    """Runs `code` in a fresh interpreter, then reports which families and whether TensorFlow it imported."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code) + REPORT_MODULES], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    return json.loads(line[len("MODULES "):])


def test_generate_loads_only_the_family_of_the_run(trained_run, tmp_path):
    weights, name = trained_run
    report = _run_and_report(f"""
        from zoo.cli import generate_main, run_cli
        assert run_cli(generate_main, ["-n", {name!r}, "-w", {str(weights)!r}, "--num_outputs", "1",
                                       "--length", "16", "--output_dir", {str(tmp_path)!r}]) == 0
    """)
    assert report["families"] == ["lstm"]
    assert list(tmp_path.glob("*.mid"))


@pytest.mark.parametrize("name, family", [("transformer", "transformer"), ("poex", "leadsheet"),
                                          ("rnn_rbm", "rnn_piano"), ("crossmodal", "crossmodal")])
def test_the_registry_imports_the_family_asked_for_alone(name, family):
    report = _run_and_report(f"""
        from zoo.core.registry import get_model_type, model_type_names
        assert {name!r} in model_type_names()
        assert get_model_type({name.upper()!r}).name == {name!r}
    """)
    assert report["families"] == [family]


@pytest.mark.parametrize("encoding, family", [("melody", "musicvae"), ("poex", "leadsheet"),
                                              ("multitrack", "multinn"), ("notes", "crossmodal"),
                                              ("event", None)])
def test_finding_an_encoding_imports_its_module_and_no_tensorflow(encoding, family):
    report = _run_and_report(f"""
        from zoo.encodings import get_encoding_class
        assert get_encoding_class({encoding!r}).name == {encoding!r}
    """)
    assert report["families"] == ([family] if family else [])
    assert not report["tensorflow"]


def test_help_and_flag_parsing_run_without_tensorflow(trained_run):
    """--help and the parsing of every type's flags read only the TensorFlow-free flags modules."""
    weights, name = trained_run
    report = _run_and_report(f"""
        import contextlib, io
        from zoo.cli import parse_generate_args, parse_training_args
        for argv in (["--help"], ["-m", "compae", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
                parse_training_args(argv)
            assert "--manager" in out.getvalue()
        assert parse_training_args(["-m", "rnn_rbm", "-n", "x", "--gibbs_k", "3"])["batch_size"] == 10
        assert parse_generate_args(["-n", {name!r}, "-w", {str(weights)!r}, "--length", "16"])["length"] == 16
    """)
    assert not report["tensorflow"]


def test_prepare_runs_without_tensorflow(tmp_path, chorale_files):
    report = _run_and_report(f"""
        from zoo.cli import run_cli, zoo_main
        assert run_cli(zoo_main, ["prepare", "--input", *{chorale_files[:4]!r}, "--encoding", "melody",
                                  "-o", {str(tmp_path / "data")!r}]) == 0
    """)
    assert not report["tensorflow"] and (tmp_path / "data" / "train.pkl").is_file()


def test_loading_a_keras_file_imports_the_family_it_names_alone(tmp_path):
    path = tmp_path / "block.keras"
    _run_and_report(f"""
        import keras
        from zoo.core.checkpoints import save_model
        from zoo.families.transformer.transformer_block import TransformerBlock
        inputs = keras.Input((8, 16))
        save_model(keras.Model(inputs, TransformerBlock(num_heads=2, ff_dim=8, max_seq_len=8)(inputs)), {str(path)!r})
    """)
    report = _run_and_report(f"""
        from zoo.core.checkpoints import load_model
        assert load_model({str(path)!r}).count_params() > 0
    """)
    assert report["families"] == ["transformer"]


def test_every_registered_name_is_registered_by_the_module_the_table_names():
    from zoo.core import registry
    from zoo.encodings import base

    for name in registry.model_type_names():
        model_type = registry.get_model_type(name)
        assert model_type.name == name and model_type.__module__ == registry.MODEL_TYPES[name][0]
        assert issubclass(model_type, registry.get_model_flags(name)) and registry.get_model_flags(name).name == name
    for name in base.encoding_names():
        assert base.get_encoding_class(name).__module__ == base.ENCODING_MODULES[name]


def test_the_private_name_contract_finds_reach_ins(tmp_path):
    sys.path.insert(0, str(ROOT))
    try:
        from tools.import_contracts import private_reach_ins
    finally:
        sys.path.remove(str(ROOT))
    source = tmp_path / "b.py"
    source.write_text(textwrap.dedent("""
        from pkg.a import _hidden, shown
        from . import a as alias
        from .a import __version__
        import pkg.a as other
        _own = 1

        def f():
            return alias._secret() + other._more + alias.public + _own
    """))
    found = [what for _, what in private_reach_ins("pkg.b", source, {"pkg", "pkg.a", "pkg.b"})]
    assert found == ["from pkg.a import _hidden", "pkg.a._more", "pkg.a._secret"]


def test_the_import_contracts_hold():
    """The same check .ci/run makes, so a broken rule also fails a local test run."""
    done = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
