import numpy as np
import pytest

from helpers import ParameterError, evaluation


@pytest.fixture(scope="module")
def target_and_noise():
    rng = np.random.default_rng(7)
    return rng.standard_normal((2, 4 * 8000)), rng.standard_normal((2, 4 * 8000))


def test_sdr_of_target_plus_independent_noise_matches_closed_form(target_and_noise):
    """s + 0.5 n with n independent of s: SDR = SIR = 10 log10(|s|² / |0.5 n|²) ≈ 6.02 dB."""
    s, n = target_and_noise
    mixture = s + 0.5 * n
    scores = evaluation.bss_eval_target(s, mixture, mixture, 8000)  # the MIX baseline
    expected = 10 * np.log10(np.sum(s ** 2) / np.sum((0.5 * n) ** 2))
    assert scores["SDR"] == pytest.approx(expected, abs=0.1)
    assert evaluation.si_sdr(s, mixture) == pytest.approx(expected, abs=0.1)


def test_perfect_estimate_scores_high_and_half_estimate_is_rewarded_by_scaling(target_and_noise):
    s, n = target_and_noise
    mixture = s + 4 * n  # a quiet target
    perfect = evaluation.bss_eval_target(s, s, mixture, 8000)
    mix = evaluation.bss_eval_target(s, mixture, mixture, 8000)
    half = evaluation.bss_eval_target(s, 0.5 * mixture, mixture, 8000)
    assert perfect["SDR"] > 60
    # SDR (unlike SI-SDR) rewards merely turning a loud mixture down when the target is quiet: the HALF lesson.
    assert half["SDR"] > mix["SDR"] + 3
    assert evaluation.si_sdr(s, 0.5 * mixture) == pytest.approx(evaluation.si_sdr(s, mixture), abs=1e-6)


def test_bss_eval_rejects_mismatched_inputs(target_and_noise):
    s, _ = target_and_noise
    with pytest.raises(ParameterError, match="differ"):
        evaluation.bss_eval({"a": s}, {"b": s}, 8000)
    with pytest.raises(ParameterError, match="shape"):
        evaluation.bss_eval({"a": s}, {"a": s[:, :-1]}, 8000)


def test_bss_eval_refuses_silent_signals_with_advice(target_and_noise):
    s, n = target_and_noise
    with pytest.raises(ParameterError, match="estimate 'a' is silent.*MIX"):
        evaluation.bss_eval({"a": s, "b": n}, {"a": np.zeros_like(s), "b": n}, 8000)
    with pytest.raises(ParameterError, match="reference 'b' is silent"):
        evaluation.bss_eval({"a": s, "b": np.zeros_like(n)}, {"a": s, "b": n}, 8000)


