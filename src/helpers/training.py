"""Training any registered model: random segments of tracks → Keras ``fit`` with callbacks → a clean save with its
settings.

Used by ``python -m helpers.train`` (``make pretrained``); notebook 05 writes the same loop by hand. :func:`train`
reads everything that differs between models from the architecture's declaration
(:class:`helpers.models.Architecture`): the builder, the segment data set and the losses. The saved ``.keras`` file
carries the model's settings (:func:`helpers.models.save`), so ``separate --model`` needs nothing else.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from pathlib import Path

import keras

from helpers import distributed, models
from helpers.exceptions import ParameterError, check_int


def distribution_strategy():
    """``MirroredStrategy`` when several GPUs are visible, else TensorFlow's default strategy; on another Keras
    backend, a scope that does nothing (JAX spreads a run with :mod:`helpers.distributed` instead).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Returns
    -------
    strategy : tf.distribute.Strategy, or an object whose ``scope()`` is a null context
    """
    if keras.backend.backend() != "tensorflow":
        import contextlib
        import types

        return types.SimpleNamespace(scope=contextlib.nullcontext)
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def train(settings: dict, train_tracks, valid_tracks, model_path, *, loss: str | None = None, epochs: int = 30,
          batch_size: int = 8, steps_per_epoch: int = 100, learning_rate: float = 1e-3, patience: int = 8,
          seed: int = 0, augment: bool = True, initial_model=None, max_minutes: float | None = None, log_dir=None,
          clip_norm: float | None = None, verbose: int = 1, backup_dir=None,
          worker: distributed.Worker = distributed.SINGLE):
    """Train a registered model on random segments of musdb tracks and save the best one (by validation loss).

    The model is built from ``settings`` by its registered builder (:func:`helpers.models.build`); its segment data
    set (the declaration's ``segments``, e.g. :class:`helpers.data.SpectrogramSegments`) draws ``steps_per_epoch``
    batches per epoch from ``train_tracks``, remixed across songs with random gains when ``augment``; validation
    uses fixed segments of ``valid_tracks``, the same every epoch.

    Callbacks: ``ModelCheckpoint`` (best only, ``.keras``), ``EarlyStopping`` (restoring the best weights),
    ``ReduceLROnPlateau``, ``CSVLogger`` (``model_path`` with ``.csv``), an optional time budget
    (:class:`TimeLimit`) and, with ``log_dir``, ``TensorBoard``. The model is built and compiled under
    :func:`distribution_strategy`. Batch ``i`` of epoch ``e`` is the same whenever it is drawn, so a run resumed
    from ``backup_dir`` continues as the uninterrupted run would. The saved file (:func:`helpers.models.save`)
    holds the model's settings and weights and no optimizer state (smaller, and loads for inference without it).

    Used by: helpers.train

    Parameters
    ----------
    settings : dict
        A model's settings, as :func:`helpers.models.settings` returns them (build the model once with its builder
        and read them back, which checks every value before any data is read).
    train_tracks, valid_tracks : sequence of musdb.MultiTrack
    model_path : str or os.PathLike
        Destination ``.keras`` file.
    loss : str or None
        One of the architecture's ``losses``; ``None`` is its first.
    epochs, batch_size, steps_per_epoch : int > 0
        ``steps_per_epoch`` batches per epoch (validation: a fifth as many, fixed).
    learning_rate : float
        Adam's initial rate.
    patience : int
        Epochs without improvement before early stopping (the learning rate halves after ``patience // 2``).
    seed : int
    augment : bool
        Remix stems across songs with random gains on the fly (see the data set).
    initial_model : str or os.PathLike or keras.Model or None
        Start from this model's weights (fine-tuning): every layer whose name and weight shapes match is copied.
    max_minutes : float or None
        Stop after the epoch that crosses this much training time (the best epoch's weights are kept).
    log_dir : str or os.PathLike or None
        TensorBoard logs.
    clip_norm : float > 0 or None
        Clip the gradient's global norm to this before each Adam step (``None``: no clipping). A spectral loss's
        rare huge gradients (a silent reference) otherwise throw the weights where they never come back from.
    verbose : int
        Keras's progress bar (1) or none (0).
    backup_dir : str or os.PathLike or None
        Back the training state up there after every epoch (``keras.callbacks.BackupAndRestore``), and resume from
        it when it holds one: a run that was stopped restarts where it was. Removed when training ends.
    worker : helpers.distributed.Worker
        This process, in a run on several (:func:`helpers.distributed.initialize` first): it reads its shard of the
        tracks and feeds ``batch_size // worker.count`` examples of each global batch; only the chief writes the
        model, the checkpoint, the CSV log and the backup (the others write scratch copies, then delete them).

    Returns
    -------
    model : keras.Model
        With the best weights.
    history : dict[str, list[float]]
        Per-epoch ``loss``, ``val_loss`` and per-head ``<target>_loss``, ``val_<target>_loss``.
    seconds : float
        Training wall time (loading the tracks excluded).

    Raises
    ------
    ParameterError
        If ``model_path`` does not end in ``.keras``, a count or ``clip_norm`` is not positive, the architecture has
        no segment data set or not that loss, a setting is out of range, or there are no tracks (or fewer than
        workers), or the workers cannot share the batch equally.
    helpers.distributed.WorkerLost
        If another process of the run died or cannot be reached.
    """
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ParameterError(f"model_path={str(model_path)!r} must end in .keras")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        check_int(name, value)
    if clip_norm is not None and not clip_norm > 0:
        raise ParameterError(f"clip_norm={clip_norm!r} must be > 0 (or None: no clipping)")
    if not train_tracks or not valid_tracks:
        raise ParameterError("train_tracks and valid_tracks must not be empty")
    declared = models.architecture(settings.get("architecture"))
    if declared.segments is None:
        raise ParameterError(f"architecture {declared.name!r} declares no segment data set to train on")
    loss = next(iter(declared.losses)) if loss is None else loss
    if loss not in declared.losses:
        raise ParameterError(f"loss={loss!r} must be one of {', '.join(declared.losses)} for {declared.name}")
    if batch_size % worker.count:
        raise ParameterError(f"batch_size={batch_size} cannot be shared equally by {worker.count} workers")
    keras.utils.set_random_seed(seed)  # on several processes, every build must give every process the same weights
    models.build(settings)  # checks every setting before the tracks are read
    keras.utils.set_random_seed(seed)
    sharded = {"worker": worker} if worker.count > 1 else {}  # a data set of one's own needs it only then
    train_data = declared.segments.from_tracks(train_tracks, settings, batch_size=batch_size // worker.count,
                                               n_batches=steps_per_epoch, seed=seed, augment=augment, **sharded)
    valid_data = declared.segments.from_tracks(valid_tracks, settings, batch_size=batch_size // worker.count,
                                               n_batches=max(1, steps_per_epoch // 5), seed=seed + 1, augment=False,
                                               **sharded)
    with distribution_strategy().scope():
        model = models.build(settings)
        if initial_model is not None:
            copy_weights(initial_model, model)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm),
                      loss={t: declared.losses[loss] for t in model.output})
    return _fit(model, train_data, valid_data, model_path, epochs, patience, log_dir, verbose, max_minutes,
                backup_dir=backup_dir, worker=worker)


def copy_weights(source, model) -> list:
    """Copy weights from ``source`` (a model or a ``.keras`` file) into ``model``, layer by layer, where the layer
    names and weight shapes match. Returns the names of the layers copied.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

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
         max_minutes: float | None = None, *, backup_dir=None, worker: distributed.Worker = distributed.SINGLE,
         **fit_arguments):
    """Fit with the course's callbacks, save the best model cleanly, return ``(model, history, seconds)``.

    Saving is a step all processes of a run take together, so every worker runs the same callbacks; the chief's
    files are the real ones, the others' go to a scratch folder (:func:`helpers.distributed.scratch_path`)."""
    if worker.chief:
        model_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = distributed.scratch_path(model_path.with_name(f".{model_path.stem}.training.keras"), worker)
    callbacks = [
        SegmentEpoch(train_data),
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, patience // 2)),
        keras.callbacks.TerminateOnNaN(),
    ]
    if backup_dir is not None:
        backup = distributed.scratch_path(Path(backup_dir), worker)
        if not worker.chief and Path(backup_dir).is_dir():  # resume from the chief's backup
            shutil.copytree(backup_dir, backup, dirs_exist_ok=True)
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup, double_checkpoint=True))
    if worker.chief:  # a resumed run continues its log
        resuming = backup_dir is not None and Path(backup_dir, "training_metadata.json").exists()
        callbacks.append(keras.callbacks.CSVLogger(model_path.with_suffix(".csv"), append=resuming))
        if log_dir is not None:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    if max_minutes is not None:
        callbacks.append(TimeLimit(max_minutes))
    start = time.perf_counter()
    try:
        # shuffle=False: the batches are drawn at random already, and a shuffled order would depend on how many
        # epochs this process ran (a resumed run would see another order).
        history = model.fit(train_data, validation_data=valid_data, epochs=epochs, callbacks=callbacks,
                            verbose=verbose if worker.chief else 0, shuffle=False, **fit_arguments)
    except Exception as error:
        lost = distributed.failure(worker, error)
        if lost is None:
            raise
        raise lost from error
    seconds = time.perf_counter() - start
    if model.stop_training and max_minutes is not None and checkpoint.exists():  # a time limit: the best epoch
        model.load_weights(checkpoint)
    models.save(model, distributed.scratch_path(model_path, worker))
    checkpoint.unlink(missing_ok=True)
    distributed.remove_scratch(worker)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds


