"""`python -m zoo evaluate` for cross-modal runs: the `lt_analyze.py` metrics and the PCA baseline.

On test-split mixtures (specs/crossmodal.md §8), from the posterior means (or, for the symbolic
side, the posterior predictive: label probabilities averaged over `--n_samples` posterior draws),
for reconstruction (same modality) and transfer (signal -> symbol = transcription, symbol ->
signal = synthesis):

    spectral_ll     Gaussian NLL of the normalised log magnitudes, summed over 410 bins, mean over frames (lower is better)
    isd             (1 / 2 pi) * sum_{bins} [e^x / e^mu - x + mu - 1], mean over frames
    symbolic_ll     per head log p(true class), mean over frames, averaged over instruments per label type
    classif         accuracy (trace / sum of each confusion matrix), averaged over instruments per label type
    classif_inv     a prediction is right if it equals that label of any instrument of the mixture

Baseline: PCA of the training mixtures to the latent size, then an MLP classifier (the symbol
VAE's hidden sizes, BatchNorm + ReLU, cross-entropy on logits). It trains on the notes the model
trained on: with `--pitch_shift K`, every training note at every transposition up to K semitones. Writes `analysis/metrics.csv`,
`analysis/confusion-*.png`, `analysis/latent.png` (and audio examples with `--generate_audio`)
into the run folder (outputs/NAME/ for a preset: `RunFolder.outputs`).

With a hierarchy of latent layers (several `--dims`), reconstruction decodes each modality from its
bottom (first) layer's posterior mean (the ELBO's reconstruction path), transfer goes through the
top (last) layer, the shared one (posterior means up, conditional-prior means down); the PCA
baseline reduces to the top layer's size, and the latent plot shows the top layer.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from zoo.atomic import atomic_path
from zoo.core.checkpoints import load_model, save_model
from zoo.core.flags import non_negative_int, positive_int
from zoo.core.optimizers import make_optimizer
from zoo.core.run_folder import RunConfig
from zoo.data.dataset import load_split, split_paths
from zoo.errors import DataError
from zoo.families.crossmodal.crossmodal_layers import ResidualMLP
from zoo.families.crossmodal.label_vectors import symbol_inputs
from zoo.families.crossmodal.mixtures import evaluation_mixtures
from zoo.families.crossmodal.note_labels import LABEL_SIZES
from zoo.families.crossmodal.plots import plot_confusions, plot_latents
from zoo.music import cqt
from zoo.music.audio import write_limited_wav

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding


def add_analysis_arguments(parser) -> None:
    """lt_analyze.py's options (0/1 switches as the original)."""
    parser.add_argument("--nb_passes", type=positive_int, default=1,
                        help="passes over the test mixtures (new weights each pass)")
    parser.add_argument("--random_mode", choices=["constant", "bernoulli"], default=None,
                        help="test mixture weights (default: the run's)")
    parser.add_argument("--classifier_epochs", type=positive_int, default=100,
                        help="baseline classifier epochs (original: 1000)")
    parser.add_argument("--classifier_bs", type=positive_int, default=64, help="baseline classifier batch size")
    parser.add_argument("--make_losses", type=int, choices=[0, 1], default=1, help="compute the model's metrics")
    parser.add_argument("--make_figures", type=int, choices=[0, 1], default=1, help="confusion and latent PNGs")
    parser.add_argument("--make_classifier", type=int, choices=[0, 1], default=1, help="train the PCA baseline")
    parser.add_argument("--evaluate_classifier", type=int, choices=[0, 1], default=1,
                        help="evaluate the PCA baseline (trained now, or saved by an earlier --make_classifier 1)")
    parser.add_argument("--generate_audio", type=non_negative_int, default=0,
                        help="write N test notes: original, reconstruction, synthesis from their labels")
    parser.add_argument("--n_samples", type=non_negative_int, default=0,
                        help="symbolic predictions from the posterior predictive: label probabilities averaged over N "
                             "posterior samples (0: decoded from the posterior mean)")


def heads(config: dict[str, Any]) -> list[tuple[int, str, int]]:
    """(instrument index, label, head size) of every symbolic head, in input order."""
    extra = int(config["zero_extra_class"])
    return [(i, label, LABEL_SIZES[label] + extra) for i in range(len(config["instruments"])) for label in config["labels"]]


