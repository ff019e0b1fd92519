"""Training on several processes (:mod:`helpers.distributed`), with real worker processes on 127.0.0.1.

``make test-distributed`` runs these on Keras's JAX backend with the ``distributed`` extra installed; the main suite
leaves this folder out (``tests/conftest.py``).

- Two processes take the same SGD step as one process on the concatenated global batch, and hold the same weights.
- The workers' shards of the tracks and their batches of an epoch partition what there is: none seen twice.
- A worker killed with SIGKILL mid-epoch ends the run within 60 s, with one line naming it; the run restarted with
  the same command resumes from its backup and ends with the uninterrupted run's weights.
- Bad options are refused before anything starts.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import ParameterError, distributed, models, songs
from helpers.train import main as train_main

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import step_worker  # noqa: E402

pytestmark = [pytest.mark.skipif(keras.backend.backend() != "jax", reason="runs on Keras's JAX backend"),
              # Keras's variables under NumPy 2 (keras/src/backend/common/variables.py): not the course's code
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


def environment():
    return {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}


def test_two_processes_take_the_single_process_step_on_the_global_batch(tmp_path):
    address = f"127.0.0.1:{distributed.free_port()}"
    workers = [subprocess.Popen([sys.executable, str(HERE / "step_worker.py"), str(i), address, str(tmp_path)],
                                env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(step_worker.N_PROCESSES)]
    for w in workers:
        output, _ = w.communicate(timeout=240)
        assert w.returncode == 0, output[-3000:]

    keras.utils.set_random_seed(0)
    model = step_worker.compiled(step_worker.tiny_unet())
    shards = [step_worker.segments(distributed.Worker(i, step_worker.N_PROCESSES),
                                   step_worker.BATCH // step_worker.N_PROCESSES)
              for i in range(step_worker.N_PROCESSES)]
    initial = model.get_weights()
    for step in range(step_worker.STEPS):
        batches = [shard[step] for shard in shards]
        x = np.concatenate([b[0] for b in batches])  # worker 0's rows, then worker 1's: the global batch
        y = {t: np.concatenate([b[1][t] for b in batches]) for t in batches[0][1]}
        assert x.shape[0] == step_worker.BATCH
        model.train_on_batch(x, y)
        expected = model.get_weights()
        got = [list(np.load(tmp_path / f"worker{i}_step{step + 1}.npz").values())
               for i in range(step_worker.N_PROCESSES)]
        for a, b in zip(*got):  # both workers hold the very same weights
            np.testing.assert_array_equal(a, b)
        for e, g in zip(expected, got[0]):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7, err_msg=f"step {step + 1}")
    assert any(not np.allclose(a, b) for a, b in zip(initial, expected))  # the steps moved the weights


def test_shards_and_batches_partition_the_data():
    tracks = [f"track {i}" for i in range(11)]
    for n in (1, 2, 3, 4):
        parts = [distributed.shard(tracks, distributed.Worker(i, n)) for i in range(n)]
        assert sorted(sum(parts, [])) == sorted(tracks)  # every track, each once
    with pytest.raises(ParameterError, match="2 items cannot be shared among 3 workers"):
        distributed.shard(tracks[:2], distributed.Worker(0, 3))

    # Each track's stems carry its number as a constant, so an example says which track it came from.
    from helpers import data

    arrays = [{s: np.full((2, 4000), float(t + 1), np.float32) for s in ("vocals", "drums", "bass", "other")}
              for t in range(6)]
    seen = []
    for i in range(2):
        worker = distributed.Worker(i, 2)
        segments = data.WaveformSegments(distributed.shard(arrays, worker), ("vocals",), segment_length=256,
                                         batch_size=4, n_batches=8, augment=False, worker=worker)
        tracks_seen = {int(v) for b in range(len(segments)) for v in np.unique(segments[b][1]["vocals"])}
        assert tracks_seen == {t + 1 for t in range(6)[i::2]}  # its own tracks, all of them, and no other's
        seen.append(tracks_seen)
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(1, 7))


@pytest.fixture(scope="module")
def songs_root(tmp_path_factory):
    """Six 4-s training songs and one test song, NumPy-synthesised: enough for two shards of tracks to train on and
    two to validate on."""
    root = tmp_path_factory.mktemp("songs")
    return songs.generate(root, n_train=6, n_test=1, duration=4.0, n_duets_train=1, n_duets_test=1,
                          duet_duration=3.0, workers=1, progress=False, engine="numpy")


def command(root, model_path, *extra):
    """The training command for a tiny U-Net on two processes (the local launcher)."""
    return [sys.executable, "-m", "helpers.train", "--root", str(root), "--n-valid", "2", "--quiet",
            "--sample-rate", "8000", "--n-fft", "128", "--hop-length", "32", "--n-frames", "16", "--base-filters",
            "2", "--depth", "2", "--set", "dropout=0", "--batch-size", "4", "--steps-per-epoch", "40",
            "--patience", "100", "--learning-rate", "3e-3", "--num-processes", "2",
            "--heartbeat-timeout-seconds", "20", "--model-path", str(model_path), *extra]


def worker_pid(launcher_pid, process_id):
    """The pid of the launcher's child that runs ``--process-id process_id``."""
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(launcher_pid)], capture_output=True,
                         text=True).stdout
    found = [int(line.split()[0]) for line in out.splitlines() if f"--process-id {process_id} " in line + " "]
    assert len(found) == 1, out
    return found[0]


