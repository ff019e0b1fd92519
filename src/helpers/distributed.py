"""Training on several processes: data-parallel Keras 3 on JAX, one process per host (or per device group).

The engine is Keras 3's own ``keras.distribution.DataParallel`` over ``jax.distributed``: every process holds the
whole model, feeds its own part of each global batch, and XLA sums the gradients across processes (over Gloo on
CPUs, NCCL on GPUs) inside the compiled training step, so every process takes the same step. The course builds no
gradient exchange of its own. ``jax.distributed`` also watches the processes: each sends a heartbeat to the
coordinator (process 0), and a process that stops answering ends the run everywhere.

The roles, in the engine's words: ``num_processes`` processes, each with a ``process_id`` from 0, which meet at the
``coordinator_address`` (``host:port``, where process 0 listens). Process 0 is the **chief**: it alone writes the
checkpoints, logs and model card that a single-process run writes; the others write their copies of a checkpoint
(saving is a step all processes take together) to a scratch folder that is removed.

Used by: helpers.train, helpers.training, helpers.data
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.exceptions import ParameterError, check_int

#: How to install the engine (the ``distributed`` extra: JAX).
INSTALL = "pip install -e '.[distributed]'"
#: Seconds without a heartbeat after which the coordinator declares a process dead (``jax.distributed``'s
#: ``heartbeat_timeout_seconds``; JAX's own default is 100).
HEARTBEAT_TIMEOUT_SECONDS = 30
#: The processes wait this many heartbeat timeouts for each other at start-up (``initialization_timeout``).
HEARTBEATS_TO_JOIN = 4


@dataclass(frozen=True)
class Worker:
    """One process of a run: its ``process_id`` (``index``) among ``num_processes`` (``count``).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Used by: helpers.training, helpers.data
    """

    index: int = 0
    count: int = 1

    @property
    def chief(self) -> bool:
        """Process 0 writes the run's files."""
        return self.index == 0

    def __str__(self):
        return f"worker {self.index} of {self.count}"


#: A run on one process.
SINGLE = Worker()


def parse_address(address: str) -> tuple[str, int]:
    """Split ``"host:port"``.

    Used by: helpers.distributed.check

    Raises
    ------
    ParameterError
        If it is not ``host:port`` with a port in 1–65535.
    """
    host, colon, port = str(address).rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"coordinator_address={address!r} must be host:port (a port in 1-65535)")
    return host.strip("[]"), int(port)


