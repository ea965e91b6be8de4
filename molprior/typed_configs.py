"""Typed configurations inside typed configurations, and the one way settings are merged.

Every configuration is a dataclass whose fields are its defaults; a field that holds another
configuration is typed as that dataclass (``trainer: TrainerConfig``, or
``encoder: EncoderConfig | None``).  A mapping given for such a field (what a YAML file or a
saved ``settings.yaml`` holds) becomes that dataclass key by key over the field's default
(:func:`merged`): a file names only what it changes, at any depth, and an unknown key is an
error that lists the known ones.  A configuration with nested ones calls
:func:`nested_configs` in its ``__post_init__``.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, Field, fields, is_dataclass, replace
from typing import Any, Mapping, TypeVar

from molprior.errors import InputError

Config = TypeVar("Config")


def merged(base: Config, values: Mapping[str, Any]) -> Config:
    """``base`` (a configuration) with ``values`` applied; a mapping for a field that holds a
    configuration is merged into it key by key, at any depth."""
    known = {f.name for f in fields(base)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown {type(base).__name__} keys {unknown}; known: {sorted(known)}")
    changes = {}
    for name, value in values.items():
        current = getattr(base, name)
        if isinstance(value, Mapping) and is_dataclass(current):
            value = merged(current, value)
        changes[name] = value
    return replace(base, **changes)


def config_type(annotation: Any) -> type | None:
    """The configuration dataclass a field's type names (``X`` or ``X | None``), or ``None``."""
    if isinstance(annotation, type):
        return annotation if is_dataclass(annotation) else None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(annotation) if isinstance(a, type) and is_dataclass(a)]
        return found[0] if len(found) == 1 else None
    return None


def _default(field_: Field, cls: type) -> Any:
    """The field's default if it is a ``cls``, else ``cls()`` (a field that defaults to ``None``)."""
    if field_.default_factory is not MISSING:
        default = field_.default_factory()
    else:
        default = None if field_.default is MISSING else field_.default
    return default if isinstance(default, cls) else cls()


def nested_configs(config: Any) -> None:
    """Turn each mapping that ``config`` holds for a configuration-typed field into that
    configuration, over the field's default (call it in ``__post_init__``)."""
    hints = typing.get_type_hints(type(config))
    for field_ in fields(config):
        value = getattr(config, field_.name)
        if isinstance(value, Mapping):
            cls = config_type(hints[field_.name])
            if cls is not None:
                object.__setattr__(config, field_.name, merged(_default(field_, cls), value))


def merged_mappings(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Settings ``changes`` over settings ``base`` (both partial: what a file gives), nested
    mappings merged key by key, as :func:`merged` merges them into a configuration."""
    out = dict(base)
    for name, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(name), Mapping):
            value = merged_mappings(out[name], value)
        out[name] = value
    return out
