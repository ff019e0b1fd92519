"""helpers.segments: cutting signals into segments, where segments start, and the cross-fade that joins them."""

import numpy as np
import pytest

from helpers import ParameterError, segments


def test_crossfade_weights_sum_to_one():
    for length, overlap in [(100, 25), (101, 50), (10, 0), (7, 3)]:
        weights = segments.crossfade_weights(length, overlap)
        assert weights.shape == (length,) and weights.min() > 0 and weights.max() == 1
        hop = length - overlap
        total = np.zeros(5 * hop + length)
        for start in range(0, 5 * hop + 1, hop):
            total[start:start + length] += weights
        np.testing.assert_allclose(total[overlap:5 * hop + overlap], 1.0, atol=1e-6)
    with pytest.raises(ParameterError, match="overlap_length=60"):
        segments.crossfade_weights(100, 60)


@pytest.mark.parametrize("n_samples", [1, 74, 75, 76, 1000])
def test_segment_starts_cover_the_signal_with_full_weight(n_samples):
    length, overlap = 100, 25
    starts = segments.segment_starts(n_samples, segment_length=length, overlap_length=overlap)
    assert starts[0] == -overlap
    assert starts[-1] + length - overlap >= n_samples  # the last sample lies before the last segment's fade-out
    assert len(starts) == 1 or starts[-2] + length - overlap < n_samples  # and no segment is wasted


def test_seams_lie_at_boundaries_or_in_the_middle_of_cross_fades():
    np.testing.assert_array_equal(segments.seam_positions(350, segment_length=100, overlap_length=0), [100, 200, 300])
    # segments start at -20, 60, 140, 220, 300: their overlaps are [60, 80), [140, 160), ...
    np.testing.assert_array_equal(segments.seam_positions(300, segment_length=100, overlap_length=20), [70, 150, 230])


def test_split_pads_the_last_segment():
    x = np.arange(10, dtype=np.float32).reshape(1, 10)
    pieces = segments.split(x, segment_length=4)
    assert pieces.shape == (3, 1, 4)
    np.testing.assert_array_equal(pieces[-1, 0], [8, 9, 0, 0])
    np.testing.assert_array_equal(pieces[:, 0].ravel()[:10], x[0])
    assert segments.split(x, segment_length=16).shape == (1, 1, 16)
    assert segments.split(x, segment_length=4, hop_length=2).shape == (4, 1, 4)
    with pytest.raises(ParameterError, match="segment_length=0"):
        segments.split(x, segment_length=0)
