"""The peers' side of ``make bench``: Open-Unmix and HT Demucs architectures, random weights, CPU PyTorch.

Runs in the bench environment (``.venv-bench``: torch 2.13.0 CPU, openunmix, demucs), not in the course's. It
answers JSON commands, one per line on stdin, with one JSON line on stdout, so that ``benchmarks/run.py`` can
time the U-Net and the peers alternately on the same input. ``--once CMD`` runs a single command and exits (for
peak-memory runs in a fresh process).

openunmix's package ``__init__`` imports torchaudio, which has no build for this PyTorch; the model classes used here
(``openunmix.model.OpenUnmix`` and ``Separator``) need only torch, so a stand-in module takes torchaudio's name
before the import. The results say so.
"""

import argparse
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # never used: see the module docstring

from demucs.apply import apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402
from openunmix.model import OpenUnmix, Separator  # noqa: E402

TARGETS = ("vocals", "drums")
MODELS = {}


def build(name):
    """Build a peer with its paper's default configuration and random weights (seeded)."""
    torch.manual_seed(0)
    if name == "umx":
        # Open-Unmix (Stöter et al. 2019): 44.1 kHz stereo, n_fft 4096, hop 1024, 3 BLSTM layers of 512, bandwidth
        # 16 kHz (max_bin 1487, as umxhq); one model per target, two targets, no Wiener iterations.
        max_bin = int(np.ceil(16000 / (44100 / 2) * 2049))
        targets = {t: OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512, nb_layers=3, max_bin=max_bin)
                   for t in TARGETS}
        model = Separator(targets, niter=0, sample_rate=44100, n_fft=4096, n_hop=1024, nb_channels=2)
    elif name == "htdemucs":
        model = HTDemucs(sources=["drums", "bass", "other", "vocals"])  # Rouard et al. 2022: the defaults
    else:
        raise ValueError(name)
    model.eval()
    return model


def model(name):
    if name not in MODELS:
        MODELS[name] = build(name)
    return MODELS[name]


def read(song, seconds):
    frames = -1 if seconds is None else int(seconds * sf.info(song).samplerate)
    audio, rate = sf.read(song, dtype="float32", frames=frames, always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(audio.T)), rate


def end_to_end(name, song, out, seconds=None):
    """Load the file, separate, write every estimate (plus the residual for UMX).

    Returns the seconds it took, the audio's duration, and the seconds of the separation call alone.
    """
    separator = model(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    audio, rate = read(song, seconds)
    separating = time.perf_counter()
    with torch.inference_mode():
        if name == "umx":
            estimates = separator(audio[None])[0]  # (n_targets, n_channels, n_samples)
            names = list(TARGETS)
        else:
            estimates = apply_model(separator, audio[None], split=True, overlap=0.25, progress=False)[0]
            names = list(separator.sources)
    separating = time.perf_counter() - separating
    estimates = estimates.numpy()
    for i, target in enumerate(names):
        sf.write(out / f"{target}.wav", estimates[i].T, rate, subtype="FLOAT")
    if name == "umx":
        sf.write(out / "accompaniment.wav", (audio.numpy() - estimates.sum(0)).T, rate, subtype="FLOAT")
    return time.perf_counter() - start, audio.shape[-1] / rate, separating


def model_only(name, song, seconds=None):
    """The network alone on the song's input (spectrogram for UMX, waveform chunks for HT Demucs)."""
    separator = model(name)
    audio, rate = read(song, seconds)
    with torch.inference_mode():
        if name == "umx":
            magnitude = separator.complexnorm(separator.stft(audio[None]))
            start = time.perf_counter()
            for target_model in separator.target_models.values():
                target_model(magnitude)
        else:
            start = time.perf_counter()
            apply_model(separator, audio[None], split=True, overlap=0.25, progress=False)
    return time.perf_counter() - start, audio.shape[-1] / rate


def answer(command):
    op = command["op"]
    if op == "info":
        peer = model(command["model"])
        return {"parameters": int(sum(p.numel() for p in peer.parameters())), "torch": torch.__version__,
                "threads": torch.get_num_threads()}
    if op == "end_to_end":
        seconds, duration, model_seconds = end_to_end(command["model"], command["song"], command["out"],
                                                      command.get("seconds"))
        return {"seconds": seconds, "audio_seconds": duration, "model_seconds": model_seconds}
    if op == "model_only":
        seconds, duration = model_only(command["model"], command["song"], command.get("seconds"))
        return {"seconds": seconds, "audio_seconds": duration}
    raise ValueError(f"unknown op {op!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", help="one JSON command; run it and exit")
    args = parser.parse_args()
    if args.once:
        print(json.dumps(answer(json.loads(args.once))), flush=True)
        return
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # report, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
