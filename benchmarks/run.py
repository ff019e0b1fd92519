"""``make bench``: the course's separator measured for quality, speed and cost, side by side with its peers.

Writes ``benchmarks/results.md`` and ``benchmarks/results.json``. Every timing is repeated (``--runs``) and reported
as median and min–max; the U-Net and the peers (Open-Unmix, HT Demucs; random weights, CPU PyTorch, in the bench
environment ``.venv-bench``, see ``benchmarks/peers.py``) run alternately on the same input, so a noisy machine
moves their ratio less than their absolute times. Benchmarks are not tests: nothing here fails on a time.

Usage: ``python benchmarks/run.py --peer-python .venv-bench/bin/python`` (what ``make bench`` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("vocals", "drums")


def stats(values) -> dict:
    """Median, min and max of repeated measurements (and the runs themselves)."""
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def machine() -> dict:
    """What ran the benchmark: CPU, cores, memory, versions."""
    import keras
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    memory = next((int(line.split()[1]) / 2 ** 20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0.0) if Path("/proc/meminfo").exists() else 0.0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gib": round(memory, 1), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__}


class Peers:
    """The peer worker (``benchmarks/peers.py``) in the bench environment, asked one JSON command at a time."""

    def __init__(self, python):
        self.python = str(python)
        self.process = subprocess.Popen([self.python, str(ROOT / "benchmarks" / "peers.py")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def ask(self, **command) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        if "error" in reply:
            raise RuntimeError(f"peer: {reply['error']}")
        return reply

    def close(self):
        self.process.stdin.close()
        self.process.wait()


#: Runs a command and prints its peak RSS. A small process in between matters: on Linux a child's ``ru_maxrss``
#: starts at its parent's resident size at fork (kept across exec), and this harness holds TensorFlow and data.
RSS_PROBE = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL); _, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss, status)")


def peak_rss_mib(command) -> float:
    """Run a command and return its peak resident memory (MiB), from the kernel's accounting (``wait4``)."""
    probe = subprocess.run(["python3", "-c", RSS_PROBE, *command], capture_output=True, text=True, check=True)
    kib, status = (int(v) for v in probe.stdout.split())
    if status:
        raise RuntimeError(f"{command} failed with status {status}")
    return kib / 1024  # KiB on Linux


def unet_profile(report_seconds: float, timings: dict) -> dict:
    """Where one end-to-end run of the U-Net spent its time: the separator's own stage timings
    (:attr:`helpers.separation.Separator.timings`), and the rest (decoding, checks, writing) as "file I/O and other".
    """
    profile = {stage: float(seconds) for stage, seconds in timings.items()}
    profile["file I/O and other"] = report_seconds - sum(profile.values())
    return profile


