"""Environment variables as configuration: ``KXBTC_<SECTION>__<KEY>`` (``__`` between levels).

A variable whose name starts with a section but lacks the ``__`` (``KXBTC_RISK_DAILY_LOSS_PCT``,
``KXBTC_RISK=5``) is an error naming the closest valid variable, not silently ignored; one with ``__``
and an unknown key reaches validation, which names the key and what is accepted. Other ``KXBTC_*``
variables (an API key that ``llm.providers.*.api_key_env`` names, a test's own variable) are left alone.

Values stay strings for pydantic to parse, except booleans: only ``true`` and ``false`` (any case) are
booleans, so ``yes`` is refused like it is in the file.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

ENV_PREFIX = "KXBTC_"
SEP = "__"

#: For a ``dict[str, Model]`` field: the names it takes by default and the model of one entry's name.
DictFields = Mapping[str, tuple[tuple[str, ...], Callable[[str], type[BaseModel] | None]]]


class EnvError(ValueError):
    """A ``KXBTC_*`` variable that names no configuration key."""


def _entry_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a ``dict[str, Model]`` field's entries (None for any other field)."""
    if typing.get_origin(annotation) is not dict:
        return None
    value = typing.get_args(annotation)[1]
    while typing.get_origin(value) is typing.Annotated:
        value = typing.get_args(value)[0]
    return value if isinstance(value, type) and issubclass(value, BaseModel) else None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def env_names(model: type[BaseModel], dict_fields: DictFields, prefix: str = "") -> Iterator[str]:
    """Every valid variable name, entries of dict fields under their default names."""
    for name, field in model.model_fields.items():
        path = prefix + name.upper()
        sub = _submodel(field.annotation)
        entry = _entry_model(field.annotation)
        if sub is not None:
            yield from env_names(sub, dict_fields, path + SEP)
        elif entry is not None:
            names, model_of = dict_fields.get(name, ((), lambda _: None))
            for key in names:
                yield from env_names(model_of(key) or entry, dict_fields, f"{path}{SEP}{key.upper()}{SEP}")
        else:
            yield ENV_PREFIX + path


def _leaf(model: type[BaseModel], parts: list[str], dict_fields: DictFields) -> Any:
    """The annotation of the field ``parts`` names, or raise KeyError."""
    name, rest = parts[0], parts[1:]
    field = model.model_fields[name]
    sub = _submodel(field.annotation)
    entry = _entry_model(field.annotation)
    if sub is not None and rest:
        return _leaf(sub, rest, dict_fields)
    if entry is not None and len(rest) >= 2:
        model_of = dict_fields.get(name, ((), lambda _: None))[1]
        return _leaf(model_of(rest[0]) or entry, rest[1:], dict_fields)
    if sub is None and entry is None and not rest:
        return field.annotation
    raise KeyError(name)


def env_overrides(
    environ: Mapping[str, str], model: type[BaseModel], dict_fields: DictFields
) -> dict[str, Any]:
    """``KXBTC_RISK__DAILY_LOSS_PCT=4`` -> ``{"risk": {"daily_loss_pct": "4"}}``; raises ``EnvError``
    listing every variable meant for the configuration that names no key."""
    sections = tuple(name.upper() for name in model.model_fields)
    tree: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if SEP not in rest and not rest.startswith(sections):
            continue  # not a configuration variable
        parts = rest.lower().split(SEP)
        if SEP not in rest or not all(parts):
            problems.append(_unknown(name, model, dict_fields))
            continue
        try:
            annotation = _leaf(model, parts, dict_fields)
        except KeyError:
            annotation = None  # placed anyway: validation names the unknown key and what is accepted
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(_unknown(name, model, dict_fields))
                break
            node = child
        else:
            node[parts[-1]] = _typed(value, annotation)
    if problems:
        raise EnvError("\n".join(problems))
    return tree


def _typed(value: str, annotation: Any) -> Any:
    if annotation is bool and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _unknown(name: str, model: type[BaseModel], dict_fields: DictFields) -> str:
    valid = list(env_names(model, dict_fields))
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"environment variable {name} names no configuration key{hint}"
