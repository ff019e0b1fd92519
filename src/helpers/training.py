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
from helpers.config import HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, STEMS, check_targets, data_dir
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


class SpectrogramExcerpts(keras.utils.PyDataset):
    """Batches of magnitude spectrograms of random excerpts, remixed on the fly (Uhlich et al. 2017 [1]_).

    Every example is one channel of a new mixture. With ``augment``, each of the four stems comes from a track of
    its own (drawn at random: stems from different songs) at an offset of its own, scaled by a random gain in
    [0.25, 1.25]; the mixture is their sum, so it always equals its targets plus the rest. Without it, the
    example is one track's real mixture at one offset. Each batch is transformed by :func:`helpers.spectral.stft`
    (``n_frames`` frames of ``(n_frames - 1) * hop_length`` samples). Batch ``i`` of epoch ``e`` is drawn from
    ``default_rng([seed, e, i])``; without ``augment`` the batches repeat every epoch (a fixed validation set).

    So an epoch is new data every time: 45 songs of 4 stems give 45**4 stem combinations per offset, against 45
    fixed mixtures. The cost: the STFT runs in the loop (about 2 ms per example at 44.1 kHz, n_fft 2048) and the
    stems stay in memory (4 stems x 2 channels x 4 bytes per sample: 1.4 MB per second of audio at 44.1 kHz).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    arrays : list of dict
        From :func:`helpers.data.track_arrays` with all four stems (``config.STEMS``), at the model's rate.
    targets : sequence of str
        Stems, or ``"accompaniment"`` (the sum of the stems that are not targets).
    n_fft, hop_length, n_frames : int
        The model's STFT and segment.
    batch_size, n_batches : int > 0
    seed : int
    augment : bool

    Yields
    ------
    mixture : np.ndarray [shape=(batch_size, n_fft // 2 + 1, n_frames, 1)], float32
    targets : dict[str, np.ndarray [same shape]]
        Magnitudes.

    Raises
    ------
    ParameterError
        If ``arrays`` is empty, lacks a stem, or a count is not positive.

    References
    ----------
    .. [1] Uhlich, Porcu, Giron, Enenkl, Kemp, Takahashi & Mitsufuji, "Improving music source separation based on
       deep neural networks through data augmentation and network blending", ICASSP 2017.
    """

    def __init__(self, arrays: list, targets, n_fft: int, hop_length: int, n_frames: int, batch_size: int,
                 n_batches: int, seed: int = 0, augment: bool = True):
        from helpers import spectral

        super().__init__()
        if not arrays:
            raise ParameterError("arrays is empty")
        missing = [s for s in STEMS if s not in arrays[0]]
        if missing:
            raise ParameterError(f"the arrays lack {missing}; read them with data.track_arrays(track, STEMS)")
        self.targets = check_targets(targets)
        self.arrays = arrays
        self.n_fft, self.hop_length = spectral.check_frame_params(n_fft, hop_length)
        self.n_frames = check_int("n_frames", n_frames)
        self.segment_length = (self.n_frames - 1) * self.hop_length
        self.batch_size, self.n_batches = check_int("batch_size", batch_size), check_int("n_batches", n_batches)
        self.seed, self.augment, self.epoch = seed, augment, 0

    def __len__(self):
        return self.n_batches

    def on_epoch_end(self):
        self.epoch += 1 if self.augment else 0

    def _excerpt(self, rng, track, channel, name):
        signal = self.arrays[track][name][channel]
        start = int(rng.integers(max(1, signal.shape[-1] - self.segment_length + 1)))
        piece = signal[start:start + self.segment_length]
        return np.pad(piece, (0, self.segment_length - piece.size))

    def __getitem__(self, index):
        mixture, stems = self.signals(index)
        outputs = {}
        for t in self.targets:
            signal = (mixture - sum(stems[s] for s in self.targets if s in STEMS) if t == "accompaniment"
                      else stems[t])
            outputs[t] = self._magnitude(signal)
        return self._magnitude(mixture), outputs

    def signals(self, index) -> tuple[np.ndarray, dict]:
        """Batch ``index``'s waveforms: ``mixture`` ``(batch_size, segment_length)`` and ``{stem: same shape}``
        for the four stems; the mixture is their sum."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        stems = {s: np.zeros((self.batch_size, self.segment_length), np.float32) for s in STEMS}
        mixture = np.zeros((self.batch_size, self.segment_length), np.float32)
        for row in range(self.batch_size):
            track = int(rng.integers(len(self.arrays)))
            channel = int(rng.integers(self.arrays[track]["mixture"].shape[0]))
            if self.augment:
                for s in STEMS:
                    stems[s][row] = rng.uniform(0.25, 1.25) * self._excerpt(rng, int(rng.integers(len(self.arrays))),
                                                                            channel, s)
                    mixture[row] += stems[s][row]
            else:  # one track, one offset: the real mixture and its stems
                state = rng.bit_generator.state
                for s in (*STEMS, "mixture"):
                    rng.bit_generator.state = state
                    (mixture if s == "mixture" else stems[s])[row] = self._excerpt(rng, track, channel, s)
        return mixture, stems

    def _magnitude(self, signal):
        from helpers import spectral

        magnitude = np.abs(spectral.stft(signal, n_fft=self.n_fft, hop_length=self.hop_length))
        return magnitude[..., :self.n_frames, None].astype(np.float32)


def train_unet(train_tracks, valid_tracks, model_path, targets=("vocals", "drums"), epochs: int = 30,
               batch_size: int = 8, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
               hop_length: int = HOP_LENGTH, n_frames: int = N_FRAMES, base_filters: int = 8, depth: int = 5,
               learning_rate: float = 1e-3, patience: int = 8, seed: int = 0, cache_dir=None, log_dir=None,
               verbose: int = 1, augment: bool = False, steps_per_epoch: int = 200,
               modelled_bins: int | None = None, initial_model=None, max_minutes: float | None = None):
    """Train a U-Net on musdb tracks and save the best model (by validation loss) to ``model_path``.

    Two data paths: with ``augment``, random excerpts remixed across songs on the fly (:class:`SpectrogramExcerpts`,
    ``steps_per_epoch`` batches per epoch, validated on fixed excerpts of ``valid_tracks``), what ``make
    pretrained`` uses; without it, the fixed segments of an HDF5 cache (:func:`helpers.data.build_cache`, faster
    per epoch, what notebook 05 shows first).

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
    augment : bool
        Remix stems across songs with random gains on the fly (see above).
    steps_per_epoch : int > 0
        Batches per epoch with ``augment`` (the validation set has a fifth as many, fixed).
    modelled_bins : int or None
        See :func:`helpers.models.unet` (full-band models).
    initial_model : str or os.PathLike or keras.Model or None
        Start from this model's weights (fine-tuning): every layer whose name and weight shapes match is copied.
    max_minutes : float or None
        Stop after the epoch that crosses this much training time (the best epoch's weights are kept).

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
                         sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, modelled_bins=modelled_bins)
    models.unet(**unet_settings)  # checks every setting before the caches are built
    keras.utils.set_random_seed(seed)
    if augment:
        check_int("steps_per_epoch", steps_per_epoch)
        stems = [*STEMS]

        def load(tracks):
            return [data.track_arrays(t, stems, sample_rate=sample_rate) for t in tracks]

        excerpts = dict(targets=targets, n_fft=n_fft, hop_length=hop_length, n_frames=n_frames,
                        batch_size=batch_size)
        train_data = SpectrogramExcerpts(load(train_tracks), n_batches=steps_per_epoch, seed=seed, **excerpts)
        valid_data = SpectrogramExcerpts(load(valid_tracks), n_batches=max(1, steps_per_epoch // 5), seed=seed + 1,
                                         augment=False, **excerpts)
        model = _compiled_unet(unet_settings, targets, learning_rate, initial_model)
        return _fit(model, train_data, valid_data, model_path, epochs, patience, log_dir, verbose, max_minutes)
    cache_dir = Path(cache_dir) if cache_dir is not None else data_dir() / "cache"
    settings = dict(targets=targets, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_frames=n_frames)
    tag = f"{'-'.join(targets)}_{sample_rate}_{n_fft}_{hop_length}_{n_frames}"  # one cache per setting
    train_cache = data.build_cache(train_tracks, cache_dir / f"unet_train{len(train_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    valid_cache = data.build_cache(valid_tracks, cache_dir / f"unet_valid{len(valid_tracks)}_{tag}.h5",
                                   progress=verbose > 0, **settings)
    train_data = data.tf_dataset(train_cache, targets, batch_size, shuffle=True, seed=seed)
    valid_data = data.tf_dataset(valid_cache, targets, batch_size, shuffle=False)
    model = _compiled_unet(unet_settings, targets, learning_rate, initial_model)
    return _fit(model, train_data, valid_data, model_path, epochs, patience, log_dir, verbose, max_minutes,
                shuffle=False)  # the tf.data stream shuffles itself


def _compiled_unet(unet_settings, targets, learning_rate, initial_model):
    """Build (optionally from another model's weights) and compile a U-Net under the distribution strategy."""
    with distribution_strategy().scope():
        model = models.unet(**unet_settings)
        if initial_model is not None:
            copy_weights(initial_model, model)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss={t: "mae" for t in targets})
    return model


def copy_weights(source, model) -> list:
    """Copy weights from ``source`` (a model or a ``.keras`` file) into ``model``, layer by layer, where the layer
    names and weight shapes match. Returns the names of the layers copied.

    Raises
    ------
    ParameterError
        If no layer matches.
    """
    if not isinstance(source, keras.Model):
        source = models.load(source)
    by_name = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in model.layers:
        other = by_name.get(layer.name)
        weights = other.get_weights() if other is not None else []
        if weights and [w.shape for w in weights] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(weights)
            copied.append(layer.name)
    if not copied:
        raise ParameterError(f"no layer of {source.name!r} matches {model.name!r} in name and shape")
    return copied


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
