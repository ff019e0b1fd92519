"""``make bench-app``: the web app under a class's load — 20 users each upload a 10-s song at the same moment.

For each worker count, a fresh server (``python -m helpers.app``, its own store) on a free loopback port; 20
client threads upload at once and poll until done. Reports, per worker count and over ``--runs`` runs: the median
and 95th percentile of the time from the upload's start to "done", the time until the last user is done, and the
server's peak resident memory (``VmHWM``). Every result is checked (stems + residual = the upload). Writes
``benchmarks/results_app.md`` and ``.json``. A benchmark, not a test: nothing fails on a time.

Usage: ``python benchmarks/app_load.py [--workers 1 2] [--users 20] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def song(seed: int, seconds: float = 10.0, rate: int = 44100) -> bytes:
    """A generated 10-s song's mixture (the course's synthesiser), as 16-bit WAV bytes."""
    from helpers import songs

    signals, _ = songs.numpy_engine.make_song(seed, seed, "test", duration=seconds, sample_rate=rate)
    buffer = io.BytesIO()
    sf.write(buffer, signals["mixture"].T, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_user(url: str, data: bytes, index: int) -> dict:
    """Upload, poll until done, download the stems and check they add up; seconds from upload to done."""
    with httpx.Client(base_url=url, timeout=600) as client:
        start = time.perf_counter()
        reply = client.post("/api/separations", files={"file": (f"user{index}.wav", data, "audio/wav")})
        reply.raise_for_status()
        separation_id = reply.json()["id"]
        while True:
            job = client.get(f"/api/separations/{separation_id}").json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        original = sf.read(io.BytesIO(data), dtype="float32")[0]
        total = sum(sf.read(io.BytesIO(client.get(f"/api/separations/{separation_id}/stems/{name}.wav").content),
                            dtype="float32")[0] for name in job["stems"])
        error = float(np.abs(total - original).max()) if job["status"] == "done" else float("inf")
    return {"status": job["status"], "seconds": seconds, "sum_error": error}


def run(workers: int, songs: list[bytes]) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as root:
        server = subprocess.Popen([sys.executable, "-m", "helpers.app", "--root", root, "--port", str(port),
                                   "--workers", str(workers)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(url + "/api/config", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the app did not start") from None
                    time.sleep(0.2)
            start = time.perf_counter()
            with ThreadPoolExecutor(len(songs)) as pool:
                users = list(pool.map(one_user, [url] * len(songs), songs, range(len(songs))))
            wall = time.perf_counter() - start
            rss = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    times = sorted(u["seconds"] for u in users)
    return {"p50_s": statistics.median(times), "p95_s": float(np.percentile(times, 95)), "all_done_s": wall,
            "peak_rss_mib": rss, "n_done": sum(u["status"] == "done" for u in users),
            "max_sum_error": max(u["sum_error"] for u in users)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/app_load.py", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    songs = [song(i) for i in range(args.users)]
    results = {}
    for workers in args.workers:
        runs = []
        for i in range(args.runs):
            print(f"workers={workers}: run {i + 1}/{args.runs}", flush=True)
            runs.append(run(workers, songs))
        results[workers] = {key: statistics.median(r[key] for r in runs) for key in runs[0]} | {"runs": runs}
    lines = ["# The web app under load", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `make bench-app` on "
             f"{os.cpu_count()} cores: {args.users} users each upload a 10-s generated song (44.1 kHz, stereo, "
             f"16-bit) at the same moment and poll until done; medians over {args.runs} runs of a fresh server.", "",
             "| workers | done | p50 upload → done (s) | p95 (s) | last user done (s) | server peak RSS (MiB) |",
             "|---|---|---|---|---|---|"]
    for workers, r in results.items():
        lines.append(f"| {workers} | {r['n_done']:.0f}/{args.users} | {r['p50_s']:.1f} | {r['p95_s']:.1f} | "
                     f"{r['all_done_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    lines += ["", f"Every result was checked: the largest |stems + residual − upload| was "
              f"{max(r['max_sum_error'] for r in results.values()):.1e}."]
    (ROOT / "benchmarks" / "results_app.md").write_text("\n".join(lines) + "\n")
    (ROOT / "benchmarks" / "results_app.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
