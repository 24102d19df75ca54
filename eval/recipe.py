"""Recipes: YAML files parsed into dataclasses, with command-line overrides on top.

Shared by `data_prep` and `eval` (the layering lets data_prep import eval, not the reverse).
Training uses TRL's own TrlParser instead.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class RecipeError(ValueError):
    """A recipe or override that does not fit its dataclass; the message names the file and key."""


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """Turn `key=value`, `--key value` and `--key=value` into a flat {dotted.key: value} dict.

    Values are read as YAML scalars/flow collections, so `n=4`, `flag=true`, `xs=[1,2]` get their types.
    """
    out: dict[str, Any] = {}
    i = 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            body = arg[2:]
            if "=" in body:
                key, raw = body.split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                key, raw = body, args[i + 1]
                i += 1
            else:  # a bare flag means true
                key, raw = body, "true"
        elif "=" in arg:
            key, raw = arg.split("=", 1)
        else:
            raise RecipeError(f"override {arg!r}: expected key=value or --key value")
        out[key.replace("-", "_")] = _parse_scalar(raw)
        i += 1
    return out


def _parse_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        return raw


def load_recipe(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] | dict = ()) -> T:
    """Build `cls` from the YAML at `path` (may be None) with overrides applied on top."""
    source = str(path) if path else "<command line>"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise RecipeError(f"{p}: recipe file not found")
        try:
            loaded = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise RecipeError(f"{p}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise RecipeError(f"{p}: top level must be a mapping, got {type(loaded).__name__}")
        data = loaded
    flat = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    for dotted, value in flat.items():
        _set_dotted(data, dotted.split("."), value)
    return _build(cls, data, source, prefix="")


def _set_dotted(data: dict, keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = data.get(key)
        if not isinstance(node, dict):
            node = {}
            data[key] = node
        data = node
    data[keys[-1]] = value


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: key '{prefix.rstrip('.') or '<top>'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        known = ", ".join(sorted(fields))
        raise RecipeError(f"{source}: unknown key '{prefix}{unknown[0]}' (known keys: {known})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, source, f"{prefix}{name}")
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise RecipeError(f"{source}: missing required key '{prefix}{missing[0]}'")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except RecipeError as exc:
                errors.append(str(exc))
        raise RecipeError(errors[0] if errors else f"{source}: key '{key}' has a bad value {value!r}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, value if value is not None else {}, source, prefix=f"{key}.")
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{source}: key '{key}' must be a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(inner, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: key '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise RecipeError(f"{source}: key '{key}' must be one of {list(args)}, got {value!r}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise RecipeError(f"{source}: key '{key}' must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise RecipeError(f"{source}: key '{key}' must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise RecipeError(f"{source}: key '{key}' must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise RecipeError(f"{source}: key '{key}' must be a string, got {value!r}")
    return value


def to_dict(recipe: Any) -> dict[str, Any]:
    """The recipe as plain data, for writing next to outputs (what was run, every key)."""
    return dataclasses.asdict(recipe)
