"""Training progress for people: a bar on a terminal, plain lines everywhere else.

A redirected or captured stream (a log file, a SLURM .out, a joblib worker's pipe) gets one
short line every few epochs, with no carriage returns, flushed at once so parallel workers are
heard while they train: a bar there would become one line of thousands of characters.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

LINES = 5  # plain lines per training run (and the last epoch)


class Progress:
    def __init__(self, desc: str, first: int, epochs: int, enabled: bool = True, stream=None):
        self.desc, self.epochs, self.enabled = desc, epochs, enabled
        self.stream = stream or sys.stderr
        self.every = max(1, epochs // LINES)
        self.bar = None
        if enabled and self.stream.isatty():
            self.bar = tqdm(
                total=epochs, initial=first - 1, desc=desc, leave=False, dynamic_ncols=True, file=self.stream
            )

    def update(self, epoch: int, **losses: float) -> None:
        if not self.enabled:
            return
        shown = " ".join(f"{k} {v:.4g}" for k, v in losses.items())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(shown)
        elif epoch % self.every == 0 or epoch == self.epochs:
            print(f"{self.desc}: epoch {epoch}/{self.epochs} {shown}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
