"""Train any registered model from the command line: ``python -m helpers.train`` (also ``make pretrained``).

Builds the model of ``--model`` (one of :func:`helpers.models.architectures`, with the builder options given;
the rest take the builder's defaults), trains it with :func:`helpers.training.train`, keeps the best model by
validation loss (its settings inside the ``.keras`` file, see :func:`helpers.models.save`), scores it on the test
split against MIX, HALF and IRM1 (museval), and writes a model card beside it for people: the data and its licence,
training time, scores, size and SHA-256. It names no architecture: an architecture of your own, registered by a
module that ``$HELPERS_ARCHITECTURES`` names, trains the same way.

Used by: Makefile
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

import keras

from helpers import config, data, distributed, evaluation, models, separation, songs, training
from helpers.exceptions import ParameterError

def generated_data(engine: str) -> dict:
    """What the generated dataset is made of, for the model card: the engine and every recorded source it played,
    with its package and licence (the training style's, and the held-out splits' separately).

    Used by: helpers.train
    """
    if engine == "numpy":
        return {"source": "generated", "generator": "helpers.songs.numpy_engine (pure NumPy synthesis: additive "
                "and source-filter instruments and voices, no recorded samples)", "sound_banks": [],
                "licence": "MIT (this course's code and its output)"}
    return {"source": "generated", "generator": "helpers.songs.soundfont_engine (note events rendered through "
            "recorded samples with TinySoundFont: a General MIDI bank, recorded drum kits and loops; source-filter "
            "singers; pedalboard production; a mastered, gated mix)",
            "sound_banks": songs.soundfont_engine.sources("train"),
            "held_out_sources": {"use": "the heldout and hard test splits only, never trained on",
                                 "sources": songs.soundfont_engine.sources("heldout")},
            "licence": "MIT (this course's code and its output); the recorded sources' licences are listed with "
                       "them (MIT, CC-BY-SA-3.0, CC0-1.0)"}


#: Builder options with a flag of their own (``--n-fft``); any other builder argument goes through ``--set``.
BUILDER_OPTIONS = (("sample_rate", int, "Hz"), ("n_fft", int, "STFT size, samples"),
                   ("hop_length", int, "STFT hop, samples"), ("n_frames", int, "STFT frames per segment"),
                   ("segment_length", int, "samples per segment (waveform models)"),
                   ("modelled_bins", int, "the U-Net models the lowest bins and extends its masks above"),
                   ("base_filters", int, "filters of the first layer"), ("depth", int, "the U-Net's encoder levels"),
                   ("n_levels", int, "the Wave-U-Net's levels"))


def parse_args(argv=None):
    """Parse the command line (see ``--help``).

    Used by: helpers.train.main
    """
    declared = {name: models.architecture(name) for name in models.architectures()}
    trainable = [name for name, a in declared.items() if a.segments is not None]
    losses = sorted({loss for name in trainable for loss in declared[name].losses})
    parser = argparse.ArgumentParser(
        prog="python -m helpers.train",
        description="Train a model that separates target stems (default: vocals and drums) on random segments of "
                    "the songs and write a model card. Builder options left out take the builder's defaults.",
    )
    shipped = models.file_settings(models.PRETRAINED)["architecture"]
    parser.add_argument("--model", choices=[name.replace("_", "-") for name in trainable],
                        default=shipped.replace("_", "-"),
                        help="the registered architecture (default: the shipped model's, %(default)s; a module named "
                             "in $HELPERS_ARCHITECTURES adds its own)")
    parser.add_argument("--loss", choices=losses, default=None,
                        help="one of the architecture's losses (default: the first it declares)")
    parser.add_argument("--targets", nargs="+", default=list(config.DEFAULT_TARGETS),
                        help="stems to separate, any of vocals drums bass other accompaniment (default: vocals drums)")
    for name, kind, text in BUILDER_OPTIONS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                            help=f"{text} (default: the builder's)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="any other argument of the builder, VALUE read as JSON (--set dropout=0.3); repeatable")
    parser.add_argument("--steps-per-epoch", type=int, default=100,
                        help="batches of random segments per epoch (default: %(default)s)")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="segments of one song each, as recorded, instead of stems remixed with random gains")
    parser.add_argument("--initial-model", type=Path, default=None,
                        help="start from this .keras model's weights (layers matching in name and shape)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop after the epoch that crosses this much training time (default: none)")
    parser.add_argument("--data", choices=("generated", "musdb-preview", "musdb"), default="generated",
                        help="training data (default: %(default)s)")
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: the source's own)")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="segments per batch, all processes together (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=8,
                        help="epochs without improvement before stopping (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's initial rate (default: %(default)s)")
    parser.add_argument("--clip-norm", type=float, default=None,
                        help="clip the gradient's global norm to this (default: no clipping)")
    parser.add_argument("--n-valid", type=int, default=5,
                        help="train tracks held out for validation (default: %(default)s)")
    parser.add_argument("--model-path", type=Path, default=None,
                        help="output .keras file; the card goes beside it as .json (default: models/MODEL.keras)")
    parser.add_argument("--log-dir", type=Path, default=None, help="TensorBoard log folder (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="a minutes-long run: 8 training tracks, 2 for validation, 3 epochs, 2 test tracks scored")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--backup-dir", type=Path, default=None,
                        help="back the training state up here after every epoch and resume from it when it holds "
                             "one (keras.callbacks.BackupAndRestore); removed when training ends")
    several = parser.add_argument_group(
        "several processes", "data-parallel training with Keras on JAX (pip install -e '.[distributed]'; the names "
        "are jax.distributed.initialize's). --batch-size is the global batch, shared equally by the processes.")
    several.add_argument("--num-processes", type=int, default=1,
                         help="processes in the run; without --process-id, all of them start on this machine "
                              "(default: %(default)s)")
    several.add_argument("--process-id", type=int, default=None,
                         help="this process's number, 0 to N-1, when each is started by hand, by SSH or by srun; "
                              "process 0 writes the model, card, logs and backups")
    several.add_argument("--coordinator-address", default=None, metavar="HOST:PORT",
                         help="where process 0 listens (default with the local launcher: a free port on 127.0.0.1)")
    several.add_argument("--heartbeat-timeout-seconds", type=int, default=distributed.HEARTBEAT_TIMEOUT_SECONDS,
                         help="a process silent this long is declared dead and the run stops (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Command-line entry point; returns the exit code (2 on bad input).

    Used by: Makefile
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
        distributed.check(args.num_processes, args.process_id, args.coordinator_address, args.batch_size)
        if args.heartbeat_timeout_seconds < 1:
            raise ParameterError(f"--heartbeat-timeout-seconds {args.heartbeat_timeout_seconds} must be positive")
        plan = _plan(args)  # every option checked before any data is read or any process starts
        if args.num_processes > 1 and args.process_id is None:  # the local launcher
            if args.data == "generated" and args.root is None:
                songs.generate(progress=not args.quiet)  # once, before the workers read it
            return distributed.launch(argv, args.num_processes, args.coordinator_address,
                                      grace_seconds=args.heartbeat_timeout_seconds + 15)
        return _run(args, plan, "python -m helpers.train " + " ".join(argv))
    except ParameterError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    except distributed.WorkerLost as exc:  # one line, then out at once: the engine's shutdown would wait for the lost
        print(f"train: error: {exc}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)


def builder_arguments(args, builder) -> dict:
    """The builder's arguments the command line gives: ``--targets``, the builder options that were passed, and
    each ``--set NAME=VALUE``; every one checked against the builder's signature.

    Used by: helpers.train

    Raises
    ------
    ParameterError
        If an option is not an argument of the builder, or a ``--set`` is not ``NAME=VALUE``.
    """
    accepted = inspect.signature(builder).parameters
    given = {"targets": config.check_targets(args.targets)}
    given.update({name: getattr(args, name) for name, _, _ in BUILDER_OPTIONS if getattr(args, name) is not None})
    for item in args.set:
        name, equals, text = item.partition("=")
        if not equals or not name.isidentifier():
            raise ParameterError(f"--set {item!r} must be NAME=VALUE")
        try:
            given[name] = json.loads(text)
        except json.JSONDecodeError:
            given[name] = text  # a plain string (--set window=hamming)
    unknown = [name for name in given if name not in accepted]
    if unknown:
        flags = ", ".join("--" + name.replace("_", "-") for name in unknown)
        raise ParameterError(f"{flags}: not an argument of {builder.__name__} (it takes {', '.join(accepted)})")
    return given


def _plan(args) -> tuple:
    """The architecture, loss and model settings the options ask for, every one checked (no data is read)."""
    declared = models.architecture(args.model)
    args.model_path = args.model_path or Path("models", f"{declared.name}.keras")
    if args.model_path.suffix != ".keras":  # checked again by training.train, but before the data is generated
        raise ParameterError(f"--model-path {args.model_path} must end in .keras")
    loss = next(iter(declared.losses)) if args.loss is None else args.loss
    if loss not in declared.losses:
        raise ParameterError(f"--loss {loss}: {args.model} is trained with {', '.join(declared.losses)}")
    return declared, loss, builder_arguments(args, declared.builder)


def _run(args, plan: tuple, command: str) -> int:
    declared, loss, arguments = plan
    worker = distributed.SINGLE
    if args.num_processes > 1:  # one process of several: join the run before any computation
        worker = distributed.initialize(args.num_processes, args.process_id, args.coordinator_address,
                                        heartbeat_timeout_seconds=args.heartbeat_timeout_seconds)
        keras.utils.set_random_seed(args.seed)  # every process builds the same initial weights
    else:  # one process: on JAX, spread over this machine's GPUs if it has several (TensorFlow: MirroredStrategy)
        distributed.use_local_devices()
    settings = models.settings(declared.builder(**arguments))  # checks them all
    targets = tuple(settings["targets"])
    engine = None
    if args.data == "generated":
        root = args.root or songs.generate(progress=not args.quiet)  # the default set is made if missing
        settings_file = Path(root, "settings.json")
        engine = json.loads(settings_file.read_text())["engine"] if settings_file.exists() else None
    train_tracks = data.load_tracks(args.data, "train", args.root)
    test_splits = {"test": data.load_tracks(args.data, "test", args.root)}
    for split in songs.HELD_OUT:  # the held-out splits, where the SoundFont engine wrote them
        if engine == "soundfont" and Path(root, split).is_dir():
            test_splits[split] = data.load_tracks(args.data, split, root)
    n_valid = 2 if args.fast else args.n_valid
    if len(train_tracks) <= n_valid:
        raise ParameterError(f"{len(train_tracks)} training tracks cannot spare n_valid={n_valid} for validation")
    fit_tracks, valid_tracks = train_tracks[:-n_valid], train_tracks[-n_valid:]
    epochs = 3 if args.fast else args.epochs
    if args.fast:
        fit_tracks = fit_tracks[:8]
        test_splits = {split: tracks[:2] for split, tracks in test_splits.items()}
    model, history, seconds = training.train(
        settings, fit_tracks, valid_tracks, args.model_path, loss=loss, epochs=epochs, batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch, learning_rate=args.learning_rate, patience=args.patience,
        seed=args.seed, augment=args.augment, initial_model=args.initial_model, max_minutes=args.max_minutes,
        log_dir=args.log_dir, clip_norm=args.clip_norm, verbose=0 if args.quiet else 1, backup_dir=args.backup_dir,
        worker=worker)
    distributed.finish(worker)
    if not worker.chief:
        return 0  # the chief scores the model and writes its card
    if worker.count > 1:
        model = models.load(args.model_path)  # on this process alone, outside the run's devices
    name = declared.title or declared.name
    scored = [t for t in targets if t != "accompaniment"]  # the baselines score stems only
    tables, diagnosed = {}, {}
    if scored and declared.input is not None:
        separator = separation.Separator(model, scored)
        estimator = lambda mixture: separator(mixture, settings["sample_rate"])  # noqa: E731
        for split, tracks in test_splits.items():
            per_track, diagnostics = evaluation.score_on_tracks(
                tracks, {name: estimator}, targets=scored, sample_rate=settings["sample_rate"],
                n_fft=settings.get("n_fft"), hop_length=settings.get("hop_length"), diagnostics=True)
            tables[split] = {metric: evaluation.results_table(per_track, metric=metric)
                             for metric in ("SDR", "SI-SDR")}
            # How the model fails and how the split compares with MUSDB18 (gain share, HALF count, leakage,
            # baselines, stem levels): helpers.evaluation.split_diagnostics.
            diagnosed[split] = evaluation.split_diagnostics(per_track, diagnostics, name)
            print(f"{split} split:\n{tables[split]['SDR']}")
    card = {
        "model": args.model_path.name,
        "sha256": training.sha256(args.model_path),
        "megabytes": round(args.model_path.stat().st_size / 1e6, 3),
        "parameters": int(model.count_params()),
        "settings": models.settings(model),
        "data": generated_data(engine or "numpy") if args.data == "generated" else
        {"source": args.data, "licence": "MUSDB18: academic use only (see sigsep.github.io/datasets/musdb.html)"},
        "training": {"n_train_tracks": len(fit_tracks), "n_valid_tracks": len(valid_tracks),
                     "epochs_run": len(history["loss"]), "batch_size": args.batch_size, "seed": args.seed,
                     "processes": worker.count,
                     "augmentation": (f"{declared.segments.augmentation}, {args.steps_per_epoch} batches per epoch"
                                      if args.augment else "none"),
                     "initial_model": args.initial_model.name if args.initial_model else None,
                     "loss": loss, "clip_norm": args.clip_norm, "seconds": round(seconds, 1),
                     "best_val_loss": min(history["val_loss"]),
                     "val_loss": [round(v, 5) for v in history["val_loss"]],
                     "diverged": training.diverged(history["val_loss"]),
                     "command": command},
        "test_scores": {split: {"n_tracks": len(test_splits[split]),
                                "metric": "SDR (dB), museval, median over tracks",
                                "values": tables[split]["SDR"].values,
                                # irm1_share (%), at_or_below_half (songs), leakage (whole-track SIR/SAR/energy,
                                # dB, median over songs), baselines_vs_musdb18, stem_levels (dB vs the vocals)
                                **diagnosed[split]} for split in tables},
        "test_si_sdr": {split: {"metric": "SI-SDR (dB), whole track, median over tracks",
                                "values": tables[split]["SI-SDR"].values} for split in tables},
    }
    args.model_path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"saved {args.model_path} ({card['megabytes']} MB) and its card {args.model_path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
