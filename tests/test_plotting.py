"""helpers.plotting: the figures draw what they claim."""

import matplotlib.pyplot as plt
import numpy as np

from helpers import models, plotting, segments


def test_crossfade_segments_figure_draws_every_segment_and_a_unit_sum():
    axes = plotting.crossfade_segments(np.zeros((2, 44100 * 3)), 44100, segment_length=1000, overlap_length=250,
                                       model_rate=1000, seconds=3.0)
    lines = axes[1].lines
    starts = segments.segment_starts(3000, segment_length=1000, overlap_length=250)
    assert len(lines) == len(starts) + 1  # one per segment, then the sum
    np.testing.assert_allclose(lines[-1].get_ydata(), 1.0, atol=1e-6)
    plt.close(axes[0].figure)


def test_unet_diagram_draws_every_block():
    model = models.unet(n_fft=128, hop_length=32, n_frames=16, base_filters=2, depth=2)
    ax = plotting.unet_diagram(model)
    texts = [t.get_text() for t in ax.texts]
    assert sum("conv 5×5 /2" in t for t in texts) == 2 and sum("deconv" in t for t in texts) == 2
    assert any(t.startswith("vocals:") for t in texts) and any(t.startswith("drums:") for t in texts)
    plt.close(ax.figure)
