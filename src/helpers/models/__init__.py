"""The course's networks, in Keras 3 (layers and ``keras.ops`` only, so they build under any backend), one module
per architecture, each ending in its declaration (:class:`Architecture`), and what they share (:mod:`.base`).

- :mod:`.base`: the declaration and the registry (:func:`register`, :func:`architecture`), the settings a model
  carries (:class:`AudioSettings`, :func:`settings`), :func:`build`, :func:`save`, :func:`load`, :func:`card`;
- :mod:`.fnn`: the waveform FNN (notebook 02) and the spectrogram FNN (notebook 04), with their loops;
- :mod:`.unet`: the spectrogram U-Net (notebook 05);
- :mod:`.wave_unet`: the Wave-U-Net (notebook 07).

Adding a model is one module like these: a builder whose model carries an :class:`AudioSettings` layer, and one
:func:`register` call. Everything is re-exported here (``models.unet``, ``models.load``).

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
notebooks/05_unet_vocals_drums.ipynb, notebooks/07_time_domain.ipynb
"""

from helpers.models.base import (INPUTS, OUTPUTS, PLUGINS_VARIABLE, PRETRAINED, PRETRAINED_22K, PRETRAINED_WAVE,
                                 SETTINGS_LAYER, Architecture, AudioSettings, Log1p, architecture, architectures,
                                 build, card, check_stft, file_settings, load, register, save, settings)
from helpers.models.fnn import (SPECTROGRAM_FNN, CentreFrame, separate_spectrogram_fnn, separate_waveform,
                                spectrogram_fnn, waveform_fnn)
from helpers.models.unet import UNET, MaskExtension, unet, unet_mask_model, unet_masks
from helpers.models.wave_unet import WAVE_UNET, Decimate, LinearUpsample, receptive_field, wave_unet

__all__ = ["INPUTS", "OUTPUTS", "PLUGINS_VARIABLE", "PRETRAINED", "PRETRAINED_22K", "PRETRAINED_WAVE",
           "SETTINGS_LAYER", "SPECTROGRAM_FNN", "UNET", "WAVE_UNET", "Architecture", "AudioSettings", "CentreFrame",
           "Decimate", "LinearUpsample", "Log1p", "MaskExtension", "architecture", "architectures", "build", "card",
           "check_stft", "file_settings", "load", "receptive_field", "register", "save", "separate_spectrogram_fnn",
           "separate_waveform", "settings", "spectrogram_fnn", "unet", "unet_mask_model", "unet_masks", "wave_unet",
           "waveform_fnn"]
