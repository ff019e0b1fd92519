"""Train the course's U-Net from the command line: ``python -m helpers.train`` (also ``make pretrained``).

Trains on the chosen data, keeps the best model by validation loss (its settings inside the ``.keras`` file, see
:func:`helpers.models.save`), scores it on the test split against MIX, HALF and IRM1 (museval), and writes a model
card beside it for people: the data and its licence, training time, scores, size and SHA-256.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helpers import config, data
from helpers.exceptions import ParameterError



def generated_data(engine: str) -> dict:
    """What the generated dataset is made of, for the model card: the engine, its sound banks and their licences."""
    if engine == "numpy":
        return {"source": "generated", "generator": "helpers.synth (pure NumPy synthesis: additive and "
                "source-filter instruments and voices, no recorded samples)", "sound_banks": [],
                "licence": "MIT (this course's code and its output)"}
    from helpers import soundfont

    bank = soundfont.BANKS["train"]
    return {"source": "generated", "generator": "helpers.soundfont (note events rendered through a General MIDI "
            "SoundFont with TinySoundFont, source-filter singers, pedalboard production)",
            "sound_banks": [{"file": bank, "licence": soundfont.BANK_LICENCES[bank]}],
            "held_out_bank": {"file": soundfont.BANKS["heldout"],
                              "licence": soundfont.BANK_LICENCES[soundfont.BANKS["heldout"]],
                              "use": "held-out test split only, never trained on"},
            "licence": "MIT (this course's code and its output; the banks above are MIT)"}


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.train",
        description="Train a U-Net that separates target stems (default: vocals and drums) and write a model card.",
    )
    parser.add_argument("--model", choices=("unet", "wave-unet"), default="unet",
                        help="a spectrogram U-Net (masks) or a Wave-U-Net (waveforms) (default: %(default)s)")
    parser.add_argument("--loss", choices=("l1", "stft", "l1+stft"), default="l1+stft",
                        help="the Wave-U-Net's loss: L1 on samples, the multi-resolution STFT loss, or both "
                             "(default: %(default)s; the U-Net always uses L1 on masked magnitudes)")
    parser.add_argument("--segment-length", type=int, default=16384,
                        help="the Wave-U-Net's segment, samples (default: %(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=100,
                        help="batches per epoch of remixed excerpts (default: %(default)s)")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="the U-Net trains on the fixed segments of a cache instead of excerpts remixed across "
                             "songs with random gains")
    parser.add_argument("--modelled-bins", type=int, default=None,
                        help="the U-Net models the lowest bins and extends its masks above (default: all)")
    parser.add_argument("--initial-model", type=Path, default=None,
                        help="start from this .keras model's weights (layers matching in name and shape)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop after the epoch that crosses this much training time (default: none)")
    parser.add_argument("--data", choices=("generated", "musdb-preview", "musdb"), default="generated",
                        help="training data (default: %(default)s)")
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: the source's own)")
    parser.add_argument("--targets", nargs="+", default=["vocals", "drums"],
                        help="stems to separate, any of vocals drums bass other accompaniment (default: vocals drums)")
    parser.add_argument("--sample-rate", type=int, default=config.SAMPLE_RATE, help="Hz (default: %(default)s)")
    parser.add_argument("--n-fft", type=int, default=config.N_FFT, help="STFT size, samples (default: %(default)s)")
    parser.add_argument("--hop-length", type=int, default=config.HOP_LENGTH,
                        help="STFT hop, samples (default: %(default)s)")
    parser.add_argument("--n-frames", type=int, default=config.N_FRAMES,
                        help="STFT frames per segment (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8, help="patches per batch (default: %(default)s)")
    parser.add_argument("--base-filters", type=int, default=None,
                        help="filters of the first layer (default: 8 for the U-Net, 16 for the Wave-U-Net)")
    parser.add_argument("--depth", type=int, default=None,
                        help="encoder levels (default: 5 for the U-Net, 8 for the Wave-U-Net)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's initial rate (default: %(default)s)")
    parser.add_argument("--n-valid", type=int, default=5, help="train tracks held out for validation (default: %(default)s)")
    parser.add_argument("--model-path", type=Path, default=Path("models/unet.keras"),
                        help="output .keras file; the card goes beside it as .json (default: %(default)s)")
    parser.add_argument("--log-dir", type=Path, default=None, help="TensorBoard log folder (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="a minutes-long run: 8 training tracks, 2 for validation, 3 epochs, 2 test tracks scored")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Command-line entry point; returns the exit code (2 on bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        return _run(args, "python -m helpers.train " + " ".join(argv))
    except ParameterError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2


def _run(args, command: str) -> int:
    from helpers import evaluation, models, separation, training

    targets = config.check_targets(args.targets)
    if args.model_path.suffix != ".keras":  # checked again by train_unet, but before the data is generated
        raise ParameterError(f"--model-path {args.model_path} must end in .keras")
    engine = None
    if args.data == "generated":
        from helpers import synth

        root = args.root or synth.generate(progress=not args.quiet)  # the default set is made if missing
        settings_file = Path(root, "settings.json")
        engine = json.loads(settings_file.read_text())["engine"] if settings_file.exists() else None
    train_tracks = data.load_tracks(args.data, "train", args.root)
    test_splits = {"test": data.load_tracks(args.data, "test", args.root)}
    if engine == "soundfont" and Path(root, "heldout").is_dir():
        test_splits["heldout"] = data.load_tracks(args.data, "heldout", root)
    n_valid = 2 if args.fast else args.n_valid
    if len(train_tracks) <= n_valid:
        raise ParameterError(f"{len(train_tracks)} training tracks cannot spare n_valid={n_valid} for validation")
    fit_tracks, valid_tracks = train_tracks[:-n_valid], train_tracks[-n_valid:]
    epochs = 3 if args.fast else args.epochs
    if args.fast:
        fit_tracks = fit_tracks[:8]
        test_splits = {split: tracks[:2] for split, tracks in test_splits.items()}
    common = dict(targets=targets, epochs=epochs, batch_size=args.batch_size, sample_rate=args.sample_rate,
                  learning_rate=args.learning_rate, seed=args.seed, log_dir=args.log_dir,
                  verbose=0 if args.quiet else 1)
    if args.model == "unet":
        name = "U-Net"
        model, history, seconds = training.train_unet(
            fit_tracks, valid_tracks, args.model_path, n_fft=args.n_fft, hop_length=args.hop_length,
            n_frames=args.n_frames, base_filters=args.base_filters or 8, depth=args.depth or 5,
            augment=args.augment, steps_per_epoch=args.steps_per_epoch, modelled_bins=args.modelled_bins,
            initial_model=args.initial_model, max_minutes=args.max_minutes, **common)
    else:
        name = "Wave-U-Net"
        model, history, seconds = training.train_wave_unet(
            fit_tracks, valid_tracks, args.model_path, loss=args.loss, steps_per_epoch=args.steps_per_epoch,
            segment_length=args.segment_length, n_levels=args.depth or 8, base_filters=args.base_filters or 16,
            max_minutes=args.max_minutes, **common)
    scored = [t for t in targets if t != "accompaniment"]  # the baselines score stems only
    tables = {}
    if scored:
        separator = separation.Separator(model, scored)
        estimator = lambda mixture: separator(mixture, args.sample_rate)  # noqa: E731
        settings = models.settings(model)
        for split, tracks in test_splits.items():
            per_track = evaluation.score_on_tracks(tracks, {name: estimator}, targets=scored,
                                                   sample_rate=args.sample_rate, n_fft=settings.get("n_fft"),
                                                   hop_length=settings.get("hop_length"))
            tables[split] = {metric: evaluation.results_table(per_track, metric) for metric in ("SDR", "SI-SDR")}
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
                     "augmentation": ("stems remixed across songs, random gains in [0.25, 1.25], "
                                      f"{args.steps_per_epoch} batches per epoch") if args.augment or
                     args.model == "wave-unet" else "none",
                     "initial_model": args.initial_model.name if args.initial_model else None,
                     "loss": args.loss if args.model == "wave-unet" else "L1 on masked magnitudes",
                     "seconds": round(seconds, 1), "best_val_loss": min(history["val_loss"]),
                     "command": command},
        "test_scores": {split: {"n_tracks": len(test_splits[split]),
                                "metric": "SDR (dB), museval, median over tracks",
                                "values": tables[split]["SDR"].values} for split in tables},
        "test_si_sdr": {split: {"metric": "SI-SDR (dB), whole track, median over tracks",
                                "values": tables[split]["SI-SDR"].values} for split in tables},
    }
    args.model_path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"saved {args.model_path} ({card['megabytes']} MB) and its card {args.model_path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