def test_bss_eval_median_skips_silent_windows_of_a_reference(target_and_noise):
    """A target silent for half the song: museval marks those windows NaN; the median uses the others."""
    s, n = target_and_noise
    gated = s.copy()
    gated[:, : s.shape[1] // 2] = 0
    mixture = gated + 0.5 * n
    scores = evaluation.bss_eval_target(gated, mixture, mixture, 8000)
    expected = 10 * np.log10(np.sum(s[:, s.shape[1] // 2 :] ** 2) / np.sum((0.5 * n[:, n.shape[1] // 2 :]) ** 2))
    assert np.isfinite(scores["SDR"]) and scores["SDR"] == pytest.approx(expected, abs=0.3)


@pytest.fixture(scope="module")
def track_arrays(small_dataset):
    from helpers import data

    track = data.load_tracks("generated", "test", root=small_dataset)[0]
    return data.track_arrays(track, targets=("vocals", "drums", "bass", "other"), sample_rate=11025)


def test_baselines_order_mix_below_oracles(track_arrays):
    scores, estimates = evaluation.baselines(track_arrays, 11025, targets=("vocals", "drums"),
                                             methods=("MIX", "HALF") + evaluation.ORACLES)
    assert set(scores) == {"MIX", "HALF", "IBM", "IRM1", "IRM2", "Wiener", "MAGPHASE"}
    for target in ("vocals", "drums"):
        mix = scores["MIX"][target]["SDR"]
        for oracle in evaluation.ORACLES:
            assert scores[oracle][target]["SDR"] > mix + 5, (oracle, target)
        assert estimates["IRM1"][target].shape == track_arrays["mixture"].shape
        assert scores["MAGPHASE"][target]["SI-SDR"] > scores["MIX"][target]["SI-SDR"] + 5, target
    with pytest.raises(ParameterError, match="unknown methods"):
        evaluation.baselines(track_arrays, 11025, methods=("MAGIC",))


def test_results_table_medians_and_mix_first():
    def row(value):
        return {"vocals": {"SDR": value}, "drums": {"SDR": value + 1}}

    tracks = [{"IRM1": row(8.0), "MIX": row(1.0)}, {"IRM1": row(10.0), "MIX": row(3.0)},
              {"IRM1": row(float("nan")), "MIX": row(2.0)}]
    table = evaluation.results_table(tracks)
    assert list(table.values) == ["MIX", "IRM1"]
    assert table.values["MIX"] == {"vocals": 2.0, "drums": 3.0}
    assert table.values["IRM1"]["vocals"] == 9.0  # NaN ignored
    text = str(table)
    assert text.splitlines()[1].startswith("MIX") and "9.00" in text
    assert "<table>" in table._repr_html_()
    with pytest.raises(ParameterError, match="MIX"):
        evaluation.results_table([{"IRM1": row(1.0)}])


def test_seam_error_profile_peaks_where_the_error_is():
    rng = np.random.default_rng(3)
    sample_rate, n = 1000, 10_000
    reference = rng.standard_normal((2, n))
    estimate = reference + 0.1 * rng.standard_normal((2, n))  # -20 dB everywhere ...
    seams = [2000, 5000, 8000]
    for p in seams:
        estimate[:, p - 20:p + 20] = reference[:, p - 20:p + 20] + rng.standard_normal((2, 40))  # ... 0 dB at seams
    offsets, ratio = evaluation.seam_error_profile([reference], [estimate], [seams], sample_rate, radius=0.5,
                                                   frame_seconds=0.01)
    assert offsets.shape == ratio.shape == (1000,) and offsets[500] == 0
    assert ratio[500] == pytest.approx(0.0, abs=1.0)
    assert np.median(ratio) == pytest.approx(-20.0, abs=1.0)
    assert np.argmax(ratio) in range(480, 521)
    with pytest.raises(ParameterError, match="no position"):
        evaluation.seam_error_profile([reference], [estimate], [[100]], sample_rate, radius=0.5)
    with pytest.raises(ParameterError, match="one entry per track"):
        evaluation.seam_error_profile([reference], [], [seams], sample_rate)


def test_si_sdr_closed_form():
    rng = np.random.default_rng(3)
    s = rng.standard_normal(100000)
    n = rng.standard_normal(100000)
    s -= s.mean()
    n -= n.mean()
    n -= np.dot(n, s) / np.dot(s, s) * s  # orthogonal noise: SI-SDR of 2s + 0.1n is 10 log10(|2s|² / |0.1 n|²)
    expected = 10 * np.log10(np.dot(2 * s, 2 * s) / np.dot(0.1 * n, 0.1 * n))
    assert evaluation.si_sdr(s, 2.0 * s + 0.1 * n) == pytest.approx(expected, abs=0.01)
    assert evaluation.si_sdr(s, 0.5 * (2.0 * s + 0.1 * n)) == pytest.approx(expected, abs=0.01)  # gain ignored
    with pytest.raises(ParameterError, match="silent"):
        evaluation.si_sdr(np.zeros(10), np.ones(10))


# ---- diagnostics: leakage, gain share, stem levels -------------------------------------------------------------

@pytest.fixture(scope="module")
def four_stems():
    """Four independent white-noise stems, stereo, 6 s at 8 kHz (unit variance each)."""
    rng = np.random.default_rng(11)
    return {s: rng.standard_normal((2, 6 * 8000)) for s in ("vocals", "drums", "bass", "other")}, rng


def test_leakage_separates_interference_artefacts_and_level(four_stems):
    """Known answers: + 0.1 × another stem is interference at -20 dB; + independent noise at -20 dB is artefact;
    twice the reference is +6.02 dB of energy (BSS Eval v4 images mode allows no gain, but SIR/SAR stay high)."""
    refs, rng = four_stems
    noise = 0.1 * rng.standard_normal(refs["drums"].shape)
    result = evaluation.leakage(refs, {"vocals": refs["vocals"] + 0.1 * refs["bass"], "drums": refs["drums"] + noise,
                                       "bass": 2 * refs["bass"]}, 8000)
    assert set(result) == {"vocals", "drums", "bass"}
    assert result["vocals"]["SIR"] == pytest.approx(20.0, abs=1.0) and result["vocals"]["SAR"] > 60
    assert result["drums"]["SAR"] == pytest.approx(20.0, abs=1.5) and result["drums"]["SIR"] > 28
    assert result["vocals"]["energy_db"] == pytest.approx(10 * np.log10(1.01), abs=0.05)
    assert result["bass"]["energy_db"] == pytest.approx(6.02, abs=0.01)
    assert result["bass"]["SIR"] > 60 and result["bass"]["SAR"] > 60


def test_leakage_gives_nan_for_a_silent_reference_and_refuses_bad_input(four_stems):
    refs, _ = four_stems
    silent_bass = refs | {"bass": np.zeros_like(refs["bass"])}
    result = evaluation.leakage(silent_bass, {"bass": refs["vocals"], "vocals": refs["vocals"] + 0.1 * refs["drums"]},
                                8000)
    assert all(np.isnan(v) for v in result["bass"].values())
    assert result["vocals"]["SIR"] == pytest.approx(20.0, abs=1.0)  # the silent stem is left out, the rest scored
    with pytest.raises(ParameterError, match="lack \\['other'\\]"):
        evaluation.leakage({k: v for k, v in refs.items() if k != "other"}, {"vocals": refs["vocals"]}, 8000)
    with pytest.raises(ParameterError, match="shape"):
        evaluation.leakage(refs, {"vocals": refs["vocals"][:, :-1]}, 8000)
    with pytest.raises(ParameterError, match="not stems"):
        evaluation.leakage(refs, {"accompaniment": refs["drums"]}, 8000)


def test_gain_share_arithmetic():
    assert evaluation.gain_share(5.0, 1.0, 9.0) == pytest.approx(50.0)
    assert evaluation.gain_share(1.0, 1.0, 9.0) == 0.0 and evaluation.gain_share(10.0, 1.0, 9.0) > 100
    assert np.isnan(evaluation.gain_share(3.0, 2.0, 2.0))


def _noise_at(rng, level_db, shape=(2, 8 * 8000)):
    """White noise whose RMS is exactly 10 ** (level_db / 20) in every 1-s frame."""
    x = rng.standard_normal(shape).reshape(shape[0], -1, 8000)
    x /= np.sqrt((x ** 2).mean(axis=(0, 2), keepdims=True))
    return (10 ** (level_db / 20) * x).reshape(shape)


def test_stem_levels_reads_active_rms_relative_to_the_vocals():
    rng = np.random.default_rng(5)
    vocals, drums, bass = _noise_at(rng, -20), _noise_at(rng, -17), _noise_at(rng, -26)
    other = _noise_at(rng, -22)
    other[:, : other.shape[1] // 2] = 0  # plays half the song: its level is the level it plays at
    levels = evaluation.stem_levels({"vocals": vocals, "drums": drums, "bass": bass, "other": other,
                                     "mixture": vocals + drums + bass + other}, 8000)
    assert levels["drums"] == pytest.approx(3.0, abs=0.1) and levels["bass"] == pytest.approx(-6.0, abs=0.1)
    assert levels["other"] == pytest.approx(-2.0, abs=0.1)
    assert levels["active"] == {"vocals": 1.0, "drums": 1.0, "bass": 1.0, "other": 0.5}
    rest_power = 10 ** (-1.7) + 10 ** (-2.6) + 0.5 * 10 ** (-2.2)  # the rest over the vocals' (all) frames
    assert levels["vocals_vs_rest"] == pytest.approx(-20 - 10 * np.log10(rest_power), abs=0.1)
    mute = evaluation.stem_levels({"vocals": np.zeros_like(vocals), "drums": drums}, 8000)
    assert np.isnan(mute["drums"]) and np.isnan(mute["vocals_vs_rest"]) and mute["active"]["vocals"] == 0.0
    with pytest.raises(ParameterError, match="lack 'vocals'"):
        evaluation.stem_levels({"drums": drums}, 8000)


def test_level_distribution_percentiles_and_table():
    songs = [{"bass": float(v), "vocals_vs_rest": 1.0, "active": {"bass": 1.0}} for v in range(11)]
    songs.append({"bass": float("nan"), "vocals_vs_rest": 1.0})
    distribution = evaluation.level_distribution(songs)
    assert set(distribution) == {"bass", "vocals_vs_rest"}  # the active fractions are left out
    assert distribution["bass"] == {"median": 5.0, "p10": 1.0, "p90": 9.0, "n_songs": 11}
    table = evaluation.level_table(distribution)
    assert table.splitlines()[0].split() == ["bass", "median", "+5.0", "dB", "(10", "%", "+1.0,", "90", "%", "+9.0)",
                                              "real", "songs", "-6", "to", "+3", "dB"]
    assert "real songs" not in table.splitlines()[1]
    with pytest.raises(ParameterError, match="empty"):
        evaluation.level_distribution([])


def test_split_diagnostics_summarises_a_split():
    def scores(model, half):
        return {"MIX": {"vocals": {"SDR": 1.0}}, "HALF": {"vocals": {"SDR": half}},
                "IRM1": {"vocals": {"SDR": 9.0}}, "net": {"vocals": {"SDR": model}}}

    def diagnosed(sir):
        return {"leakage": {"net": {"vocals": {"SIR": sir, "SAR": 10.0, "energy_db": -1.0}}},
                "stem_levels": {"bass": sir / 10, "vocals_vs_rest": 0.0, "active": {}}}

    summary = evaluation.split_diagnostics([scores(5.0, 4.0), scores(3.0, 4.0), scores(4.0, 4.0)],
                                           [diagnosed(10.0), diagnosed(20.0), diagnosed(30.0)], "net")
    assert summary["irm1_share"] == {"vocals": pytest.approx(37.5)}  # median 4.0 -> (4 - 1) / (9 - 1)
    assert summary["at_or_below_half"] == {"vocals": 2}
    assert summary["leakage"] == {"vocals": {"SIR": 20.0, "SAR": 10.0, "energy_db": -1.0}}
    assert summary["baselines_vs_musdb18"]["IRM1"]["vocals"] == {"median": 9.0, "musdb18": 8.52}
    assert summary["stem_levels"]["bass"]["median"] == pytest.approx(2.0)
    with pytest.raises(ParameterError, match="HALF"):
        evaluation.split_diagnostics([{"MIX": {}, "IRM1": {}, "net": {}}], [diagnosed(1.0)], "net")
