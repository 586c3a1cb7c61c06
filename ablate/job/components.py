"""Models, tasks and datasets are components: a `_target_` plus its own keyword arguments, built
with `hydra.utils.instantiate`. This is how a researcher plugs in their own (one module, one YAML
file under any folder on Hydra's search path; see examples/).

What the framework adds at build time, because only it knows:
- a model gets `in_channels`, `out_channels` (the task decides both from the data) and
  `input_size` (H, W). It is any `nn.Module` whose `forward(x)` returns `(output, latent)`: the
  raw output (the task applies the output activation, e.g. a sigmoid for images: `Task.output`)
  and the latent, shape (N, D), computed in `forward` (nothing kept on the module);
- a dataset loader gets, of the keys every dataset has (DATA_KEYS), those its signature names;
- a task gets its own keys; `name` is the label of its tables in the report.

Before anything runs, every key of a component is checked: against its schema where its YAML
lists one (Hydra types the node: ablate/config/schemas.py), and always against the `_target_`'s
signature, so an external component's typo is one line naming the key and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any

from hydra._internal.utils import _locate
from hydra.errors import InstantiationException
from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import OmegaConf

from ablate.config import Config, ConfigError
from ablate.config.schemas import DataConfig

# the keys every dataset node has (ablate.config.schemas.DataConfig): read by the framework; a dataset
# without a schema must set the first ones, and may leave the split's (defaults from DataConfig)
DATA_KEYS = tuple(f.name for f in dataclasses.fields(DataConfig) if f.name != "_target_")
DATA_REQUIRED = ("channels", "image_size", "labelled")
# keys the framework reads from a node and never passes on, and keyword arguments it supplies
RESERVED = {"model": (), "task": ("name",), "data": DATA_KEYS}
SUPPLIED = {"model": ("in_channels", "out_channels", "input_size"), "task": (), "data": ()}
GROUPS = ("data", "task", "model")


def as_dict(node: Any) -> dict[str, Any]:
    """A component node (schema dataclass, DictConfig or dict) as a plain dict. A dataclass's
    extra attributes count: OmegaConf.to_object keeps a `+key` added to a typed node as one."""
    if dataclasses.is_dataclass(node):
        return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)} | dict(vars(node))
    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return dict(node)


def locate(group: str, node: dict[str, Any]) -> Callable:
    target = node.get("_target_")
    if not target:
        raise ConfigError(f"{group}._target_: missing (allowed: a dotted path to a class or function)")
    try:
        return _locate(str(target))  # hydra.utils.get_object without its ERROR log line
    except Exception as exc:  # noqa: BLE001 - an import error inside the module is one line too
        text = str(exc)
        missing = re.search(r"module '([^']+)' is installed", text)
        absent = re.search(r"that '([^']+)' is importable from module '([^']+)'", text)
        if missing:
            why = f"no module {missing.group(1)}"
        elif absent:
            why = f"{absent.group(2)} has no {absent.group(1)}"
        else:
            why = " ".join(str(exc.__cause__ or exc).split())[:200]
        raise ConfigError(f"{group}._target_={target}: cannot import it: {why} (allowed: a dotted path)") from None


def _parameters(target: Callable) -> tuple[list[str], bool]:
    """The target's keyword parameters, and whether it takes **kwargs."""
    params = inspect.signature(target).parameters.values()
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


def allowed_keys(group: str, node: Any) -> list[str]:
    """The keys a user may set on this component: its schema's fields where it has one, else the
    `_target_`'s keyword parameters (less those the framework supplies) and the reserved keys."""
    if dataclasses.is_dataclass(node) or (
        OmegaConf.is_config(node) and dataclasses.is_dataclass(OmegaConf.get_type(node))
    ):
        kind = node if dataclasses.is_dataclass(node) else OmegaConf.get_type(node)
        return [f.name for f in dataclasses.fields(kind)]
    plain = as_dict(node)
    names, _ = _parameters(locate(group, plain))
    own = [n for n in names if n not in SUPPLIED[group] and n not in RESERVED[group]]
    return ["_target_", *RESERVED[group], *own]


def check(group: str, node: Any) -> None:
    """Raise ConfigError (one line) when the `_target_` cannot be imported or a key is not one of
    its keyword arguments (reserved keys aside)."""
    plain = as_dict(node)
    names, takes_any = _parameters(locate(group, plain))
    missing = [k for k in DATA_REQUIRED if k not in plain] if group == "data" else []
    if missing:
        raise ConfigError(
            f"data.{missing[0]}: missing for {plain['_target_']} (a dataset's YAML sets {', '.join(DATA_REQUIRED)})"
        )
    if takes_any:
        return
    for key in plain:
        if key == "_target_" or key in RESERVED[group]:
            continue
        if key in SUPPLIED[group] or key not in names:
            allowed = ", ".join(allowed_keys(group, node))
            what = "set by ablate" if key in SUPPLIED[group] else "unknown key"
            raise ConfigError(f"{group}.{key}: {what} for {plain['_target_']} (allowed: {allowed})")


