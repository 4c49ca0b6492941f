"""MusicVAE's configuration: symusic's JSON keys, merged from defaults, a file and flags, and checked.

`resolve_config(args)` returns every top-level key of the seed's config plus "model", the
normalised arguments of `MusicVAEModel`. Bad configs raise UsageError naming the key and the fix.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from zoo.core.flags import non_negative_float, non_negative_int, open_fraction, positive_int
from zoo.errors import UsageError
from zoo.families.musicvae.melody_encoding import STEPS_PER_BAR

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "flat_8bar.json"

# name -> (type, help) of every symusic key that is also a training.py flag; a numeric key's type is its range
# (zoo.core.flags), which checks the value from a config file too.
CONFIG_FLAGS: dict[str, tuple[Callable[[str], Any], str]] = {
    "z_size": (positive_int, "size of the latent space"),
    "encoder_params": (str, "encoder: {embed_size, hidden_size, n_layers} (bidirectional LSTM)"),
    "seq_decoder_args": (str, "sequence decoder: {key: greedy|sample|hier, params: {...}}"),
    "num_steps": (positive_int, "training steps (sets -e unless given)"),
    "lr_scheduler_factor": (open_fraction, "learning-rate factor on an evaluation-loss plateau"),
    "lr_scheduler_patience": (non_negative_int, "evaluations without improvement before the learning rate drops"),
    "sampling_settings": (str, "scheduled sampling: {schedule: constant|inverse_sigmoid, rate}"),
    "beta_settings": (str, "KL weight: {start_beta, end_beta, duration}"),
    "free_bits": (non_negative_float, "KL (in bits, per example) that costs nothing"),
    "slice_bar": (positive_int, "melody length in bars (16 steps each)"),
    "train_dir": (str, "folder of music files to train on (instead of -p)"),
    "eval_dir": (str, "folder of music files to evaluate on during training"),
    "ckpt_path": (str, "start from the weights of this saved model (.keras or .weights.h5): --init_from FILE"),
    "evaluate_interval": (positive_int, "training steps between evaluations (one epoch; --steps_per_epoch wins)"),
    "advanced_interval": (non_negative_int, "steps between reconstruction/sample audio in TensorBoard (0: never)"),
    "print_interval": (non_negative_int, "steps between printed training losses (0: never)"),
    "num_workers": (non_negative_int, "reader processes for train_dir/eval_dir"),
}
JSON_FLAGS = {"encoder_params", "seq_decoder_args", "sampling_settings", "beta_settings"}
GENERAL_KEYS = {"batch_size", "learning_rate"}  # keys of the file that are general training.py flags
SEQ_DECODERS = ("greedy", "hier", "sample")
STEP_DECODERS = ("another", "conductor", "simple")


def _read_json(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--config {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must hold a JSON object of symusic config keys")
    return data


def _dict(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise UsageError(f"{where} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a JSON object, got {value!r}")
    return value


def _params(spec: dict[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    params = _dict(spec.get("params", {}), f"{where}.params")
    unknown = sorted(set(params) - set(required) - set(optional))
    if unknown:
        raise UsageError(f"{where}.params: unknown key(s) {', '.join(unknown)} (known: {', '.join(required + optional)})")
    missing = [key for key in required if key not in params]
    if missing:
        raise UsageError(f"{where}.params is missing {', '.join(missing)}")
    for key in required + optional:
        if key == "disable_autoregression":
            if not isinstance(params.get(key, False), bool):
                raise UsageError(f"{where}.params.{key} must be true or false, got {params[key]!r}")
            continue
        nested = key in ("temperature", "decoder_args", "conductor_args", "seq_decoder_args")
        if key in params and not nested and (not isinstance(params[key], int) or params[key] < 1):
            raise UsageError(f"{where}.params.{key} must be a positive integer, got {params[key]!r}")
    return params


def _key(spec: dict[str, Any], where: str, known: tuple[str, ...]) -> str:
    key = spec.get("key")
    if key not in known:
        raise UsageError(f"unknown decoder key {key!r} in {where} (known: {', '.join(known)})")
    return key


def _flat_decoder(spec: dict[str, Any], where: str, context_size: int, context_name: str) -> dict[str, Any]:
    """greedy/sample + its step decoder -> the bottom decoder's arguments."""
    spec = _dict(spec, where)
    key = _key(spec, where, ("greedy", "sample") if where != "seq_decoder_args" else SEQ_DECODERS)
    params = _params(spec, where, ("z_size", "decoder_args"), ("temperature",) if key == "sample" else ())
    if params["z_size"] != context_size:
        raise UsageError(f"{where}.params.z_size is {params['z_size']} but its context ({context_name}) has {context_size}")
    dec_where = f"{where}.params.decoder_args"
    dec = _dict(params["decoder_args"], dec_where)
    dec_key = _key(dec, dec_where, STEP_DECODERS)
    if dec_key == "conductor":
        raise UsageError(f"{dec_where}: 'conductor' is only valid as a hier decoder's conductor_args")
    dec_params = _params(dec, dec_where, ("embed_size", "hidden_size", "n_layers"),
                         ("z_size",) if dec_key == "another" else ())
    if dec_key == "another" and dec_params.get("z_size", context_size) != context_size:
        raise UsageError(f"{dec_where}.params.z_size is {dec_params['z_size']} but its context has {context_size}")
    temperature = float(params.get("temperature", 1.0))
    if temperature <= 0:
        raise UsageError(f"{where}.params.temperature must be positive, got {temperature}")
    return {
        "decoder": {"decoder": dec_key, "embed_size": dec_params["embed_size"],
                    "hidden_size": dec_params["hidden_size"], "n_layers": dec_params["n_layers"]},
        "feedback_temperature": temperature if key == "sample" else 0.0,
    }