def wait_for_epochs(csv_path, n, process, limit=240):
    """Wait until the chief's CSV log has ``n`` epochs."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if csv_path.exists() and len(csv_path.read_text().strip().splitlines()) - 1 >= n:
            return
        assert process.poll() is None, process.communicate()[0][-3000:]
        time.sleep(0.1)
    raise AssertionError(f"no {n} epochs in {limit} s")


def test_a_killed_worker_ends_the_run_and_a_restart_resumes_where_it_was(songs_root, tmp_path):
    epochs = 5
    # The uninterrupted run.
    whole = tmp_path / "whole" / "model.keras"
    done = subprocess.run(command(songs_root, whole, "--epochs", str(epochs)), env=environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(whole.with_suffix(".csv").read_text().strip().splitlines()) == 1 + epochs
    assert not list(tmp_path.glob("*/.*training*"))  # the chief's checkpoint is gone once the model is saved

    # The same run, with a backup, and worker 1 killed in the middle of epoch 3.
    resumed, backup = tmp_path / "resumed" / "model.keras", tmp_path / "backup"
    arguments = command(songs_root, resumed, "--epochs", str(epochs), "--backup-dir", str(backup))
    launcher = subprocess.Popen(arguments, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    try:
        wait_for_epochs(resumed.with_suffix(".csv"), 2, launcher)
        time.sleep(0.3)
        os.kill(worker_pid(launcher.pid, 1), signal.SIGKILL)
        killed = time.monotonic()
        output, _ = launcher.communicate(timeout=90)
    finally:  # nothing outlives the test
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert time.monotonic() - killed < 60
    assert launcher.returncode != 0
    assert "worker 1 of 2" in output and "SIGKILL" in output, output[-3000:]
    assert "train: error: worker 0 of 2: lost worker 1" in output, output[-3000:]  # the survivor's own line
    assert (backup / "latest.weights.h5").exists() and not resumed.exists()
    logged = len(resumed.with_suffix(".csv").read_text().strip().splitlines()) - 1
    assert 2 <= logged < epochs

    # The restart: the same command resumes from the backup, runs the remaining epochs, removes the backup.
    restarted = subprocess.run(arguments, env=environment(), capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert not backup.exists()
    rows = resumed.with_suffix(".csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]][-1] == str(epochs - 1)  # it ended at the last epoch
    for a, b in zip(models.load(whole).get_weights(), models.load(resumed).get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_process_the_others_never_join_gives_up_in_bounded_time(tmp_path):
    address = f"127.0.0.1:{distributed.free_port()}"  # nobody listens there: the coordinator never comes
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "helpers.train", "--fast", "--root", str(tmp_path), "--quiet",
                           "--num-processes", "2", "--process-id", "1", "--coordinator-address", address,
                           "--heartbeat-timeout-seconds", "3"], env=environment(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and time.monotonic() - start < 60
    assert f"train: error: worker 1 of 2: the run's 2 processes did not all join at {address} within 12 s" in \
        done.stderr, done.stderr[-2000:]


def free_listening_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


@pytest.mark.parametrize("options, message", [
    (["--num-processes", "0"], "num_processes=0 must be a positive integer"),
    (["--num-processes", "2", "--process-id", "2", "--coordinator-address", "127.0.0.1:1234"],
     "process_id=2 must be an integer in [0, 2)"),
    (["--num-processes", "3", "--batch-size", "8"], "3 processes cannot share it equally"),
    (["--num-processes", "2", "--process-id", "1"], "needs coordinator_address=host:port"),
    (["--num-processes", "2", "--coordinator-address", "nowhere"], "must be host:port"),
    (["--num-processes", "2", "--heartbeat-timeout-seconds", "0"], "must be positive"),
    (["--num-processes", "2", "--coordinator-address", "192.0.2.1:1234"], "its coordinator must be here"),
], ids=["no-processes", "process-id", "batch", "no-address", "bad-address", "heartbeat", "launcher-elsewhere"])
def test_bad_options_are_refused_before_anything_starts(options, message, capsys):
    assert train_main(["--fast", "--root", "/nonexistent", *options]) == 2
    assert message in capsys.readouterr().err


def test_a_coordinator_port_in_use_is_refused(capsys):
    listener, port = free_listening_port()
    with listener:
        assert train_main(["--num-processes", "2", "--coordinator-address", f"127.0.0.1:{port}"]) == 2
    assert f"port {port} is in use" in capsys.readouterr().err


def test_one_process_spreads_over_the_local_devices(tmp_path):
    """Two CPU devices stand in for a machine's GPUs: one process trains data-parallel over both."""
    script = f"""
import keras, numpy as np
from helpers import distributed
import step_worker
assert distributed.use_local_devices() == 2
assert isinstance(keras.distribution.distribution(), keras.distribution.DataParallel)
keras.utils.set_random_seed(0)
model = step_worker.compiled(step_worker.tiny_unet())
x, y = step_worker.segments(distributed.SINGLE, 4)[0]
model.train_on_batch(x, y)
np.savez({str(tmp_path / "two.npz")!r}, *model.get_weights())
"""
    environment_two = {**environment(), "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], env=environment_two, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    keras.utils.set_random_seed(0)
    model = step_worker.compiled(step_worker.tiny_unet())
    x, y = step_worker.segments(distributed.SINGLE, 4)[0]
    model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), np.load(tmp_path / "two.npz").values()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
