"""Training the U-Net: HDF5 cache → tf.data → Keras ``fit`` with callbacks, then a clean save with its settings.

Used by ``python -m helpers.train`` (``make pretrained``) and notebook 05. The saved ``.keras`` file carries the
model's settings (:func:`helpers.models.save`), so ``separate --model`` needs nothing else.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import keras
import numpy as np

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
    return _fit(model, train_data, valid_data, model_path, epochs, patience, log_dir, verbose,
                shuffle=False)  # the tf.data stream shuffles itself


def _fit(model, train_data, valid_data, model_path: Path, epochs: int, patience: int, log_dir, verbose: int,
         max_minutes: float | None = None, **fit_arguments):
    """Fit with the course's callbacks, save the best model cleanly, return ``(model, history, seconds)``."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = model_path.with_name(f".{model_path.stem}.training.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, patience // 2)),
        keras.callbacks.CSVLogger(model_path.with_suffix(".csv")),
    ]
    if max_minutes is not None:
        callbacks.append(TimeLimit(max_minutes))
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    start = time.perf_counter()
    history = model.fit(train_data, validation_data=valid_data, epochs=epochs, callbacks=callbacks, verbose=verbose,
                        **fit_arguments)
    seconds = time.perf_counter() - start
    if model.stop_training and max_minutes is not None and checkpoint.exists():  # a time limit: the best epoch
        model.load_weights(checkpoint)
    models.save(model, model_path)
    checkpoint.unlink(missing_ok=True)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds


class TimeLimit(keras.callbacks.Callback):
    """Stop training after the epoch that crosses a time budget, so a make target has a known cost.

    Parameters
    ----------
    minutes : float > 0
    """

    def __init__(self, minutes: float):
        super().__init__()
        self.minutes = float(minutes)

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > 60 * self.minutes:
            self.model.stop_training = True


class WaveformExcerpts(keras.utils.PyDataset):
    """Batches of random mono excerpts for a waveform model, remixed from the stems.

    Every example is one channel of one track at a random offset. With ``remix``, each stem (the targets and the
    residual, the rest of the mixture) is scaled by its own random gain in [0.6, 1.4] and the mixture is their sum:
    new mixtures from the same songs, always consistent with their targets. Batch ``i`` of epoch ``e`` is drawn
    from ``default_rng([seed, e, i])``: reproducible, and different every epoch when remixing.

    Taught in: notebooks/07_time_domain.ipynb

    Parameters
    ----------
    arrays : list of dict
        From :func:`helpers.data.track_arrays` with the targets and ``"accompaniment"`` (the residual).
    targets : sequence of str
    segment_length, batch_size, n_batches : int > 0
    seed : int
    remix : bool

    Yields
    ------
    mixture : np.ndarray [shape=(batch_size, segment_length, 1)], float32
    targets : dict[str, np.ndarray [shape=(batch_size, segment_length, 1)]]

    Raises
    ------
    ParameterError
        If ``arrays`` is empty or a count is not positive.
    """

    def __init__(self, arrays: list, targets, segment_length: int, batch_size: int, n_batches: int, seed: int = 0,
                 remix: bool = True):
        super().__init__()
        self.targets = check_targets(targets)
        self.stems = [*self.targets, "accompaniment"]
        self.channels = [{name: a[name][c] for name in self.stems} for a in arrays
                         for c in range(a["mixture"].shape[0])]
        if not self.channels:
            raise ParameterError("arrays is empty")
        self.segment_length = check_int("segment_length", segment_length)
        self.batch_size, self.n_batches = check_int("batch_size", batch_size), check_int("n_batches", n_batches)
        self.seed, self.remix, self.epoch = seed, remix, 0

    def __len__(self):
        return self.n_batches

    def on_epoch_end(self):
        self.epoch += 1 if self.remix else 0

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        mixture = np.zeros((self.batch_size, self.segment_length, 1), np.float32)
        outputs = {t: np.zeros_like(mixture) for t in self.targets}
        for row in range(self.batch_size):
            channel = self.channels[rng.integers(len(self.channels))]
            length = channel["accompaniment"].shape[-1]
            start = int(rng.integers(max(1, length - self.segment_length + 1)))
            gains = rng.uniform(0.6, 1.4, len(self.stems)) if self.remix else np.ones(len(self.stems))
            for gain, name in zip(gains, self.stems):
                piece = gain * channel[name][start:start + self.segment_length]
                mixture[row, :piece.size, 0] += piece
                if name in outputs:
                    outputs[name][row, :piece.size, 0] = piece
        return mixture, outputs


