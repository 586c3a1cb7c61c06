"""Hydra's and OmegaConf's exceptions as one line naming the key and what is allowed.

The root schema (ablate.config.Config) types trainer, eval and tracking; model, data and task are
components typed by whatever the composed config holds there (`base`: the job's config without
the bad override): a schema dataclass, or an untyped node checked against its `_target_`."""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum

from hydra.errors import MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from ablate import config as schema
from ablate.job import components


def _schema_type(full_key: str, base: DictConfig | None) -> typing.Any:
    """The schema's type at a dotted key (None where no schema knows it)."""
    node: typing.Any = schema.Config
    parts = full_key.split(".")
    for depth, part in enumerate(parts, 1):
        hints = typing.get_type_hints(node) if dataclasses.is_dataclass(node) else {}
        node = hints.get(part)
        if node is typing.Any and base is not None:  # a component: the type its node has
            found = OmegaConf.select(base, ".".join(parts[:depth]))
            node = OmegaConf.get_type(found) if OmegaConf.is_config(found) else None
    return node


def _allowed_keys(full_key: str, base: DictConfig | None) -> str:
    """The keys allowed beside an unknown one, e.g. for 'model.foo' the model's."""
    where = full_key.rpartition(".")[0]
    parent = _schema_type(where, base) if where else schema.Config
    if dataclasses.is_dataclass(parent):
        return ", ".join(f.name for f in dataclasses.fields(parent))
    if where in components.GROUPS and base is not None and where in base:
        try:
            return ", ".join(components.allowed_keys(where, base[where]))
        except ValueError:  # its _target_ does not import: that is said elsewhere
            return ""
    return ""


_ALLOWED = {bool: "true, false", int: "an integer", float: "a number", str: "a string"}


def _allowed_values(full_key: str, base: DictConfig | None) -> str:
    kind = _schema_type(full_key, base)
    args = [a for a in typing.get_args(kind) if a is not type(None)]  # Optional[int] -> int
    kind = args[0] if len(args) == 1 else kind
    if isinstance(kind, type) and issubclass(kind, Enum):
        return ", ".join(m.name for m in kind)
    return _ALLOWED.get(kind, "")


def one_line(exc: BaseException, base: DictConfig | None = None) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, MissingConfigException) or isinstance(cause, MissingConfigException):
        missing = exc if isinstance(exc, MissingConfigException) else cause
        options = getattr(missing, "options", None)
        group = (missing.missing_cfg_file or "").rsplit("/", 1)
        if options is not None and len(group) == 2:
            return f"{group[0]}={group[1]}: no such option (allowed: {', '.join(sorted(options))})"
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = cause.full_key
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            allowed = _allowed_keys(key, base)
            return f"{key}: unknown key" + (f" (allowed: {allowed})" if allowed else "")
        msg = str(getattr(cause, "msg", cause)).splitlines()[0]
        allowed = _allowed_values(key, base)
        return f"{key}: {msg}" + (f" (allowed: {allowed})" if allowed and allowed not in msg else "")
    return " ".join(str(exc).split())


def failing_key(exc: BaseException) -> str | None:
    """The dotted key a Hydra or OmegaConf exception is about, if it names one."""
    cause = exc.__cause__ or exc.__context__
    return getattr(cause, "full_key", None) if isinstance(cause, OmegaConfBaseException) else None
