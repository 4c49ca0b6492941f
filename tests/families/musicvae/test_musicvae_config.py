"""MusicVAE's configuration: the shipped JSON configs resolve, and bad ones are one-line errors."""
from __future__ import annotations

from musicvae_helpers import check_error, tiny_config, write_config

from zoo.cli import training_main
from zoo.families.musicvae.musicvae_config import CONFIG_DIR, resolve_config


def test_shipped_configs_resolve():
    for path in CONFIG_DIR.glob("*.json"):
        assert resolve_config({"config": str(path)})["model"]["decoder"]["seq_len"] % 16 == 0
    flat = resolve_config({"config": str(CONFIG_DIR / "flat_8bar.json")})["model"]
    hier = resolve_config({"config": str(CONFIG_DIR / "hier_8bar.json")})["model"]
    assert flat["decoder"] == {"seq_len": 128, "decoder": "another", "embed_size": 12, "hidden_size": 2048, "n_layers": 3}
    assert hier["decoder"]["n_subsequences"] == 8 and hier["decoder"]["c_size"] == 512
    assert hier["encoder_params"]["n_layers"] == 2 and flat["feedback_temperature"] == 0.0
    # A flag of the same name overrides the file.
    assert resolve_config({"config": str(CONFIG_DIR / "flat_8bar.json"), "slice_bar": 2})["model"]["decoder"]["seq_len"] == 32


def test_bad_configs_are_one_line_errors(tmp_path, capsys):
    base = ["-m", "musicvae", "-n", "x", "-w", str(tmp_path / "w")]
    bad_key = tiny_config()
    bad_key["seq_decoder_args"]["params"]["decoder_args"]["key"] = "transformer"
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, bad_key)], "unknown decoder key 'transformer'")
    three = tiny_config(hier=True)
    three["seq_decoder_args"]["params"]["n_subsequences"] = 3
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, three)], "does not divide")
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, {"z_sise": 3})], "unknown key(s) z_sise")
    check_error(capsys, training_main, base + ["--seq_decoder_args", '{"key": "beam"}'], "unknown decoder key 'beam'")
    check_error(capsys, training_main, base + ["--config", str(tmp_path / "missing.json")], "no such file")


def test_disable_autoregression_is_checked(tmp_path, capsys):
    base = ["-m", "musicvae", "-n", "x", "-w", str(tmp_path / "w")]
    flat = tiny_config()
    flat["seq_decoder_args"]["params"]["disable_autoregression"] = True
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, flat)], "unknown key(s) disable_autoregression")
    not_bool = tiny_config(hier=True)
    not_bool["seq_decoder_args"]["params"]["disable_autoregression"] = "yes"
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, not_bool)], "must be true or false")
    simple = tiny_config(hier=True)
    simple["seq_decoder_args"]["params"]["disable_autoregression"] = True
    simple_decoder = simple["seq_decoder_args"]["params"]["seq_decoder_args"]["params"]["decoder_args"]
    simple_decoder["key"] = "simple"
    del simple_decoder["params"]["z_size"]
    check_error(capsys, training_main, base + ["--config", write_config(tmp_path, simple)], "needs the bottom decoder 'another'")


def test_config_file_keys_have_their_flags_ranges(tmp_path, capsys):
    """A key from the file goes through the range its flag declares (zoo/core/flags.py)."""
    base = ["-m", "musicvae", "-n", "x", "-w", str(tmp_path / "w")]
    for key, value, message in [("z_size", 0, "z_size: must be at least 1 (got 0)"),
                                ("lr_scheduler_factor", 1.5, "lr_scheduler_factor: must be in (0, 1) (got 1.5)"),
                                ("free_bits", -1, "free_bits: must be 0 or more (got -1)"),
                                ("batch_size", 0, "batch_size: must be at least 1 (got 0)"),
                                ("slice_bar", 2.5, "slice_bar must be an integer, got 2.5")]:
        config = write_config(tmp_path, tiny_config(**{key: value}))
        check_error(capsys, training_main, base + ["--config", config], message)
    check_error(capsys, training_main, base + ["--z_size", "0"], "argument --z_size: must be at least 1 (got 0)")
