"""Training the U-Net: HDF5 cache → tf.data → Keras ``fit`` with callbacks, then a clean export and a model card.

Used by ``python -m helpers.train`` (``make pretrained``) and notebook 05.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from helpers import data, models, spectral
from helpers.exceptions import ParameterError

#: The shipped checkpoint, trained by ``make pretrained`` on the generated dataset.
PRETRAINED = Path(__file__).resolve().parent / "pretrained" / "unet_vocals_drums.keras"


def distribution_strategy():
    """``MirroredStrategy`` when several GPUs are visible, else TensorFlow's default strategy.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Returns
    -------
    strategy : tf.distribute.Strategy
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def model_config(model) -> dict:
    """Read back the :func:`helpers.models.unet` arguments that rebuild ``model`` (stored in its model card).

    Everything is read from the model itself — input shape, output names, encoder layers — so it also works on a
    model loaded from a file.

    Returns
    -------
    config : dict
        ``targets``, ``n_bins``, ``n_frames``, ``base_filters``, ``depth``.
    """
    encoders = [layer for layer in model.layers if layer.name.startswith("encoder_") and layer.name[8:].isdigit()]
    return {"targets": list(model.output), "n_bins": int(model.input_shape[1]), "n_frames": int(model.input_shape[2]),
            "base_filters": int(encoders[0].filters), "depth": len(encoders)}


