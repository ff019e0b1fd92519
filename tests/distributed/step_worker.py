"""One process of a two-process run, for the tests: join the run with :func:`helpers.distributed.initialize`, build a
tiny U-Net (no dropout; its BatchNorm sees the global batch), take plain SGD steps on this worker's batches of a
sharded segment data set, and write the weights after each step (``python step_worker.py PROCESS_ID ADDRESS OUT``).
"""

import sys
from pathlib import Path

from helpers import distributed

N_PROCESSES, STEPS, BATCH = 2, 3, 4  # the global batch: two examples from each worker


def tiny_unet():
    from helpers import models

    return models.unet(sample_rate=8000, n_fft=128, hop_length=32, n_frames=16, base_filters=2, depth=2,
                       dropout=0.0)


def stems(n_tracks=4, n_samples=8000):
    """Four synthetic tracks of four stems (stereo noise at track-dependent levels), the same on every process."""
    import numpy as np

    rng = np.random.default_rng(7)
    return [{s: (0.1 * (1 + t) * rng.standard_normal((2, n_samples))).astype(np.float32)
             for s in ("vocals", "drums", "bass", "other")} for t in range(n_tracks)]


def segments(worker, batch_size):
    """The data set worker ``worker`` trains on: its shard of the tracks, its batches of each epoch."""
    from helpers import data

    return data.SpectrogramSegments(distributed.shard(stems(), worker), ("vocals", "drums"), n_fft=128,
                                    hop_length=32, n_frames=16, batch_size=batch_size, n_batches=STEPS, seed=3,
                                    worker=worker)


def compiled(model):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.05), loss={t: "mae" for t in model.output})
    return model


def main(process_id: int, address: str, out: Path) -> None:
    import keras
    import numpy as np

    worker = distributed.initialize(N_PROCESSES, process_id, address, heartbeat_timeout_seconds=10)
    keras.utils.set_random_seed(0)
    model = compiled(tiny_unet())
    dataset = segments(worker, BATCH // N_PROCESSES)
    for step in range(STEPS):
        x, y = dataset[step]
        model.train_on_batch(x, y)
        np.savez(out / f"worker{worker.index}_step{step + 1}.npz", *model.get_weights())
    distributed.finish(worker)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