def check_all(conf: Config) -> None:
    for group in GROUPS:
        check(group, getattr(conf, group))


def instantiate(config: dict[str, Any], **kwargs: Any) -> Any:
    """hydra.utils.instantiate, raising the component's own exception (Hydra wraps it in one of
    its own, whose message quotes the original's repr)."""
    try:
        return _hydra_instantiate(config, **kwargs, _convert_="all")
    except InstantiationException as exc:
        if isinstance(exc.__cause__, Exception):
            raise exc.__cause__ from None
        raise


def _kwargs(group: str, node: Any) -> dict[str, Any]:
    return {k: v for k, v in as_dict(node).items() if k not in RESERVED[group]}


def task_metrics(node: Any) -> tuple:
    """The metrics a task declares (its class's `metrics`: ablate/config/metrics.py), read without
    building it."""
    return tuple(getattr(locate("task", as_dict(node)), "metrics", ()))


def build_task(node: Any):
    """The task object (ablate.tasks.Task's interface)."""
    return instantiate(_kwargs("task", node))


def build_model(node: Any, in_channels: int, out_channels: int, input_size: tuple[int, int]):
    # a partial, called here: Hydra would merge the arguments into its config (a tuple -> a list)
    build = instantiate({**_kwargs("model", node), "_partial_": True})
    return build(in_channels=in_channels, out_channels=out_channels, input_size=tuple(input_size))


def data_spec(node: Any) -> dict[str, Any]:
    """The dataset node as a flat, JSON-able dict: what the run is tagged with, and all that
    `load_split` needs to load the same images again (the sweep's raw-pixel baseline does). An
    external dataset without a schema takes DataConfig's defaults for the split's keys and, for
    its name, its loader's module name."""
    spec = as_dict(node)
    module = str(spec.get("_target_", "")).rsplit(".", 2)
    defaults = {
        f.name: f.default for f in dataclasses.fields(DataConfig) if f.name in ("limit", "eval_fraction", "split_seed")
    }
    defaults["name"] = module[-2] if len(module) > 1 else module[0]
    return {**defaults, **spec}


def load_split(spec: dict[str, Any]):
    """(train, eval) ImageSets from a data spec: the loader gets its own keys and the DATA_KEYS its
    signature names; a single set is cut into the fixed stratified split (ablate.data.split)."""
    from ablate.data import split

    names, takes_any = _parameters(locate("data", spec))
    kwargs = {k: v for k, v in spec.items() if k not in DATA_KEYS or takes_any or k in names}
    loaded = instantiate(kwargs)
    if isinstance(loaded, tuple):  # the dataset defines its own eval set (e.g. held-out test images)
        return loaded
    return split(loaded, spec["eval_fraction"], spec["split_seed"], spec["limit"])


_ARGUMENT = re.compile(r"^(\w+): (.*)$", re.S)


def _bad_value(group: str, node: Any, exc: Exception) -> ConfigError:
    target = as_dict(node).get("_target_")
    return ConfigError(f"{group} ({target}): {type(exc).__name__}: {' '.join(str(exc).split())}")


def misfit(model: Any, task_node: Any, data: dict[str, Any]) -> str | None:
    """Why this model, task and dataset cannot run together, in one line (None if they can). The
    model is built on the meta device (no memory, no weights initialised), so its own check of the
    input size runs (ablate.models.InputSizeError). Any other ValueError or TypeError is a bad
    value: ConfigError. A model that cannot be built on the meta device is left to its job."""
    import torch

    from ablate.models import InputSizeError

    try:
        task = build_task(task_node)
    except (ValueError, TypeError) as exc:
        raise _bad_value("task", task_node, exc) from None
    channels, size = data["channels"], tuple(data["image_size"])
    reason = task.check(channels, data["labelled"])
    if reason:
        return reason
    try:
        with torch.device("meta"):
            build_model(model, task.in_channels(channels), task.out_channels(channels), size)
    except InputSizeError as exc:
        message = " ".join(str(exc).split())
        found = _ARGUMENT.match(message)
        key = f"model.{found.group(1)}" if found else "model"
        return f"data.image_size / {key}: {found.group(2) if found else message}"
    except (ValueError, TypeError) as exc:
        raise _bad_value("model", model, exc) from None
    except Exception:  # noqa: BLE001 - meta tensors cannot do everything (e.g. .item()): not a verdict
        return None
    return None