def train_unet(train_tracks, valid_tracks, model_path, targets=("vocals", "drums"), epochs: int = 30,
               batch_size: int = 8, sample_rate: int = spectral.SAMPLE_RATE, n_fft: int = spectral.N_FFT,
               hop_length: int = spectral.HOP_LENGTH, n_frames: int = 128, base_filters: int = 8, depth: int = 5,
               learning_rate: float = 1e-3, patience: int = 8, seed: int = 0, cache_dir=None, log_dir=None,
               verbose: int = 1):
    """Train a U-Net on musdb tracks and save the best model (by validation loss) to ``model_path``.

    Callbacks: ``ModelCheckpoint`` (best only, ``.keras``), ``EarlyStopping`` (restoring the best weights),
    ``ReduceLROnPlateau``, ``CSVLogger`` (``model_path`` with ``.csv``) and, with ``log_dir``, ``TensorBoard``.
    The model is built and compiled under :func:`distribution_strategy`. The saved file holds no optimizer
    state (smaller, and loads for inference without it).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    train_tracks, valid_tracks : sequence of musdb.MultiTrack
    model_path : str or os.PathLike
        Destination ``.keras`` file.
    targets : sequence of str
    epochs, batch_size : int > 0
    sample_rate, n_fft, hop_length, n_frames : int
        STFT and patch settings (the cache's).
    base_filters, depth : int
        U-Net size (see :func:`helpers.models.unet`).
    learning_rate : float
        Adam's initial rate.
    patience : int
        Epochs without improvement before early stopping (the learning rate halves after ``patience // 2``).
    seed : int
    cache_dir : str or os.PathLike or None
        Where the HDF5 caches go (default ``data/cache``).
    log_dir : str or os.PathLike or None
        TensorBoard logs.
    verbose : int
        Keras's progress bar (1) or none (0).

    Returns
    -------
    model : keras.Model
        With the best weights.
    history : dict[str, list[float]]
        Per-epoch ``loss``, ``val_loss`` and per-head ``<target>_loss``, ``val_<target>_loss``.
    seconds : float
        Training wall time (the caches excluded).

    Raises
    ------
    ParameterError
        If ``model_path`` does not end in ``.keras``, a count is not positive, or there are no tracks.
    """
    import keras

    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ParameterError(f"model_path={str(model_path)!r} must end in .keras")
    if epochs <= 0 or batch_size <= 0:
        raise ParameterError(f"epochs={epochs} and batch_size={batch_size} must be positive")
    if not train_tracks or not valid_tracks:
        raise ParameterError("train_tracks and valid_tracks must not be empty")
    targets = data.check_targets(targets)
    keras.utils.set_random_seed(seed)
    cache_dir = Path(cache_dir) if cache_dir is not None else data.data_dir() / "cache"
    settings = dict(targets=targets, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_frames=n_frames)
    tag = f"{'-'.join(targets)}_{sample_rate}_{n_fft}_{hop_length}_{n_frames}"  # one cache per setting
    train_cache = data.build_cache(train_tracks, cache_dir / f"unet_train{len(train_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    valid_cache = data.build_cache(valid_tracks, cache_dir / f"unet_valid{len(valid_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    train_data = data.tf_dataset(train_cache, targets, batch_size, shuffle=True, seed=seed)
    valid_data = data.tf_dataset(valid_cache, targets, batch_size, shuffle=False)
    config = dict(targets=targets, n_bins=n_fft // 2 + 1, n_frames=n_frames, base_filters=base_filters, depth=depth)
    with distribution_strategy().scope():
        model = models.unet(**config)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss={t: "mae" for t in targets})
    model_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = model_path.with_name(f".{model_path.stem}.training.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, patience // 2)),
        keras.callbacks.CSVLogger(model_path.with_suffix(".csv")),
    ]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    start = time.perf_counter()
    history = model.fit(train_data, validation_data=valid_data, epochs=epochs, callbacks=callbacks, verbose=verbose,
                        shuffle=False)  # the tf.data stream shuffles itself
    seconds = time.perf_counter() - start
    export(model, model_path)
    checkpoint.unlink(missing_ok=True)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds


def export(model, path) -> Path:
    """Save a trained U-Net without optimizer state, atomically (temporary file, then rename).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Returns
    -------
    path : pathlib.Path
    """
    import os
    import tempfile

    from helpers.audio import publish

    path = Path(path)
    clean = models.unet(**model_config(model))
    clean.set_weights(model.get_weights())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(fd)
    try:
        clean.save(tmp)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256(path) -> str:
    """Hex SHA-256 of a file (the model card records it; a test checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_unet(path=None):
    """Load a U-Net saved by :func:`train_unet` (default: the shipped checkpoint) with Keras safe mode.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    path : str or os.PathLike or None

    Returns
    -------
    model : keras.Model
    card : dict
        The JSON model card beside the file (settings, scores, checksum), or ``{}`` if there is none.

    Raises
    ------
    ParameterError
        If the file is missing or is not a loadable Keras model.
    """
    path = Path(path) if path is not None else PRETRAINED
    if not path.is_file():
        raise ParameterError(f"{path}: no such model file (train one with `make pretrained`)")
    import keras

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # keras raises ValueError, OSError, zipfile errors...
        raise ParameterError(f"{path}: not a loadable Keras model ({type(exc).__name__}: {exc})") from None
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return model, card


def separate_unet(model, mixture: np.ndarray, n_fft: int = spectral.N_FFT,
                  hop_length: int = spectral.HOP_LENGTH) -> dict:
    """Separate a mixture (at the model's sample rate) with a U-Net: each channel masked, mixture phase kept.

    Patches do not overlap here; notebook 06 and :mod:`helpers.separate` add overlapping windows.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
    n_fft, hop_length : int

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=mixture.shape]], float32
    """
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    masks = models.unet_masks(model, np.abs(mixture_stft))
    return {t: spectral.istft(m * mixture_stft, hop_length=hop_length, length=mixture.shape[-1])
            for t, m in masks.items()}


def score_on_tracks(tracks, estimators: dict, targets=("vocals", "drums"), sample_rate: int = spectral.SAMPLE_RATE,
                    baselines=("MIX", "HALF", "IRM1")) -> list:
    """Score baselines and estimators on tracks (BSS Eval, SiSEC-style), ready for :func:`results_table`.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    tracks : sequence of musdb.MultiTrack
    estimators : dict[str, callable]
        Name → function ``mixture (n_channels, n_samples) -> {target: estimate}``.
    targets : sequence of str
    sample_rate : int
        Scoring rate (Hz).
    baselines : sequence of str
        Methods of :func:`helpers.evaluation.baselines`.

    Returns
    -------
    per_track : list of dict
        ``scores[method][target][metric]`` per track.
    """
    from helpers import evaluation

    per_track = []
    for track in tracks:
        arrays = data.track_arrays(track, ("vocals", "drums", "bass", "other"), sample_rate=sample_rate)
        scores, _ = evaluation.baselines(arrays, targets=targets, methods=baselines)
        for name, estimate in estimators.items():
            estimates = estimate(arrays["mixture"])
            scores[name] = {t: evaluation.bss_eval_target(arrays[t], estimates[t], arrays["mixture"], sample_rate)
                            for t in targets}
        per_track.append(scores)
    return per_track
