"""Speed benchmarks: `python -m benchmarks.run` measures every ratio of the speed issue in one run
and writes reports/benchmarks.md (see benchmarks/run.py). Every measurement runs in its own worker
process (benchmarks/worker.py) so thread counts, OpenMP's wait policy and imports never leak between them."""