def train_wave_unet(train_tracks, valid_tracks, model_path, targets=("vocals", "drums"), loss: str = "l1+stft",
                    epochs: int = 200, steps_per_epoch: int = 100, batch_size: int = 8,
                    sample_rate: int = SAMPLE_RATE, segment_length: int = 16384, n_levels: int = 8,
                    base_filters: int = 16, learning_rate: float = 1e-3, patience: int = 10, seed: int = 0,
                    max_minutes: float | None = None, log_dir=None, verbose: int = 1):
    """Train a Wave-U-Net on random remixed excerpts of musdb tracks and save the best model to ``model_path``.

    The same callbacks as :func:`train_unet` (checkpoint of the best validation loss, early stopping, learning rate
    halved on plateaus, CSV log, optional TensorBoard) plus an optional time budget. Validation uses fixed
    excerpts of ``valid_tracks``, not remixed.

    Taught in: notebooks/07_time_domain.ipynb

    Parameters
    ----------
    train_tracks, valid_tracks : sequence of musdb.MultiTrack
    model_path : str or os.PathLike
        Destination ``.keras`` file.
    targets : sequence of str
    loss : {"l1", "stft", "l1+stft"}
        See :func:`helpers.losses.waveform_loss`.
    epochs, steps_per_epoch, batch_size : int > 0
    sample_rate, segment_length, n_levels, base_filters : int
        See :func:`helpers.models.wave_unet`.
    learning_rate : float
    patience : int
    seed : int
    max_minutes : float or None
        Stop after the epoch that crosses this much training time (the best epoch's weights are kept).
    log_dir : str or os.PathLike or None
    verbose : int

    Returns
    -------
    model : keras.Model
    history : dict[str, list[float]]
    seconds : float
        Training wall time (loading the tracks excluded).

    Raises
    ------
    ParameterError
        If ``model_path`` does not end in ``.keras``, the loss is unknown, a count or a setting is out of range,
        or there are no tracks.
    """
    from helpers import losses

    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ParameterError(f"model_path={str(model_path)!r} must end in .keras")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        check_int(name, value)
    if not train_tracks or not valid_tracks:
        raise ParameterError("train_tracks and valid_tracks must not be empty")
    targets = check_targets(targets)
    loss_function = losses.waveform_loss(loss)
    wave_settings = dict(targets=targets, segment_length=segment_length, n_levels=n_levels,
                         base_filters=base_filters, sample_rate=sample_rate)
    models.wave_unet(**wave_settings)  # checks every setting before the tracks are read
    keras.utils.set_random_seed(seed)

    def load(tracks):
        return [data.track_arrays(t, targets + ("accompaniment",), sample_rate=sample_rate) for t in tracks]

    train_data = WaveformExcerpts(load(train_tracks), targets, segment_length, batch_size, steps_per_epoch, seed)
    valid_data = WaveformExcerpts(load(valid_tracks), targets, segment_length, batch_size,
                                  max(1, steps_per_epoch // 5), seed + 1, remix=False)
    model = models.wave_unet(**wave_settings)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss={t: loss_function for t in targets})
    return _fit(model, train_data, valid_data, model_path, epochs, patience, log_dir, verbose, max_minutes)


def sha256(path) -> str:
    """Hex SHA-256 of a file (the model card records it; a test checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