def head_log_probs(logits: np.ndarray, config: dict[str, Any]) -> list[np.ndarray]:
    """Per head log-probabilities [N, classes] (binary labels: a Bernoulli per unit; the all-off
    pattern is the silent class, appended last when there is no extra class)."""
    out, start = [], 0
    for _, _, size in heads(config):
        part = logits[:, start:start + size].astype(np.float64)
        start += size
        if config["label_type"] == "binary":
            on, off = -np.logaddexp(0, -part), -np.logaddexp(0, part)
            one_hot = off.sum(1, keepdims=True) - off + on  # log p(exactly unit k on)
            if not config["zero_extra_class"]:
                one_hot = np.concatenate([one_hot, off.sum(1, keepdims=True)], axis=1)
            out.append(one_hot)
        else:
            out.append(part - np.logaddexp.reduce(part, axis=1, keepdims=True))
    return out


def true_classes(classes: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """Label indices [N, instruments, heads], silent as the last class (also without an extra class)."""
    sizes = np.array([LABEL_SIZES[label] for label in config["labels"]])
    return np.where(classes < 0, sizes[None, None, :], classes)


def symbolic_metrics(log_probs: list[np.ndarray], truth: np.ndarray, config: dict[str, Any]):
    """symbolic_ll, classif, classif_inv per label type, and the confusion matrix of each head."""
    per_label: dict[str, dict[str, list[float]]] = {label: {"symbolic_ll": [], "classif": [], "classif_inv": []}
                                                    for label in config["labels"]}
    confusions = {}
    predictions = np.stack([lp.argmax(1) for lp in log_probs], axis=1).reshape(truth.shape)
    for k, (i, label, _) in enumerate(heads(config)):
        h = config["labels"].index(label)
        target, predicted = truth[:, i, h], predictions[:, i, h]
        size = log_probs[k].shape[1]
        per_label[label]["symbolic_ll"].append(float(log_probs[k][np.arange(len(target)), target].mean()))
        confusion = np.zeros((size, size), np.int64)
        np.add.at(confusion, (target, predicted), 1)
        confusions[(config["instruments"][i], label)] = confusion
        per_label[label]["classif"].append(float(np.trace(confusion) / confusion.sum()))
        per_label[label]["classif_inv"].append(float((predicted[:, None] == truth[:, :, h]).any(axis=1).mean()))
    summary = {f"{metric}_{label}": float(np.mean(values))
               for label, metrics in per_label.items() for metric, values in metrics.items()}
    return summary, confusions


def signal_metrics(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> dict[str, float]:
    nll = 0.5 * (np.log(variance) + (x - mean) ** 2 / variance + np.log(2 * np.pi)).sum(axis=1)
    isd = (np.exp(x - mean) - x + mean - 1).sum(axis=1) / (2 * np.pi)
    return {"spectral_ll": float(nll.mean()), "isd": float(isd.mean())}


def symbol_log_probs(model, z_mean, z_var, config: dict[str, Any], n_samples: int, seed: int,
                     layer: int = -1) -> list[np.ndarray]:
    """Per head log-probabilities decoded from latent layer `layer`: from the posterior mean, or (n_samples > 0)
    the posterior predictive log E_q[p(label | z)], the probabilities averaged over n_samples posterior draws."""
    if n_samples <= 0:
        return head_log_probs(keras.ops.convert_to_numpy(model.decode_symbol(z_mean, layer=layer)), config)
    rng = np.random.default_rng(seed)
    draws = [head_log_probs(keras.ops.convert_to_numpy(model.decode_symbol(
        (z_mean + np.sqrt(z_var) * rng.standard_normal(z_mean.shape)).astype(np.float32), layer=layer)), config)
        for _ in range(n_samples)]
    # Mean of probabilities, not of logits: averaging logits is a geometric mean, not the predictive.
    return [np.logaddexp.reduce(np.stack(head), axis=0) - np.log(n_samples) for head in zip(*draws)]


def model_metrics(model, x, y, classes, config, n_samples: int, seed: int):
    """Every metric of both directions for one set of mixtures: ({name: value}, {direction: confusions}, latents)."""
    def posterior(encode, inputs, layer):
        return tuple(keras.ops.convert_to_numpy(t) for t in encode(inputs, layer=layer))

    z_sig, v_sig = posterior(model.encode_signal, x, -1)
    z_sym, v_sym = posterior(model.encode_symbol, y, -1)
    # Reconstruction from the bottom layer (the same tensors as the top ones with a single layer).
    z_sig_0, _ = posterior(model.encode_signal, x, 0) if model.num_latent_layers > 1 else (z_sig, v_sig)
    z_sym_0, v_sym_0 = posterior(model.encode_symbol, y, 0) if model.num_latent_layers > 1 else (z_sym, v_sym)
    truth = true_classes(classes, config)
    numbers, confusions = {}, {}
    for direction, z_signal_side, z_symbol_side, v_symbol_side, layer in (
            ("reconstruction", z_sig_0, z_sym_0, v_sym_0, 0), ("transfer", z_sym, z_sig, v_sig, -1)):
        mean, variance = (keras.ops.convert_to_numpy(t) for t in model.decode_signal(z_signal_side, layer=layer))
        for key, value in signal_metrics(x, mean, variance).items():
            numbers[f"{direction}_{key}"] = value
        log_probs = symbol_log_probs(model, z_symbol_side, v_symbol_side, config, n_samples, seed, layer)
        summary, confusions[direction] = symbolic_metrics(log_probs, truth, config)
        numbers.update({f"{direction}_{key}": value for key, value in summary.items()})
    return numbers, confusions, (z_sig, z_sym)


# ---------------------------------------------------------------- PCA baseline
def fit_pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], components [D, dims]) of the principal components of x."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:dims].T


