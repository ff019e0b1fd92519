import base64
import io
import re

import numpy as np
import pytest
import soundfile as sf

from helpers import ParameterError, widgets


@pytest.fixture
def stems():
    rng = np.random.default_rng(0)
    return {name: (0.1 * rng.standard_normal((2, 800))).astype(np.float32) for name in ("vocals", "drums", "bass")}


def _decode(wav):
    return sf.read(io.BytesIO(wav), dtype="float32")


def test_players_table_has_one_row_per_signal(stems):
    table = widgets.players(stems, 8000).data
    assert table.count("<audio") == 3
    for name in stems:
        assert f"<b>{name}</b>" in table
    assert table.count("data:audio/ogg;base64,") == 3
    payload = re.findall(r"base64,([A-Za-z0-9+/=]+)", table)[0]
    decoded, rate = _decode(base64.b64decode(payload))  # Ogg Vorbis: lossy, so compare level and shape
    assert rate == 8000 and decoded.shape == (800, 2)
    assert np.corrcoef(decoded[:, 0], stems["vocals"][0])[0, 1] > 0.7  # white noise, the codec's worst case
    level_db = 10 * np.log10(np.mean(decoded ** 2) / np.mean(stems["vocals"] ** 2))
    assert abs(level_db) < 1.5  # not normalised


def test_players_name_the_bad_signal():
    with pytest.raises(ParameterError, match="signal 'bad'"):
        widgets.players({"bad": np.array([np.nan, 0.0])}, 8000)


def test_mix_stems_gains_mutes_and_solos(stems):
    np.testing.assert_allclose(widgets.mix_stems(stems), sum(stems.values()), atol=1e-6)
    np.testing.assert_allclose(widgets.mix_stems(stems, gains_db={"drums": -6.0206}, muted=["bass"]),
                               stems["vocals"] + 0.5 * stems["drums"], atol=1e-6)
    np.testing.assert_allclose(widgets.mix_stems(stems, soloed=["drums"], muted=["drums"]), stems["drums"])
    with pytest.raises(ParameterError, match="'guitar' is not a stem"):
        widgets.mix_stems(stems, muted=["guitar"])


def test_mixer_widget_renders_the_mix(stems):
    mixer = widgets.mixer(stems, 8000)
    decoded, _ = _decode(mixer.audio.value)
    np.testing.assert_allclose(decoded.T, sum(stems.values()), atol=2 ** -14)
    solo_drums = mixer.children[1].children[2]  # drums row: slider, mute, solo
    solo_drums.value = True
    decoded, _ = _decode(mixer.audio.value)
    np.testing.assert_allclose(decoded.T, stems["drums"], atol=2 ** -14)


def test_stft_view_resolutions_and_reconstruction():
    x = np.random.default_rng(1).standard_normal(22050).astype(np.float32) * 0.1
    good = widgets.stft_view(x, 22050, n_fft=1024, hop_length=256)
    assert good["bin_hz"] == pytest.approx(21.533, abs=1e-3) and good["frame_ms"] == pytest.approx(46.44, abs=0.01)
    assert good["magnitude_db"].shape == (513, 87) and good["magnitude_db"].max() == 0
    assert good["magnitude_db"].min() >= -80 and good["snr_db"] > 60
    broken = widgets.stft_view(x, 22050, n_fft=1024, hop_length=1024, window="hann")
    assert broken["snr_db"] < 40  # hop = n_fft breaks the overlap-add condition (edges of each frame lost)


def test_stft_explorer_updates_on_control_change():
    x = np.random.default_rng(2).standard_normal(8000).astype(np.float32) * 0.1
    explorer = widgets.stft_explorer({"noise": x}, 8000)
    view = explorer.update()
    assert view["snr_db"] > 60
    n_fft = explorer.children[0].children[1]
    n_fft.value = 256
    assert explorer.figure.axes[0].images[0].get_array().shape == (129, 1 + 8000 // 64)
    assert _decode(explorer.audio.value)[0].shape == (8000,)
    assert explorer.picture.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_track_picker_shows_the_chosen_track(small_dataset):
    from helpers import data

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    picker = widgets.track_picker(tracks)
    assert picker.table.value.count("<audio") == 5
    first = picker.table.value
    picker.menu.value = 1
    assert picker.table.value != first and picker.table.value.count("<audio") == 5
    with pytest.raises(ParameterError, match="empty"):
        widgets.track_picker([])


@pytest.fixture(scope="module")
def mono_references(small_dataset):
    from helpers import audio, data

    track = data.load_tracks("generated", "test", root=small_dataset)[0]
    arrays = data.track_arrays(track, targets=("vocals", "drums", "bass", "other"), sample_rate=8000)
    return {k: audio.to_mono(v) for k, v in arrays.items()}


def test_mask_lab_view_scores_follow_the_mask(mono_references):
    from helpers import evaluation, spectral

    refs = mono_references
    stfts = {k: spectral.stft(v) for k, v in refs.items() if k != "mixture"}
    mixture_stft = spectral.stft(refs["mixture"])
    irm = widgets.mask_lab_view(stfts, mixture_stft, refs, target="vocals", mask_type="IRM1", sample_rate=8000)
    mix_sdr = evaluation.bss_eval_target(refs["vocals"], refs["mixture"], refs["mixture"], 8000)["SDR"]
    assert irm["sdr"] > mix_sdr + 5 and irm["mask"].shape == mixture_stft.shape
    binary = widgets.mask_lab_view(stfts, mixture_stft, refs, target="vocals", mask_type="IRM1", threshold=0.5,
                                   with_sdr=False)
    assert set(np.unique(binary["mask"])) <= {0.0, 1.0} and binary["sdr"] is None
    softer = widgets.mask_lab_view(stfts, mixture_stft, refs, target="vocals", mask_type="IRM1", exponent=0.25,
                                   with_sdr=False)
    assert softer["mask"].mean() > irm["mask"].mean()
    with pytest.raises(ParameterError, match="mask_type='IRM3'"):
        widgets.mask_lab_view(stfts, mixture_stft, refs, target="vocals", mask_type="IRM3")


def test_mask_lab_widget_updates(mono_references):
    lab = widgets.mask_lab(mono_references, 8000)
    first = lab.scores.value
    assert "SDR" in first and lab.picture.value[:4] == b"\x89PNG"
    lab.children[0].children[0].value = "drums"
    assert lab.scores.value != first
    assert _decode(lab.audio.value)[0].shape == mono_references["mixture"].shape


def test_widget_figures_stay_out_of_pyplot(mono_references):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    widgets.mask_lab(mono_references, 8000)
    widgets.stft_explorer({"mixture": mono_references["mixture"]}, 8000)
    assert plt.get_fignums() == before  # a later plt.show() in the notebook will not display them again
