"""Settings for real runs of ablate in the tests."""

from __future__ import annotations

# tiny, fast settings for real runs on the CPU
TINY = [
    "data.limit=300",
    "trainer.epochs=2",
    "trainer.batch_size=64",
    "trainer.progress=false",
    "eval.kmeans_seeds=2",
    "eval.n_init=1",
    "trainer.snapshots=4",
    "replicates=1",  # one seed per job unless a test asks for more (the default trains 3)
]
