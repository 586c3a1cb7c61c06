"""A boolean key given an integer. OmegaConf turns any integer into a bool, so `model.bottleneck=2`
would run as true: preflight refuses it with one line, as it refuses `model.skip=maybe`."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig
from omegaconf.nodes import BooleanNode

from ablate.config import ConfigError


def _node(cfg: DictConfig, key: str):
    """The config node at a dotted key (None where there is none)."""
    node = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return None
        node = node._get_node(part)
    return node


def check_bools(overrides: list[str], cfg: DictConfig) -> None:
    """One line for a job's override that gives a boolean key an integer (`cfg`: the job's config)."""
    for o in OverridesParser.create().parse_overrides(overrides):
        if o.is_sweep_override() or o.is_delete() or o.is_hydra_override():
            continue
        value = o.value()
        if isinstance(value, int) and not isinstance(value, bool):
            key = o.key_or_group.lstrip("+~")
            if isinstance(_node(cfg, key), BooleanNode):
                raise ConfigError(f"{key}={value} is not allowed (allowed: true, false)")
