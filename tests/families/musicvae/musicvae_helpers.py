"""Shared by the MusicVAE tests: tiny configs, a tiny built model, and the one-line error check."""
from __future__ import annotations

import json
from pathlib import Path

from zoo.cli import run_cli


def tiny_config(hier: bool = False, **overrides) -> dict:
    bottom = {"key": "greedy", "params": {"z_size": 8 if hier else 16, "decoder_args": {
        "key": "another", "params": {"z_size": 8 if hier else 16, "embed_size": 4, "hidden_size": 16, "n_layers": 1}}}}
    seq = bottom if not hier else {"key": "hier", "params": {
        "z_size": 16, "n_subsequences": 2,
        "conductor_args": {"key": "conductor", "params": {"hidden_size": 16, "n_layers": 1, "c_size": 8}},
        "seq_decoder_args": bottom}}
    config = {"slice_bar": 2, "z_size": 16, "num_steps": 4, "evaluate_interval": 2, "print_interval": 0,
              "advanced_interval": 2, "free_bits": 0, "batch_size": 8,
              "sampling_settings": {"schedule": "inverse_sigmoid", "rate": 2},
              "beta_settings": {"start_beta": 0.0, "end_beta": 0.2, "duration": 4},
              "encoder_params": {"embed_size": 4, "hidden_size": 16, "n_layers": 1}, "seq_decoder_args": seq}
    config.update(overrides)
    return config


def write_config(tmp_path: Path, config: dict, name: str = "config.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def check_error(capsys, main, argv, match: str) -> None:
    capsys.readouterr()
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and match in err[0], err


def tiny_model(hier: bool, autoregressive: bool = True):
    from zoo.families.musicvae.musicvae_config import resolve_config
    from zoo.families.musicvae.vae_model import MusicVAEModel

    config = tiny_config(hier)
    if not autoregressive:
        config["seq_decoder_args"]["params"]["disable_autoregression"] = True
    model = MusicVAEModel(resolve_config({k: (json.dumps(v) if isinstance(v, dict) else v)
                                          for k, v in config.items()})["model"])
    model.build()
    return model