class SegmentEpoch(keras.callbacks.Callback):
    """Tell a segment data set which epoch begins, so that its batches depend on the epoch's number alone (a run
    resumed at epoch ``e`` draws what the uninterrupted run drew there).

    Used by: helpers.training

    Parameters
    ----------
    data : keras.utils.PyDataset
        One with an ``epoch`` attribute (:class:`helpers.data.SpectrogramSegments`); others are left alone.
    """

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        if getattr(self.data, "augment", False) and hasattr(self.data, "epoch"):
            self.data.epoch = epoch


class TimeLimit(keras.callbacks.Callback):
    """Stop training after the epoch that crosses a time budget, so a make target has a known cost.

    Used by: helpers.training

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


def diverged(val_loss, factor: float = 3.0) -> bool:
    """Whether a run diverged: its validation loss became non-finite, or ends above ``factor`` times its best (a run
    that jumps and stays, as the course's first STFT-loss run did: 4.7 → 43.8; a spike it recovers from is not).

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.train (the model card's ``training.diverged``)

    Parameters
    ----------
    val_loss : sequence of float
        One value per epoch.
    factor : float > 1

    Raises
    ------
    ParameterError
        If ``val_loss`` is empty or ``factor`` is not above 1.
    """
    values = [float(v) for v in val_loss]
    if not values:
        raise ParameterError("val_loss is empty")
    if not factor > 1:
        raise ParameterError(f"factor={factor!r} must be > 1")
    return not all(math.isfinite(v) for v in values) or values[-1] > factor * min(values)


def sha256(path) -> str:
    """Hex SHA-256 of a file (the model card records it; a test checks it).

    Used by: helpers.train
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

