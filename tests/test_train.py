"""helpers.train: the training command's bad arguments exit with 2 and one line."""

import json
import os

import pytest

from helpers import songs, train
from helpers.songs import soundfont_engine as soundfont


@pytest.mark.parametrize("argv, message", [
    (["--targets", "guitar"], "unknown target 'guitar'"),
    (["--model-path", "model.h5"], "must end in .keras"),
    (["--model", "wave-unet", "--depth", "3"], "--depth: not an argument of wave_unet (it takes targets, segment_length"),
    (["--set", "dropout"], "--set 'dropout' must be NAME=VALUE"),
    (["--set", "dropout=2"], "dropout=2 must be in [0, 1)"),
    (["--loss", "l1+stft"], "--loss l1+stft: unet is trained with l1"),
])
def test_train_cli_rejects_bad_arguments_with_exit_code_2(capsys, argv, message):
    assert train.main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("train: error: ") and message in error and len(error.strip().splitlines()) == 1


@pytest.mark.skipif(bool(soundfont.missing("train") or soundfont.missing("heldout")) and os.environ.get("CI") != "true",
                    reason="the SoundFont engine cannot run here")
def test_train_cli_fine_tunes_with_augmentation_and_scores_both_splits(tmp_path):
    root = songs.generate(tmp_path / "songs", n_train=3, n_test=1, n_heldout=1, n_hard=1, duration=2.0, n_duets_train=0,
                          n_duets_test=0, workers=1, progress=False, engine="soundfont")
    tiny = ["--sample-rate", "8000", "--n-fft", "256", "--hop-length", "64", "--n-frames", "16", "--base-filters",
            "2", "--depth", "2", "--batch-size", "2", "--steps-per-epoch", "2", "--quiet", "--fast"]
    first = tmp_path / "first.keras"
    assert train.main(["--root", str(root), "--model-path", str(first), "--no-augment", *tiny]) == 0
    second = tmp_path / "second.keras"
    assert train.main(["--root", str(root), "--model-path", str(second), "--targets", "vocals", "drums", "bass",
                       "--modelled-bins", "64", "--initial-model", str(first), *tiny]) == 0
    card = json.loads(second.with_suffix(".json").read_text())
    assert set(card["test_scores"]) == {"test", "heldout", "hard"}
    assert set(card["test_scores"]["heldout"]["values"]["U-Net"]) == {"vocals", "drums", "bass"}
    heldout = card["test_scores"]["heldout"]  # the diagnostics: how the model fails, how the split compares
    assert set(heldout["irm1_share"]) == set(heldout["leakage"]) == {"vocals", "drums", "bass"}
    assert 0 <= heldout["at_or_below_half"]["vocals"] <= heldout["n_tracks"]
    assert set(heldout["leakage"]["drums"]) == {"SIR", "SAR", "energy_db"}
    assert heldout["baselines_vs_musdb18"]["MIX"]["vocals"]["musdb18"] == 1.12
    assert {"bass", "drums", "other", "vocals_vs_rest"} <= set(heldout["stem_levels"])
    assert card["training"]["augmentation"].startswith("stems remixed across songs")
    assert card["training"]["initial_model"] == "first.keras"
    assert card["data"]["sound_banks"][0]["file"] == "FluidR3_GM.sf2" and card["data"]["sound_banks"][0]["licence"] == "MIT"
    held_out_files = {source["file"] for source in card["data"]["held_out_sources"]["sources"]}
    assert "MuseScore_General.sf3" in held_out_files and "Red_Zeppelin_4_LV2.sf2" in held_out_files
    assert all(source["licence"] and source["package"] for source in card["data"]["sound_banks"])
    assert card["settings"]["arguments"]["modelled_bins"] == 64 and card["settings"]["n_fft"] == 256
    assert json.loads(first.with_suffix(".json").read_text())["training"]["augmentation"] == "none"