def build_classifier(config: dict[str, Any], dims: int) -> keras.Model:
    """The baseline: n x (Dense -> BatchNorm -> ReLU) with the symbol VAE's sizes, then all heads' logits."""
    inputs = keras.Input((dims,))
    h = ResidualMLP(config["hidden_dims_2"][0], config["hidden_num_2"][0], residual=False, name="trunk")(inputs)
    logits = keras.layers.Dense(sum(size for _, _, size in heads(config)), dtype="float32", name="logits")(h)
    return keras.Model(inputs, logits, name="pca_baseline")


def train_classifier(features: np.ndarray, y: np.ndarray, config: dict[str, Any], epochs: int, batch_size: int,
                     seed: int) -> keras.Model:
    """Fits the baseline with summed per-head cross-entropies on logits (Adam 1e-3, LR on plateau)."""
    import tensorflow as tf

    sizes = [size for _, _, size in heads(config)]
    binary = config["label_type"] == "binary"

    def loss(y_true, logits):
        if binary:
            return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits), axis=-1)
        parts = zip(tf.split(y_true, sizes, axis=-1), tf.split(logits, sizes, axis=-1))
        return tf.add_n([tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=p) for t, p in parts])

    keras.utils.set_random_seed(seed)
    classifier = build_classifier(config, features.shape[1])
    classifier.compile(optimizer=make_optimizer("adam", 1e-3), loss=loss)
    classifier.fit(features, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True,
                   callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.2, patience=20)])
    return classifier


# ---------------------------------------------------------------- the hook
def analyse(model, config, encoding: NotesEncoding, split, args, run) -> dict[str, float]:
    """The `evaluate` hook: metrics averaged over `--nb_passes`, CSV and PNGs in weights/NAME/analysis/ (a preset's
    in outputs/NAME/analysis/)."""
    out = run.outputs / "analysis"
    run.check_no_links(out)
    out.mkdir(parents=True, exist_ok=True)
    mode = args.get("random_mode") or config["random_mode"]
    numbers: dict[str, float] = {}
    passes = [evaluation_mixtures(split.pieces, config, encoding, mode, seed=p) for p in range(args["nb_passes"])]
    rows = []
    if args["make_losses"]:
        results = [model_metrics(model, x, y, c, config, args["n_samples"], p) for p, (x, y, c, _) in enumerate(passes)]
        numbers = {key: float(np.mean([r[0][key] for r in results])) for key in results[0][0]}
        rows += [_row(key, value) for key, value in numbers.items()]
        if args["make_figures"]:
            for direction, confusions in results[0][1].items():
                plot_confusions(confusions, out / f"confusion-{direction}.png", direction)
            z_signal, z_symbol = results[0][2]
            mean, components = fit_pca(z_signal, 2)  # the signal latents' first two principal axes
            plot_latents((z_signal - mean) @ components, (z_symbol - mean) @ components, passes[0][2], config,
                         out / "latent.png")
    if args["make_classifier"] or args["evaluate_classifier"]:
        baseline = _baseline(model, config, encoding, passes, args, out, mode)
        numbers.update(baseline)
        rows += [_row(key, value) for key, value in baseline.items()]
    if args["generate_audio"] > 0:
        _audio_examples(model, config, encoding, split, args["generate_audio"], out)
    with atomic_path(out / "metrics.csv") as tmp, open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["direction", "metric", "label", "value"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out / 'metrics.csv'} and figures in {out}", file=sys.stderr)
    return {"test_frames": int(len(passes[0][0])), "random_mode": mode, **numbers}


