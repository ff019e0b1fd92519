"""Training losses written with ``keras.ops`` (any backend): L1 on waveforms and a multi-resolution STFT loss.

A waveform model trained with L1 alone matches samples, which weighs loud low frequencies most and cares nothing
for how the error sounds. The multi-resolution STFT loss compares magnitude spectrograms at several FFT sizes:
**spectral convergence** (the relative Frobenius error of the magnitudes, dominated by the strong components) plus
the mean absolute error of the **log magnitudes** (which hears the quiet ones too). Several resolutions keep the
model from fitting one time-frequency trade-off and leaving artefacts the others would see.

.. math::

    L_{sc} = \\frac{\\lVert |S| - |\\hat S| \\rVert_F}{\\lVert |S| \\rVert_F}, \\qquad
    L_{mag} = \\frac{1}{N} \\lVert \\log |S| - \\log |\\hat S| \\rVert_1, \\qquad
    L = \\frac{1}{R} \\sum_{r=1}^{R} (L_{sc}^{(r)} + L_{mag}^{(r)})

**Numerical safety.** Both terms blow up where the reference is silent, which the training data has on purpose (a
dropped target, sections without vocals): the log's slope :math:`1/|\\hat S|` grows without bound as a magnitude
goes to zero, and :math:`L_{sc}` divides by :math:`\\lVert |S| \\rVert_F`. So the log reads
:math:`\\log(|S| + \\epsilon_{log})` and the denominator :math:`\\sqrt{\\lVert |S| \\rVert_F^2 + N \\epsilon_{log}^2}`
(:data:`LOG_FLOOR`, 100 to 115 dB under a full-scale sine's peak), which bounds both gradients; training clips the
gradient norm too (:func:`helpers.training.train`). Without them the course's first STFT-loss run diverged
(validation loss 4.7 → 43.8 in one epoch, and stuck there).

Taught in: notebooks/07_time_domain.ipynb

References
----------
.. [1] Yamamoto, Song & Kim, "Parallel WaveGAN", ICASSP 2020 (the multi-resolution STFT loss).
.. [2] Steinmetz & Reiss, "auraloss: audio-focused loss functions in PyTorch", DMRN+15, 2020.
"""

from __future__ import annotations

import keras

from helpers.exceptions import ParameterError, check_int

#: FFT sizes of the multi-resolution STFT loss (hop = n_fft / 4, window = n_fft, periodic Hann), as in [1].
FFT_SIZES = (512, 1024, 2048)
#: Added to the power before the square root (the magnitude's gradient stays finite at zero).
EPS = 1e-7
#: Added to the magnitudes inside the log, and (per bin) to the spectral convergence's denominator: a floor about
#: 100 to 115 dB under a full-scale sine's peak magnitude (``n_fft / 4`` with a Hann window, n_fft 512 to 2048).
LOG_FLOOR = 1e-3


def stft_magnitude(audio, *, n_fft: int):
    """Magnitude STFT of a batch of waveforms (periodic Hann window of ``n_fft``, hop ``n_fft // 4``, no padding).

    Used by: helpers.losses.MultiResolutionSTFTLoss

    Parameters
    ----------
    audio : tensor [shape=(batch, n_samples) or (batch, n_samples, 1)], float32

    Returns
    -------
    magnitude : tensor [shape=(batch, n_frames, n_fft // 2 + 1)]
    """
    ops = keras.ops
    if len(audio.shape) == 3:
        audio = ops.squeeze(audio, axis=-1)
    real, imag = ops.stft(audio, n_fft, n_fft // 4, n_fft, window="hann", center=False)
    return ops.sqrt(real ** 2 + imag ** 2 + EPS)


@keras.saving.register_keras_serializable(package="helpers")
class MultiResolutionSTFTLoss(keras.losses.Loss):
    """Spectral convergence plus log-magnitude L1, averaged over several STFT resolutions; optionally plus L1 on the
    waveform (``waveform_weight``).

    Used by: helpers.losses.waveform_loss

    Parameters
    ----------
    fft_sizes : sequence of int
        One resolution each (hop ``n // 4``); each must fit in a training segment.
    waveform_weight : float >= 0
        Weight of the waveform L1 term added to the spectral one (0: the spectral loss alone).

    Raises
    ------
    ParameterError
        If ``fft_sizes`` is empty or holds a size below 16, or ``waveform_weight`` is negative.

    Notes
    -----
    Safe where the reference is silent: see the module's note on :data:`LOG_FLOOR`.
    """

    def __init__(self, *, fft_sizes=FFT_SIZES, waveform_weight: float = 0.0, name: str = "multi_resolution_stft",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if not fft_sizes:
            raise ParameterError("fft_sizes is empty")
        self.fft_sizes = tuple(check_int("fft size", n, minimum=16) for n in fft_sizes)
        if not waveform_weight >= 0:
            raise ParameterError(f"waveform_weight={waveform_weight!r} must be >= 0")
        self.waveform_weight = float(waveform_weight)

    def call(self, y_true, y_pred):
        ops = keras.ops
        total = 0.0
        for n_fft in self.fft_sizes:
            reference, estimate = stft_magnitude(y_true, n_fft=n_fft), stft_magnitude(y_pred, n_fft=n_fft)
            # ||S - Ŝ||_F / sqrt(||S||_F² + N floor²), written with means (the same ratio)
            convergence = ops.sqrt(ops.mean((reference - estimate) ** 2)) / ops.sqrt(
                ops.mean(reference ** 2) + LOG_FLOOR ** 2)
            log_magnitude = ops.mean(ops.abs(ops.log(reference + LOG_FLOOR) - ops.log(estimate + LOG_FLOOR)))
            total = total + convergence + log_magnitude
        total = total / len(self.fft_sizes)
        if self.waveform_weight:
            total = total + self.waveform_weight * ops.mean(ops.abs(y_true - y_pred))
        # one value per batch: the spectral terms are batch-wide, as in auraloss; Keras averages a vector
        return ops.ones((ops.shape(y_true)[0],)) * total

    def get_config(self):
        return {**super().get_config(), "fft_sizes": list(self.fft_sizes), "waveform_weight": self.waveform_weight}


#: The losses ``python -m helpers.train --model wave-unet --loss ...`` offers.
LOSSES = ("l1", "stft", "l1+stft")


def waveform_loss(name: str):
    """The Keras loss for a name of :data:`LOSSES`: ``"l1"`` (mean absolute error on samples), ``"stft"``
    (:class:`MultiResolutionSTFTLoss`) or ``"l1+stft"`` (both, the L1 weighted 1).

    Taught in: notebooks/07_time_domain.ipynb

    Raises
    ------
    ParameterError
        If the name is not one of :data:`LOSSES`.
    """
    if name == "l1":
        return keras.losses.MeanAbsoluteError()
    if name == "stft":
        return MultiResolutionSTFTLoss()
    if name == "l1+stft":
        return MultiResolutionSTFTLoss(waveform_weight=1.0)
    raise ParameterError(f"loss={name!r} must be one of {', '.join(LOSSES)}")
