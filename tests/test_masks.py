import numpy as np
import pytest

from helpers import ParameterError, masks, spectral


@pytest.fixture(scope="module")
def sources():
    """Two independent stereo sources: a low tone with harmonics and high-passed noise, 1 s at 8 kHz."""
    rng = np.random.default_rng(5)
    t = np.arange(8000) / 8000
    tone = 0.3 * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 440 * t))
    noise = np.diff(rng.standard_normal(8001)) * 0.1
    return {"tone": np.stack([tone, 0.8 * tone]), "noise": np.stack([noise, noise[::-1]])}


@pytest.fixture(scope="module")
def stfts(sources):
    return {name: spectral.stft(s, n_fft=512, hop_length=128) for name, s in sources.items()}


def test_ratio_masks_sum_to_one_and_stay_in_range(stfts):
    for power in (1, 2):
        ratio = masks.ratio_masks(stfts, power=power)
        total = sum(ratio.values())
        np.testing.assert_allclose(total, 1.0, atol=1e-6)
        assert all((m >= 0).all() and (m <= 1).all() for m in ratio.values())
    silent = masks.ratio_masks({"a": np.zeros((3, 4), complex), "b": np.zeros((3, 4), complex)})
    np.testing.assert_array_equal(silent["a"], 0.5)


def test_binary_masks_partition_the_bins(stfts):
    binary = masks.binary_masks(stfts)
    np.testing.assert_array_equal(sum(binary.values()), 1.0)
    louder = np.abs(stfts["tone"]) > np.abs(stfts["noise"])
    np.testing.assert_array_equal(binary["tone"].astype(bool), louder)


def test_ideal_masks_reconstruct_and_rank_as_expected(sources, stfts):
    """IRM estimates sum back to the mixture exactly; every oracle beats the mixture as an estimate."""
    mixture = sources["tone"] + sources["noise"]
    mixture_stft = spectral.stft(mixture, n_fft=512, hop_length=128)
    irm = masks.ratio_masks(stfts, power=1)
    estimates = {n: masks.apply_mask(m, mixture_stft, hop_length=128, length=8000) for n, m in irm.items()}
    np.testing.assert_allclose(sum(estimates.values()), mixture, atol=1e-5)

    def snr(ref, est):
        return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - est) ** 2))

    baseline = snr(sources["tone"], mixture)
    for mask_set in (masks.binary_masks(stfts), irm, masks.ratio_masks(stfts, power=2)):
        estimate = masks.apply_mask(mask_set["tone"], mixture_stft, hop_length=128, length=8000)
        assert snr(sources["tone"], estimate) > baseline + 10


def test_soft_mask_exponent_and_threshold():
    target = np.array([[0.0, 0.25, 0.5, 1.0, 2.0]])
    mixture = np.ones_like(target)
    np.testing.assert_allclose(masks.soft_mask(target, mixture), [[0, 0.25, 0.5, 1, 1]])
    np.testing.assert_allclose(masks.soft_mask(target, mixture, exponent=2), [[0, 0.0625, 0.25, 1, 1]])
    np.testing.assert_array_equal(masks.soft_mask(target, mixture, threshold=0.5), [[0, 0, 1, 1, 1]])
    with pytest.raises(ParameterError, match="exponent=0"):
        masks.soft_mask(target, mixture, exponent=0)
    with pytest.raises(ParameterError, match="shapes differ"):
        masks.soft_mask(target, mixture[:, :2])


def test_apply_mask_rejects_bad_masks(stfts):
    mixture_stft = stfts["tone"] + stfts["noise"]
    with pytest.raises(ParameterError, match=r"in \[0, 1\]"):
        masks.apply_mask(np.full(mixture_stft.shape, 1.5), mixture_stft)
    with pytest.raises(ParameterError, match="differs"):
        masks.apply_mask(np.ones((2, 3)), mixture_stft)


def test_wiener_with_oracle_magnitudes_recovers_sources(sources, stfts):
    mixture_stft = stfts["tone"] + stfts["noise"]
    filtered = masks.wiener({n: np.abs(s) for n, s in stfts.items()}, mixture_stft, iterations=1)
    assert set(filtered) == {"tone", "noise"} and filtered["tone"].shape == mixture_stft.shape
    np.testing.assert_allclose(filtered["tone"] + filtered["noise"], mixture_stft, atol=1e-3)
    estimate = spectral.istft(filtered["tone"], hop_length=128, length=8000)
    error = np.sum((sources["tone"] - estimate) ** 2) / np.sum(sources["tone"] ** 2)
    assert 10 * np.log10(1 / error) > 15
    with pytest.raises(ParameterError, match="n_channels, n_bins, n_frames"):
        masks.wiener({"a": np.abs(mixture_stft[0])}, mixture_stft[0])
