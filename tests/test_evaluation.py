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
