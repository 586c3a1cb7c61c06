"""Tasks decide what is input, what is target, the output activation, the loss and the quality
metrics. A task is a Task subclass named by `task._target_`: a new task is one module + one YAML file.
"""

from ablate.tasks.base import Task

__all__ = ["Task"]
