"""Tasks decide what is input, what is target, the loss and the quality metrics.

A task is a class named by `task.impl` (dotted path): a new task is one module + one YAML file.
"""

from ablate.tasks.base import Task, load_task

__all__ = ["Task", "load_task"]