def speed(peers, song, short_song, out, runs) -> dict:
    """End-to-end realtime factors and model-only throughputs, the U-Net and the peers alternately."""
    from helpers import models, separation

    separator = separation.Separator()
    paths = separation.output_paths(song, out / "unet", targets=separator.targets, residual="accompaniment")
    separator(np.zeros((2, 44100 * 5), np.float32), 44100)  # warm-up: traces the model
    wave = separation.Separator(models.PRETRAINED_WAVE)
    wave_paths = separation.output_paths(song, out / "wave", targets=wave.targets, residual="accompaniment")
    wave(np.zeros((2, 44100 * 5), np.float32), 44100)
    unet_e2e, unet_model, umx_e2e, umx_model, cli, profiles = [], [], [], [], [], []
    wave_e2e, wave_model = [], []
    for run in range(runs):
        print(f"  speed run {run + 1}/{runs}", flush=True)
        separator.reset_timings()
        start = time.perf_counter()
        report = separation.separate_file(song, paths, separator, progress=False)
        unet_e2e.append(time.perf_counter() - start)
        unet_model.append(separator.timings["model"])  # the network alone, inside this very run
        profiles.append(unet_profile(unet_e2e[-1], separator.timings))
        wave.reset_timings()
        start = time.perf_counter()
        separation.separate_file(song, wave_paths, wave, progress=False)
        wave_e2e.append(time.perf_counter() - start)
        wave_model.append(wave.timings["model"])
        umx_e2e.append(peers.ask(op="end_to_end", model="umx", song=str(song), out=str(out / "umx"))["seconds"])
        umx_model.append(peers.ask(op="model_only", model="umx", song=str(song))["seconds"])
        if run < 3:  # the whole command, in a new process
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "helpers.separate", str(song), "--out", str(out / "cli"),
                            "--overwrite", "--quiet"], check=True, stderr=subprocess.DEVNULL)
            cli.append(time.perf_counter() - start)
    demucs_e2e, demucs_model = [], []
    for run in range(2):  # at about realtime, two runs of the excerpt are what the time budget allows
        print(f"  HT Demucs run {run + 1}/2", flush=True)
        reply = peers.ask(op="end_to_end", model="htdemucs", song=str(short_song), out=str(out / "htdemucs"))
        demucs_e2e.append(reply["seconds"])
        demucs_model.append(reply["model_seconds"])
    return {"audio_seconds": report["seconds"], "short_audio_seconds": reply["audio_seconds"],
            "torch": peers.ask(op="info", model="umx")["torch"],
            "U-Net": {"parameters": int(separator.network.count_params()), "end_to_end_s": stats(unet_e2e),
                      "model_only_s": stats(unet_model), "command_s": stats(cli),
                      "profile_s": {stage: statistics.median(p[stage] for p in profiles) for stage in profiles[0]}},
            "Wave-U-Net": {"parameters": int(wave.network.count_params()), "end_to_end_s": stats(wave_e2e),
                           "model_only_s": stats(wave_model)},
            "Open-Unmix": {"parameters": peers.ask(op="info", model="umx")["parameters"],
                           "end_to_end_s": stats(umx_e2e), "model_only_s": stats(umx_model)},
            "HT Demucs": {"parameters": peers.ask(op="info", model="htdemucs")["parameters"],
                          "end_to_end_s": stats(demucs_e2e), "model_only_s": stats(demucs_model)}}


def memory(song10, song3, peer_python, out) -> dict:
    """Peak RSS of whole processes: the `separate` command on 3 and 10 minutes (U-Net) and on 10 minutes
    (Wave-U-Net), Open-Unmix on 10 minutes."""
    from helpers import models

    command = [sys.executable, "-m", "helpers.separate", "--out", str(out / "rss"), "--overwrite", "--quiet"]
    umx = json.dumps({"op": "end_to_end", "model": "umx", "song": str(song10), "out": str(out / "rss_umx")})
    return {"U-Net 3 min": peak_rss_mib(command + [str(song3)]),
            "U-Net 10 min": peak_rss_mib(command + [str(song10)]),
            "Wave-U-Net 10 min": peak_rss_mib(command + ["--model", str(models.PRETRAINED_WAVE), str(song10)]),
            "Open-Unmix 10 min": peak_rss_mib([peer_python, str(ROOT / "benchmarks" / "peers.py"), "--once", umx])}


def training_throughput(cache_dir) -> dict:
    """Examples per second training the default U-Net (batch 8) on the FAST (8 songs) and full (45 songs) caches."""
    import keras

    from helpers import data, models

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    tracks = data.load_tracks("generated", "train")
    results = {}
    for name, n_tracks, epochs in (("FAST", 8, 4), ("full", 45, 3)):
        cache = data.build_cache(tracks[:n_tracks], cache_dir / f"bench_unet_{n_tracks}.h5", targets=TARGETS,
                                 progress=False)
        n_examples = data.cache_info(cache)["n_examples"]
        keras.utils.set_random_seed(0)
        model = models.unet(targets=TARGETS)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={t: "mae" for t in TARGETS})
        timer = EpochTimer()
        timer.seconds = []
        model.fit(data.tf_dataset(cache, targets=TARGETS, batch_size=8, shuffle=True), epochs=epochs, callbacks=[timer],
                  shuffle=False, verbose=0)
        rates = [n_examples / s for s in timer.seconds[1:]]  # the first epoch traces the model
        results[name] = {"n_examples": n_examples, "examples_per_s": stats(rates)}
    return results