def _row(key: str, value: float) -> dict[str, Any]:
    direction, metric = key.split("_", 1)
    label = ""
    for name in ("octave", "pitch", "dynamics"):
        if metric.endswith("_" + name):
            metric, label = metric[: -len(name) - 1], name
    return {"direction": direction, "metric": metric, "label": label, "value": value}


def _baseline(model, config, encoding, passes, args, out: Path, mode: str) -> dict[str, float]:
    pca_path, classifier_path = out / "baseline_pca.npz", out / "baseline_classifier.keras"
    if args["make_classifier"]:
        # The training split the run recorded (a run trained on the rendered default has no -p to go by).
        recorded = config.data.get("train") if isinstance(config, RunConfig) else None
        train_path = recorded or (split_paths(config["data_path"]).get("train") if config.get("data_path") else None)
        if train_path is None or not Path(train_path).is_file():
            raise DataError("the PCA baseline trains on the run's training split, which is gone "
                            f"({config.get('data_path')}); use --make_classifier 0")
        # the notes the model trained on, with its --pitch_shift transpositions
        x, y, _, _ = evaluation_mixtures(load_split(train_path).pieces, config, encoding, mode, seed=1000,
                                         transposed=True)
        mean, components = fit_pca(x, config["dims"][-1])
        classifier = train_classifier((x - mean) @ components, y, config, args["classifier_epochs"],
                                      args["classifier_bs"], config["seed"])
        with atomic_path(pca_path) as tmp:
            np.savez(tmp, mean=mean, components=components)
        save_model(classifier, classifier_path)
    if not args["evaluate_classifier"]:
        return {}
    if not pca_path.is_file() or not classifier_path.is_file():
        raise DataError(f"no saved PCA baseline in {out} (run with --make_classifier 1 first)")
    with np.load(pca_path) as saved:
        mean, components = saved["mean"], saved["components"]
    classifier = load_model(classifier_path)
    results = []
    for x, _, classes, _ in passes:
        logits = keras.ops.convert_to_numpy(classifier((x - mean) @ components, training=False))
        results.append(symbolic_metrics(head_log_probs(logits, config), true_classes(classes, config), config)[0])
    return {f"baseline_{key}": float(np.mean([r[key] for r in results])) for key in results[0]}


def _audio_examples(model, config, encoding: NotesEncoding, split, count: int, out: Path) -> None:
    """Test notes of the run's first instrument: original, signal reconstruction and synthesis from labels."""
    first = encoding.instruments.index(config["instruments"][0])
    notes = [p for p in split.pieces if int(p["instrument"][0]) == first][:count]
    for n, piece in enumerate(notes):
        magnitudes = np.exp(piece["logmag"].astype(np.float32))
        classes = np.zeros((len(magnitudes), len(config["instruments"]), 3), np.int64)
        classes[:, 0] = np.stack([piece[k] for k in ("octave", "pitch", "dynamics")], axis=1)
        present = np.zeros(classes.shape[:2], bool)
        present[:, 0] = True
        z_sig = keras.ops.convert_to_numpy(model.encode_signal(encoding.normalise(magnitudes), layer=0)[0])
        z_sym = keras.ops.convert_to_numpy(model.encode_symbol(symbol_inputs(classes, present, config, encoding))[0])
        name = f"test-{n}-midi{int(piece['midi'][0])}"
        write_limited_wav(cqt.griffin_lim(magnitudes), out / f"{name}-original.wav", cqt.SAMPLE_RATE)
        for tag, z, layer in (("reconstruction", z_sig, 0), ("from-labels", z_sym, -1)):
            mean, _ = model.decode_signal(z, layer=layer)
            write_limited_wav(cqt.griffin_lim(encoding.denormalise(keras.ops.convert_to_numpy(mean))),
                              out / f"{name}-{tag}.wav", cqt.SAMPLE_RATE)
