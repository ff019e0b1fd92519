"""Training the U-Net: HDF5 cache → tf.data → Keras ``fit`` with callbacks, then a clean save with its settings.

Used by ``python -m helpers.train`` (``make pretrained``) and notebook 05. The saved ``.keras`` file carries the
model's settings (:func:`helpers.models.save`), so ``separate --model`` needs nothing else.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from helpers import data, models
from helpers.config import HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, check_targets, data_dir
from helpers.exceptions import ParameterError, check_int


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


def train_unet(train_tracks, valid_tracks, model_path, targets=("vocals", "drums"), epochs: int = 30,
               batch_size: int = 8, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
               hop_length: int = HOP_LENGTH, n_frames: int = N_FRAMES, base_filters: int = 8, depth: int = 5,
               learning_rate: float = 1e-3, patience: int = 8, seed: int = 0, cache_dir=None, log_dir=None,
               verbose: int = 1):
    """Train a U-Net on musdb tracks and save the best model (by validation loss) to ``model_path``.

    Callbacks: ``ModelCheckpoint`` (best only, ``.keras``), ``EarlyStopping`` (restoring the best weights),
    ``ReduceLROnPlateau``, ``CSVLogger`` (``model_path`` with ``.csv``) and, with ``log_dir``, ``TensorBoard``.
    The model is built and compiled under :func:`distribution_strategy`. The saved file (:func:`helpers.models.save`)
    holds the model's settings and weights and no optimizer state (smaller, and loads for inference without it).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    train_tracks, valid_tracks : sequence of musdb.MultiTrack
    model_path : str or os.PathLike
        Destination ``.keras`` file.
    targets : sequence of str
    epochs, batch_size : int > 0
    sample_rate, n_fft, hop_length, n_frames : int
        The STFT's rate (Hz), size and hop (samples), and the frames per segment; stored in the model.
    base_filters, depth : int
        U-Net size (see :func:`helpers.models.unet`).
    learning_rate : float
        Adam's initial rate.
    patience : int
        Epochs without improvement before early stopping (the learning rate halves after ``patience // 2``).
    seed : int
    cache_dir : str or os.PathLike or None
        Where the HDF5 caches go (default ``config.data_dir() / "cache"``).
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
        If ``model_path`` does not end in ``.keras``, a count is not positive, a setting is out of range (see
        :func:`helpers.models.unet`), or there are no tracks.
    """
    import keras

    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ParameterError(f"model_path={str(model_path)!r} must end in .keras")
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    if not train_tracks or not valid_tracks:
        raise ParameterError("train_tracks and valid_tracks must not be empty")
    targets = check_targets(targets)
    unet_settings = dict(targets=targets, n_frames=n_frames, base_filters=base_filters, depth=depth,
                         sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length)
    models.unet(**unet_settings)  # checks every setting before the caches are built
    keras.utils.set_random_seed(seed)
    cache_dir = Path(cache_dir) if cache_dir is not None else data_dir() / "cache"
    settings = dict(targets=targets, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_frames=n_frames)
    tag = f"{'-'.join(targets)}_{sample_rate}_{n_fft}_{hop_length}_{n_frames}"  # one cache per setting
    train_cache = data.build_cache(train_tracks, cache_dir / f"unet_train{len(train_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    valid_cache = data.build_cache(valid_tracks, cache_dir / f"unet_valid{len(valid_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    train_data = data.tf_dataset(train_cache, targets, batch_size, shuffle=True, seed=seed)
    valid_data = data.tf_dataset(valid_cache, targets, batch_size, shuffle=False)
    with distribution_strategy().scope():
        model = models.unet(**unet_settings)
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
    models.save(model, model_path)
    checkpoint.unlink(missing_ok=True)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds


def sha256(path) -> str:
    """Hex SHA-256 of a file (the model card records it; a test checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