def port_in_use(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` (this machine) cannot be bound: another program listens there.

    Used by: helpers.distributed.check
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free now, for a local coordinator.

    Used by: helpers.distributed.launch
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _is_local(host: str) -> bool:
    # An address of this machine is one a socket can bind to (another's: "cannot assign requested address").
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, 0))
        except OSError:
            return False
    return True


def check(num_processes: int, process_id: int | None, coordinator_address: str | None, batch_size: int) -> None:
    """Check a multi-process run's options before anything starts.

    Used by: helpers.train

    Parameters
    ----------
    num_processes : int > 0
        Processes in the run.
    process_id : int in [0, num_processes) or None
        This process's; ``None``: launch all ``num_processes`` on this machine (:func:`launch`).
    coordinator_address : str or None
        ``host:port`` of process 0. Needed with ``process_id`` when ``num_processes > 1``; without ``process_id``
        a free local port is chosen when ``None``.
    batch_size : int > 0
        The **global** batch: each process feeds ``batch_size // num_processes`` examples of every step.

    Raises
    ------
    ParameterError
        If a count is not positive, ``process_id`` is out of range, the processes cannot share the batch equally,
        the address is not ``host:port``, lacks where it is needed or is another machine's for the local launcher,
        the coordinator's port on this machine is in use, or the engine (JAX) is not installed.
    """
    check_int("num_processes", num_processes)
    check_int("batch_size", batch_size)
    if process_id is not None and (isinstance(process_id, bool) or not isinstance(process_id, int)
                                   or not 0 <= process_id < num_processes):
        raise ParameterError(f"process_id={process_id!r} must be an integer in [0, {num_processes})")
    if batch_size % num_processes:
        raise ParameterError(f"batch_size={batch_size} is the global batch: {num_processes} processes cannot share "
                             f"it equally (give a multiple of {num_processes})")
    if num_processes == 1:
        return
    if importlib.util.find_spec("jax") is None:
        raise ParameterError(f"num_processes={num_processes} needs the JAX engine: {INSTALL}")
    if process_id is not None and coordinator_address is None:
        raise ParameterError("a process of a multi-process run needs coordinator_address=host:port (process 0's)")
    if coordinator_address is not None:
        host, port = parse_address(coordinator_address)
        if process_id is None and not _is_local(host):
            raise ParameterError(f"coordinator_address={coordinator_address!r}: the local launcher starts every "
                                 "process on this machine, so its coordinator must be here (give --process-id to "
                                 "start one process of a run across machines)")
        # Process 0 (or the local launcher, which starts it) binds the port: it must be free here.
        if process_id in (None, 0) and _is_local(host) and port_in_use(host, port):
            raise ParameterError(f"coordinator_address={coordinator_address!r}: port {port} is in use on this "
                                 "machine (pick another, or leave it out to get a free one)")


def initialize(num_processes: int, process_id: int, coordinator_address: str, *,
               heartbeat_timeout_seconds: int = HEARTBEAT_TIMEOUT_SECONDS, prog: str = "train") -> Worker:
    """Join the run (``jax.distributed.initialize``) and make Keras train data-parallel across all its devices.

    Call it before building the model. Afterwards ``keras.distribution.distribution()`` is a ``DataParallel``
    over every process's devices; its data is not auto-sharded, since each process reads its own part
    (:meth:`helpers.data.SpectrogramSegments.from_tracks`'s ``worker``).

    Used by: helpers.train

    Parameters
    ----------
    num_processes, process_id, coordinator_address
        As for :func:`check`.
    heartbeat_timeout_seconds : int > 0
        A process silent this long is declared dead, and the others stop. At start-up the processes wait
        ``HEARTBEATS_TO_JOIN`` times as long for each other; a process still alone then prints one line,
        ``{prog}: error: worker i of n: ...``, and exits with status 1 (the engine itself would abort).
    prog : str
        The command's name, for that line.

    Returns
    -------
    worker : Worker

    Raises
    ------
    ParameterError
        If Keras does not run on JAX (``KERAS_BACKEND=jax``).
    """
    import keras

    if keras.backend.backend() != "jax":
        raise ParameterError(f"training on several processes runs on Keras's JAX backend: set KERAS_BACKEND=jax "
                             f"(it is {keras.backend.backend()!r}) and {INSTALL}")
    import jax

    wait = HEARTBEATS_TO_JOIN * heartbeat_timeout_seconds
    joined = threading.Event()

    def give_up():
        if not joined.wait(wait):
            print(f"{prog}: error: {Worker(process_id, num_processes)}: the run's {num_processes} processes did not "
                  f"all join at {coordinator_address} within {wait} s", file=sys.stderr, flush=True)
            os._exit(1)

    threading.Thread(target=give_up, daemon=True).start()
    jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id,
                               heartbeat_timeout_seconds=heartbeat_timeout_seconds,
                               initialization_timeout=wait + 10)
    joined.set()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices(),
                                                                        auto_shard_dataset=False))
    return Worker(jax.process_index(), jax.process_count())


def use_local_devices() -> int:
    """On Keras's JAX backend, train data-parallel over this machine's devices when it has several (GPUs, TPU
    cores): one process, each batch split among them, the gradients summed by XLA. Returns how many there are;
    with one (a CPU), nothing changes.

    Used by: helpers.train
    """
    import keras

    if keras.backend.backend() != "jax":
        return 1
    import jax

    if jax.local_device_count() > 1 and keras.distribution.distribution() is None:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.local_devices()))
    return jax.local_device_count()


def finish(worker: Worker) -> None:
    """Leave the run (all processes meet once more), then compute alone: the chief scores the model afterwards.

    Used by: helpers.train
    """
    if worker.count > 1:
        import jax
        import keras

        jax.distributed.shutdown()
        keras.distribution.set_distribution(None)


def shard(items, worker: Worker) -> list:
    """This worker's part of ``items``: every ``count``-th from its ``index`` (a partition over the workers).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Used by: helpers.data

    Raises
    ------
    ParameterError
        If there are fewer items than workers (one would get none).
    """
    items = list(items)
    if len(items) < worker.count:
        raise ParameterError(f"{len(items)} items cannot be shared among {worker.count} workers")
    return items[worker.index::worker.count]


def scratch_path(path, worker: Worker) -> Path:
    """Where ``worker`` writes its copy of a file that only the chief keeps: ``path`` itself for the chief, a
    folder of its own under the system's temporary folder for the others (:func:`remove_scratch` deletes it).

    Used by: helpers.training
    """
    if worker.chief:
        return Path(path)
    folder = _scratch_folder(worker)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / Path(path).name


def _scratch_folder(worker: Worker) -> Path:
    return Path(tempfile.gettempdir(), f"helpers-worker-{worker.index}-{os.getpid()}")


def remove_scratch(worker: Worker) -> None:
    """Delete a non-chief worker's scratch folder (:func:`scratch_path`).

    Used by: helpers.training
    """
    if not worker.chief:
        shutil.rmtree(_scratch_folder(worker), ignore_errors=True)


class WorkerLost(RuntimeError):
    """Another process of the run died or cannot be reached; the message names it and the reason.

    Used by: helpers.train, helpers.distributed.failure
    """


def lost_workers(worker: Worker, timeout: float = 3.0) -> list[int] | None:
    """The processes the coordinator no longer hears from, or ``None`` where it cannot say within ``timeout`` s.

    In a run of two it is the other one. Otherwise it asks ``jax.distributed``'s client (a JAX internal, so any
    failure is ``None``); when the coordinator itself is gone the answer is ``[0]``. The timeout is short: the
    engine ends this process once a heartbeat is missed, and the line naming the lost worker must come first.

    Used by: helpers.distributed.failure
    """
    if worker.count == 2:
        return [1 - worker.index]
    answer: dict = {}

    def ask():
        try:
            from jax._src import distributed as jax_distributed

            live = jax_distributed.global_state.client.get_live_nodes(list(range(worker.count)))
            answer["lost"] = sorted(set(range(worker.count)) - set(live))
        except AttributeError:
            answer["lost"] = None
        except Exception:  # the client cannot reach the coordination service: process 0 is gone
            answer["lost"] = [0] if not worker.chief else None

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    return answer.get("lost")


def failure(worker: Worker, error: BaseException) -> WorkerLost | None:
    """A :class:`WorkerLost` that names the lost process and the reason, if ``error`` came from losing one, else
    ``None`` (an error of the program itself, raised the same way on every process).

    Used by: helpers.training
    """
    if worker.count == 1:
        return None
    lost = lost_workers(worker)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    collective = any(word in text for word in ("Gloo", "NCCL", "collective", "Connection", "coordination"))
    if not lost and not collective:
        return None
    who = (f"worker {', '.join(map(str, lost))}" if lost else "another worker")
    return WorkerLost(f"{worker}: lost {who} of the run ({text[:300]})")


def launch(argv: list[str], num_processes: int, coordinator_address: str | None = None, *,
           module: str = "helpers.train", grace_seconds: float | None = None) -> int:
    """Run ``python -m module argv`` as ``num_processes`` processes on this machine, and watch them.

    Each gets ``--process-id i`` and the coordinator's address (a free local port unless given) and runs on Keras's
    JAX backend. When one fails, the launcher prints one line naming it and how it ended, gives the others
    ``grace_seconds`` to stop (they notice on their own), then stops them.

    Used by: helpers.train

    Parameters
    ----------
    argv : list of str
        The command's arguments, the same for every process.
    num_processes : int > 1
    coordinator_address : str or None
    module : str
    grace_seconds : float or None
        Default: the heartbeat timeout plus 15 s.

    Returns
    -------
    status : int
        0 when all succeed, else the first failure's status (1 for a signal).
    """
    address = coordinator_address or f"127.0.0.1:{free_port()}"
    grace = HEARTBEAT_TIMEOUT_SECONDS + 15 if grace_seconds is None else grace_seconds
    environment = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}
    processes = [subprocess.Popen([sys.executable, "-m", module, *argv, "--num-processes", str(num_processes),
                                   "--process-id", str(i), "--coordinator-address", address], env=environment)
                 for i in range(num_processes)]
    status, deadline = 0, None
    try:
        while True:
            codes = [p.poll() for p in processes]
            failed = [(i, code) for i, code in enumerate(codes) if code not in (None, 0)]
            if failed and deadline is None:
                # A death by a signal first: the cause, where the others' failures are its echo.
                i, code = min(failed, key=lambda failure: (failure[1] > 0, failure[0]))
                how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
                print(f"train: error: worker {i} of {num_processes} (pid {processes[i].pid}) {how}; stopping the run",
                      file=sys.stderr, flush=True)
                status, deadline = (1 if code < 0 else code), time.monotonic() + grace
            if all(code is not None for code in codes) or (deadline is not None and time.monotonic() > deadline):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        status = 130
    finally:
        for p in processes:
            if p.poll() is None:
                p.terminate()
        for p in processes:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return status