def quality(cache_dir) -> dict:
    """BSS Eval SDR on the generated test split: baselines, oracles, the two FNNs (trained here) and the U-Net."""
    import keras

    from helpers import data, evaluation, models, separation

    wave = separation.Separator(models.PRETRAINED_WAVE)
    timings = {}
    train = data.load_tracks("generated", "train")[:10]
    test = data.load_tracks("generated", "test")
    keras.utils.set_random_seed(0)
    # The waveform FNN of notebook 02, given vocals and drums heads, trained on mono frames of 10 songs.
    start = time.perf_counter()
    frames, targets = [], {t: [] for t in TARGETS}
    for track in train:
        arrays = data.track_arrays(track, targets=TARGETS)
        for channel in range(2):
            x, y = data.waveform_frames(arrays["mixture"][channel], {t: arrays[t][channel] for t in TARGETS},
                                        frame_length=512, hop_length=256)
            frames.append(x)
            for t in TARGETS:
                targets[t].append(y[t])
    waveform_fnn = models.waveform_fnn(512, sources=TARGETS)
    waveform_fnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    waveform_fnn.fit(np.concatenate(frames), {t: np.concatenate(v) for t, v in targets.items()}, epochs=10,
                     batch_size=64, verbose=0)
    timings["waveform FNN training"] = time.perf_counter() - start
    # The spectrogram FNN of notebook 04, FAST size: 10 songs, 8 epochs.
    start = time.perf_counter()
    cache = data.build_cache(train, cache_dir / "bench_fnn_10.h5", targets=TARGETS, progress=False)
    spectrogram_fnn = models.spectrogram_fnn(targets=TARGETS, context=3)
    spectrogram_fnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    spectrogram_fnn.fit(data.spectrogram_fnn_batches(cache, targets=TARGETS, context=3, segments_per_batch=4, seed=0),
                        steps_per_epoch=data.cache_info(cache)["n_examples"] // 4, epochs=8, verbose=0)
    timings["spectrogram FNN training"] = time.perf_counter() - start

    def per_channel(fn):
        return lambda mixture: {t: np.stack([fn(channel)[t] for channel in mixture]) for t in TARGETS}

    estimators = {
        "waveform FNN": per_channel(lambda m: models.separate_waveform(waveform_fnn, m, frame_length=512,
                                                                                hop_length=256)),
        "spectrogram FNN": lambda m: models.separate_spectrogram_fnn(spectrogram_fnn, m),
        "U-Net": lambda m: separation.separate(m, 22050),
        "Wave-U-Net": lambda m: wave(m, 22050),
        "U-Net + Wiener": lambda m: separation.separate(m, 22050, wiener=True),
    }
    start = time.perf_counter()
    per_track = evaluation.score_on_tracks(test, estimators, targets=TARGETS, sample_rate=22050,
                                           methods=("MIX", "IRM1", "IRM2", "Wiener"))
    timings["scoring"] = time.perf_counter() - start
    table = evaluation.results_table(per_track)
    return {"sdr": table.values, "n_tracks": len(test), "seconds": timings}


#: The generated splits scored at 44.1 kHz, each with the title its section of results.md gets.
SPLITS = {"test": "in-domain test split (Fluid R3 bank)",
          "heldout": "held-out split (MuseScore General bank, unseen singers and effects)",
          "hard": "hard split (`data.load_tracks(\"generated\", \"hard\")`)"}


def quality_splits() -> dict:
    """SDR at 44.1 kHz on the generated test splits (in-domain, held-out bank, hard), old and new U-Net, and how
    the U-Net fails and the split compares with MUSDB18 (:func:`helpers.evaluation.split_diagnostics`)."""
    from helpers import config, data, evaluation, models, separation
    from helpers.exceptions import ParameterError

    old = separation.Separator(models.PRETRAINED_22K, TARGETS)
    new = separation.Separator(models.PRETRAINED, TARGETS)
    new_wiener = separation.Separator(models.PRETRAINED, TARGETS, wiener=True)
    bass_separator = separation.Separator(models.PRETRAINED, ("bass",))
    estimators = {"old U-Net (22.05 kHz, NumPy songs)": lambda m: old(m, 44100),
                  "U-Net": lambda m: new(m, 44100), "U-Net + Wiener": lambda m: new_wiener(m, 44100)}
    results = {}
    for split in SPLITS:
        folder = config.generated_root() / split
        if not folder.is_dir():
            print(f"  {split} split skipped: no folder {folder}", flush=True)
            continue
        start = time.perf_counter()
        try:
            tracks = data.load_tracks("generated", split)
        except ParameterError as exc:
            print(f"  {split} split skipped: {exc}", flush=True)
            continue
        # Leakage for the U-Net only: museval's whole-track solve costs seconds per target and song.
        per_track, diagnostics = evaluation.score_on_tracks(
            tracks, estimators, targets=TARGETS, sample_rate=44100, methods=("MIX", "HALF", "IRM1", "IRM2", "Wiener"),
            diagnostics=("U-Net",))
        table = evaluation.results_table(per_track)
        above_half = {t: sum(s["U-Net"][t]["SDR"] > s["HALF"][t]["SDR"] for s in per_track) for t in TARGETS}
        bass = evaluation.score_on_tracks(tracks, {"U-Net": lambda m: bass_separator(m, 44100)}, targets=("bass",),
                                          sample_rate=44100,
                                          methods=("MIX", "HALF", "IRM1"))
        results[split] = {"sdr": table.values, "n_tracks": len(tracks), "above_half": above_half,
                          "bass_sdr": evaluation.results_table(bass).values,
                          **evaluation.split_diagnostics(per_track, diagnostics, "U-Net"),
                          "seconds": time.perf_counter() - start}
        print(f"  {split}: stem levels relative to the vocals (active RMS)\n"
              + evaluation.level_table(results[split]["stem_levels"]), flush=True)
    return results


def notebooks(out) -> dict:
    """Each notebook's execution time with FAST=1 (one run each)."""
    from helpers import course

    os.environ["FAST"] = "1"
    times = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(f"  {path.name}", flush=True)
        status, seconds, error = course.run_notebook(path, out / "notebooks")
        times[path.stem] = {"status": status, "seconds": seconds, "error": error}
    return times


def share_of_irm1(sdr, method, target):
    """:func:`helpers.evaluation.gain_share` of ``method`` on a table's medians (``sdr[method][target]``)."""
    from helpers import evaluation

    return evaluation.gain_share(sdr[method][target], sdr["MIX"][target], sdr["IRM1"][target])


def _diagnostics_markdown(q) -> list:
    """How the U-Net fails on a split and how the split compares with MUSDB18: the lines of its results.md part."""
    from helpers import evaluation

    lines = ["How the U-Net fails: its share of IRM1's gain over MIX is "
             + ", ".join(f"{share:.0f} % ({t})" for t, share in q["irm1_share"].items())
             + "; it is at or below HALF on "
             + ", ".join(f"{n} of {q['n_tracks']} songs ({t})" for t, n in q["at_or_below_half"].items())
             + ". Whole-track BSS Eval against all four stems (one window per song; median over songs): low SIR "
             "is leakage from the other stems, low SAR artefacts; energy > 0 dB is an estimate louder than the "
             "truth, < 0 dB a quieter one.", "",
             "| target | SIR (dB) | SAR (dB) | energy (dB) |", "|---|---|---|---|"]
    for target, d in q["leakage"].items():
        lines.append(f"| {target} | {d['SIR']:.2f} | {d['SAR']:.2f} | {d['energy_db']:+.2f} |")
    lines += ["", "The split against MUSDB18 (SDR in dB, median over songs; MUSDB18: SiSEC 2018, 50 test songs): MIX "
              "says how loud the target is against the rest, IRM1 how much the sources overlap.", "",
              "| baseline | target | this split | MUSDB18 |", "|---|---|---|---|"]
    for method, row in q["baselines_vs_musdb18"].items():
        for target, d in row.items():
            musdb = "—" if d["musdb18"] is None else f"{d['musdb18']:.2f}"
            lines.append(f"| {method} | {target} | {d['median']:.2f} | {musdb} |")
    lines += ["", "Stem levels of the split (active RMS relative to the vocals over 1-s frames where the stem plays; "
              "vocals_vs_rest: the vocals over the sum of the others; median and 10th / 90th percentiles over "
              "songs). The real-song ranges are the team's measurement on held-out real multitracks (issue #23).", "",
              "```", evaluation.level_table(q["stem_levels"]), "```", ""]
    return lines


def markdown(results) -> str:
    """The results as the Markdown page ``benchmarks/results.md``."""
    m, lines = results["machine"], []
    lines += ["# Benchmarks", "",
              f"Measured {results['date']} by `{results['command']}` in {results['total_seconds'] / 60:.1f} min, "
              f"on {m['cores']} CPU cores ({m['cpu']}), {m['memory_gib']} GiB, {m['platform']}; Python "
              f"{m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, PyTorch {results['speed']['torch']} "
              "for the peers. Absolute times vary with the machine and its load; the U-Net and the peers run "
              "alternately on the same input, so their ratios vary less. Times are medians (min–max) over the runs "
              "shown.", ""]
    if "quality" in results:
        q = results["quality"]
        sdr = q["sdr"]
        lines += ["## Quality", "",
                  f"BSS Eval v4 SDR (dB, museval, 1-s windows; median over frames, then over the {q['n_tracks']} "
                  "generated test songs) at 22.05 kHz, stereo. \"Share\" is the part of IRM1's gain over MIX a "
                  "method recovers. The FNNs are trained here at the notebooks' FAST size (waveform FNN: 10 songs, "
                  "10 epochs; spectrogram FNN: 10 songs, 8 epochs); the U-Net and the Wave-U-Net are the shipped "
                  "checkpoints, run by `helpers.separation` (25 % overlap).", "",
                  "| method | vocals | drums | share vocals | share drums |", "|---|---|---|---|---|"]
        for method, scores in sdr.items():
            share = ("| — | — " if method in ("MIX", "IRM1") else
                     f"| {share_of_irm1(sdr, method, 'vocals'):.0f} % | {share_of_irm1(sdr, method, 'drums'):.0f} % ")
            lines.append(f"| {method} | {scores['vocals']:.2f} | {scores['drums']:.2f} {share}|")
        lines.append("")
    for split, q in results.get("quality_splits", {}).items():
        sdr = q["sdr"]
        lines += [f"## Quality at 44.1 kHz: {SPLITS.get(split, split)}", "",
                  f"BSS Eval v4 SDR (dB, museval; median over frames, then over the {q['n_tracks']} songs), full band, "
                  "oracles with n_fft 2048 / hop 512. The old U-Net is the 22.05-kHz model trained on the NumPy "
                  "songs (resampled in and out); the U-Net is the shipped full-band model. U-Net above HALF on "
                  + ", ".join(f"{n} of {q['n_tracks']} songs ({t})" for t, n in q["above_half"].items()) + ".", "",
                  "| method | vocals | drums | share vocals | share drums |", "|---|---|---|---|---|"]
        for method, scores in sdr.items():
            share = ("| — | — " if method in ("MIX", "IRM1") else
                     f"| {share_of_irm1(sdr, method, 'vocals'):.0f} % | {share_of_irm1(sdr, method, 'drums'):.0f} % ")
            lines.append(f"| {method} | {scores['vocals']:.2f} | {scores['drums']:.2f} {share}|")
        bass = q["bass_sdr"]
        lines += ["", f"Wiener oracle minus IRM2: {sdr['Wiener']['vocals'] - sdr['IRM2']['vocals']:.2f} dB (vocals), "
                  f"{sdr['Wiener']['drums'] - sdr['IRM2']['drums']:.2f} dB (drums). Bass (the same model's third "
                  f"head): MIX {bass['MIX']['bass']:.2f}, HALF {bass['HALF']['bass']:.2f}, IRM1 "
                  f"{bass['IRM1']['bass']:.2f}, U-Net {bass['U-Net']['bass']:.2f} dB "
                  f"({share_of_irm1(bass, 'U-Net', 'bass'):.0f} % of IRM1's gain).", ""]
        if "leakage" in q:  # the diagnostics (results.json files written before them lack these keys)
            lines += _diagnostics_markdown(q)
    s = results["speed"]
    umx_e2e = s["Open-Unmix"]["end_to_end_s"]["median"]
    lines += ["## Inference speed", "",
              f"Separating a {s['audio_seconds'] / 60:.0f}-minute 44.1-kHz stereo file (generated test songs one "
              "after another), end to end: load the file, separate, write every stem (and the residual). "
              "Realtime factor = processing time / audio duration (lower is faster); × realtime is its inverse. "
              "Model-only: the network alone on its prepared input (U-Net and Wave-U-Net: the network's calls "
              "inside each end-to-end run, from the separator's own stage timings; "
              "Open-Unmix: the two target networks on the magnitude spectrogram; HT Demucs: `apply_model`, which "
              "includes its own chunking). Peers: the architectures with random weights "
              "(openunmix 1.3.0: `Separator` of two `OpenUnmix` models, n_fft 4096, hop 1024, hidden 512, "
              "3 layers, 16-kHz bandwidth, no Wiener iterations, the whole file at once as in its `predict`; "
              "demucs 4.1.0: `HTDemucs()` defaults, four sources, `apply_model` with 25 % overlap). "
              "openunmix was imported with a stand-in module for torchaudio (no build for this PyTorch; the "
              "classes used need only torch). "
              f"HT Demucs is timed on the first {s['short_audio_seconds']:.0f} s of the same songs only (it runs at "
              "about realtime on this CPU), so its figures are per second of that excerpt.", "",
              "| system | parameters | end to end (s) | realtime factor | × realtime | model only (s) | "
              "model throughput (audio s / s) |", "|---|---|---|---|---|---|---|"]
    for name in ("U-Net", "Wave-U-Net", "Open-Unmix", "HT Demucs"):
        r = s[name]
        duration = s["short_audio_seconds"] if name == "HT Demucs" else s["audio_seconds"]
        e2e, model = r["end_to_end_s"], r["model_only_s"]
        lines.append(f"| {name} | {r['parameters'] / 1e6:.2f} M | {e2e['median']:.2f} ({e2e['min']:.2f}–"
                     f"{e2e['max']:.2f}) | {e2e['median'] / duration:.4f} | {duration / e2e['median']:.1f} | "
                     f"{model['median']:.2f} ({model['min']:.2f}–{model['max']:.2f}) | "
                     f"{duration / model['median']:.1f} |")
    u = s["U-Net"]
    paired = statistics.median(umx / unet for unet, umx in zip(u["end_to_end_s"]["runs"],
                                                               s["Open-Unmix"]["end_to_end_s"]["runs"]))
    lines += ["", f"End to end the U-Net is **{umx_e2e / u['end_to_end_s']['median']:.2f}×** Open-Unmix's throughput "
              f"(median of the per-run ratios: {paired:.2f}×). "
              f"The whole `separate` command (a new process: imports, model load, separation, writing) takes "
              f"{u['command_s']['median']:.1f} s ({u['command_s']['min']:.1f}–{u['command_s']['max']:.1f}), "
              f"{s['audio_seconds'] / u['command_s']['median']:.0f}× realtime.", "",
              "Where the U-Net's time goes in an end-to-end run (the separator's stage timings, median over the runs; "
              "the rest is decoding, checks and writing):", "",
              "| stage | seconds | share |", "|---|---|---|"]
    total = sum(u["profile_s"].values())
    for stage, seconds in u["profile_s"].items():
        lines.append(f"| {stage} | {seconds:.2f} | {100 * seconds / total:.0f} % |")
    mem = results["memory"]
    lines += ["", "## Memory", "",
              "Peak resident memory of the whole process (the kernel's `ru_maxrss`), one run each:", "",
              "| run | peak RSS (MiB) |", "|---|---|"]
    lines += [f"| {name} | {mib:.0f} |" for name, mib in mem.items()]
    t = results["training"]
    lines += ["", "## Training throughput", "",
              "The default U-Net (0.62 M parameters, batch 8, Adam, L1 per head) on the HDF5 cache through tf.data, "
              "every epoch but the first (which traces the model): 3 for FAST, 2 for full.", "",
              "| data | examples | examples / s |", "|---|---|---|"]
    for name, r in t.items():
        e = r["examples_per_s"]
        lines.append(f"| {name} | {r['n_examples']} | {e['median']:.1f} ({e['min']:.1f}–{e['max']:.1f}) |")
    if "notebooks" in results:
        lines += ["", "## Course runtime", "", "Each notebook executed headless with FAST=1, one run:", "",
                  "| notebook | status | seconds |", "|---|---|---|"]
        for name, r in results["notebooks"].items():
            lines.append(f"| {name} | {r['status']} | {r['seconds']:.1f} |")
        lines.append(f"| total | | {sum(r['seconds'] for r in results['notebooks'].values()):.1f} |")
    lines += ["", "## Goals", "", "| goal | measured | |", "|---|---|---|"]
    for goal, measured, met in results["goals"]:
        lines.append(f"| {goal} | {measured} | {'met' if met else '**missed**'} |")
    return "\n".join(lines) + "\n"


def goals(results) -> list:
    from helpers import evaluation

    s, u = results["speed"], results["speed"]["U-Net"]
    realtime = s["audio_seconds"] / u["end_to_end_s"]["median"]
    ratio = s["Open-Unmix"]["end_to_end_s"]["median"] / u["end_to_end_s"]["median"]
    rss = results["memory"]["U-Net 10 min"]
    rows = [("U-Net ≥ 40× realtime end to end", f"{realtime:.1f}×", realtime >= 40),
            ("≥ 2× Open-Unmix's throughput", f"{ratio:.2f}×", ratio >= 2),
            ("peak RSS ≤ 1.5 GB for 10 minutes", f"{rss * 2 ** 20 / 1e9:.2f} GB", rss * 2 ** 20 <= 1.5e9)]
    splits = results.get("quality_splits", {})
    for split, floor in (("test", 85), ("heldout", 70)):
        if split in splits:
            for target in TARGETS:
                gain = share_of_irm1(splits[split]["sdr"], "U-Net", target)
                rows.append((f"U-Net ≥ {floor} % of IRM1's gain, {split} split ({target})", f"{gain:.0f} %",
                             gain >= floor))
    # Realism of the generated songs (issue #23): MIX (how loud the target is against the rest) and IRM1 (how much
    # the sources overlap) near MUSDB18's (SiSEC 2018) on every split, and a small Wiener-IRM2 gap.
    for split in ("test", "heldout", "hard"):
        if split in splits:
            sdr = splits[split]["sdr"]
            for method, tolerance in (("MIX", 1.5), ("IRM1", 2.0)):
                for target, musdb in evaluation.MUSDB18_BASELINES[method].items():
                    rows.append((f"{method} within ±{tolerance} dB of MUSDB18's {musdb}, {split} split ({target})",
                                 f"{sdr[method][target]:.2f} dB", abs(sdr[method][target] - musdb) <= tolerance))
    if "test" in splits:
        sdr = splits["test"]["sdr"]
        for target in TARGETS:
            gap = sdr["Wiener"][target] - sdr["IRM2"][target]
            rows.append((f"Wiener oracle − IRM2 ≤ 3 dB ({target})", f"{gap:.2f} dB", gap <= 3))
    if "heldout" in splits:
        q = splits["heldout"]
        for target, n in q["above_half"].items():
            rows.append((f"U-Net above HALF on every held-out song ({target})", f"{n} of {q['n_tracks']}",
                         n == q["n_tracks"]))
    if "quality" in results:
        sdr = results["quality"]["sdr"]
        for target in TARGETS:
            share = share_of_irm1(sdr, "U-Net", target)
            rows.append((f"U-Net ≥ 80 % of IRM1's gain ({target})", f"{share:.0f} %", share >= 80))
        for target in TARGETS:
            share = share_of_irm1(sdr, "Wave-U-Net", target)
            rows.append((f"Wave-U-Net ≥ 50 % of IRM1's gain ({target})", f"{share:.0f} %", share >= 50))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", type=Path, required=True, help="Python of the bench environment")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="where results.md/json go")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench", help="scratch folder")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each timing (default: 5)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("quality", "notebooks"),
                        help="leave out slow sections (for a quick look)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from helpers import config, songs

    begin = time.perf_counter()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    songs.generate(progress=False)
    song3 = songs.demo_song(work / "song_3min.wav", duration=180.0)
    song10 = songs.demo_song(work / "song_10min.wav", duration=600.0)
    short = songs.demo_song(work / "song_15s.wav", duration=15.0)
    results = {"command": "make bench", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": machine()}
    peers = Peers(args.peer_python)
    try:
        print("speed ...", flush=True)
        results["speed"] = speed(peers, song3, short, work, args.runs)
    finally:
        peers.close()
    print("memory ...", flush=True)
    results["memory"] = memory(song10, song3, str(args.peer_python), work)
    print("training throughput ...", flush=True)
    results["training"] = training_throughput(config.data_dir() / "cache")
    if "quality" not in args.skip:
        print("quality at 44.1 kHz, the generated test splits ...", flush=True)
        results["quality_splits"] = quality_splits()
        print("quality at 22.05 kHz, every model of the course ...", flush=True)
        results["quality"] = quality(config.data_dir() / "cache")
    if "notebooks" not in args.skip:
        print("notebooks ...", flush=True)
        results["notebooks"] = notebooks(work)
    results["goals"] = goals(results)
    results["total_seconds"] = time.perf_counter() - begin
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