def model_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The `MusicVAEModel` config from the checked symusic keys."""
    seq_len = config["slice_bar"] * STEPS_PER_BAR
    z_size = config["z_size"]
    spec = _dict(config["seq_decoder_args"], "seq_decoder_args")
    key = _key(spec, "seq_decoder_args", SEQ_DECODERS)
    if key == "hier":
        params = _params(spec, "seq_decoder_args", ("z_size", "n_subsequences", "conductor_args", "seq_decoder_args"),
                         ("disable_autoregression",))
        if params["z_size"] != z_size:
            raise UsageError(f"seq_decoder_args.params.z_size is {params['z_size']} but z_size is {z_size}")
        n_sub = params["n_subsequences"]
        if seq_len % n_sub:
            raise UsageError(f"hier decoder: n_subsequences {n_sub} does not divide the sequence of {seq_len} steps "
                             f"(slice_bar {config['slice_bar']} x 16); pick a divisor such as {config['slice_bar']}")
        cond_where = "seq_decoder_args.params.conductor_args"
        cond = _dict(params["conductor_args"], cond_where)
        if _key(cond, cond_where, STEP_DECODERS) != "conductor":
            raise UsageError(f"{cond_where}.key must be 'conductor', got {cond['key']!r}")
        cond_params = _params(cond, cond_where, ("hidden_size", "n_layers", "c_size"))
        bottom = _flat_decoder(params["seq_decoder_args"], "seq_decoder_args.params.seq_decoder_args",
                               cond_params["c_size"], "the conductor's c_size")
        autoregressive = not params.get("disable_autoregression", False)
        if not autoregressive and bottom["decoder"]["decoder"] != "another":
            raise UsageError("seq_decoder_args.params.disable_autoregression needs the bottom decoder 'another' "
                             "(the conductor embedding is its only input)")
        bottom["decoder"].update(n_subsequences=n_sub, conductor_hidden=cond_params["hidden_size"],
                                 conductor_layers=cond_params["n_layers"], c_size=cond_params["c_size"],
                                 autoregressive=autoregressive)
    else:
        bottom = _flat_decoder(spec, "seq_decoder_args", z_size, "z_size")
    encoder = _params({"params": config["encoder_params"]}, "encoder_params", ("embed_size", "hidden_size", "n_layers"))
    return {
        "z_size": z_size,
        "encoder_params": encoder,
        "decoder": {"seq_len": seq_len, **bottom["decoder"]},
        "feedback_temperature": bottom["feedback_temperature"],
        "free_bits": config["free_bits"],
        "beta_settings": config["beta_settings"],
        "sampling_settings": config["sampling_settings"],
    }


def _check_schedules(config: dict[str, Any]) -> None:
    sampling = _dict(config["sampling_settings"], "sampling_settings")
    if sampling.get("schedule") not in ("constant", "inverse_sigmoid") or not isinstance(sampling.get("rate"), (int, float)):
        raise UsageError(f"sampling_settings must be {{schedule: constant|inverse_sigmoid, rate: number}}, got {sampling}")
    if sampling["schedule"] == "constant" and not 0 <= sampling["rate"] <= 1:
        raise UsageError(f"sampling_settings: a constant rate is a probability in [0, 1], got {sampling['rate']}")
    if sampling["schedule"] == "inverse_sigmoid" and sampling["rate"] < 1:
        raise UsageError(f"sampling_settings: the inverse_sigmoid rate k must be >= 1, got {sampling['rate']}")
    beta = _dict(config["beta_settings"], "beta_settings")
    if set(beta) != {"start_beta", "end_beta", "duration"}:
        raise UsageError(f"beta_settings needs exactly start_beta, end_beta, duration; got {sorted(beta)}")
    if not (0 <= beta["start_beta"] <= beta["end_beta"] < 1 or beta["start_beta"] == beta["end_beta"]):
        raise UsageError(f"beta_settings: need 0 <= start_beta <= end_beta < 1, got {beta}")
    config["sampling_settings"] = {"schedule": sampling["schedule"], "rate": float(sampling["rate"])}
    config["beta_settings"] = {k: float(v) for k, v in beta.items()}


def _check_range(name: str, kind: Callable[[str], Any], value: Any) -> None:
    """A numeric key's value (from the file or a flag) through its flag's range; an integer key takes no float."""
    if kind in (positive_int, non_negative_int) and not isinstance(value, int):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    try:
        kind(value)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"{name}: {error}") from None


def resolve_config(args: dict[str, Any]) -> dict[str, Any]:
    """Defaults <- --config file <- flags; checked and completed with "model"."""
    config = _read_json(str(DEFAULT_CONFIG))
    if args.get("config"):
        given = _read_json(args["config"])
        unknown = sorted(set(given) - set(CONFIG_FLAGS) - GENERAL_KEYS)
        if unknown:
            raise UsageError(f"--config {args['config']}: unknown key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(set(CONFIG_FLAGS) | GENERAL_KEYS))})")
        config.update(given)
    for name in CONFIG_FLAGS:
        if args.get(name) is not None:
            config[name] = _dict(args[name], f"--{name}") if name in JSON_FLAGS else args[name]
    for name in JSON_FLAGS:
        config[name] = _dict(config[name], name)
    ranges = {name: kind for name, (kind, _) in CONFIG_FLAGS.items() if kind is not str}
    for name, kind in {**ranges, "batch_size": positive_int}.items():
        _check_range(name, kind, config[name])
    _check_schedules(config)
    config["model"] = model_arguments(config)
    return config
