"""A small stand-in for the pydantic models of the original kit (Debian 12
has pydantic 1, the original needs 2; the kit needs neither): fields with
defaults and wire aliases, keyword construction by either name, required
fields checked, unknown ones refused where the original forbids them, and
model_dump(by_alias=, exclude_none=, exclude=) / model_dump_json().
"""

import copy
import json
from enum import Enum

REQUIRED = object()


class Field:
    """A field's default (or default_factory) and its wire alias."""

    def __init__(self, default=REQUIRED, alias=None, default_factory=None):
        self.default = default
        self.alias = alias
        self.default_factory = default_factory

    def make_default(self, owner, name):
        if self.default_factory is not None:
            return self.default_factory()
        if self.default is REQUIRED:
            raise TypeError(f"{owner}: field {name!r} is required")
        return copy.copy(self.default)


class Model:
    """Subclasses list their fields in FIELDS: {name: Field}; EXTRA is
    "forbid" (unknown keywords are a TypeError, as the original's
    extra="forbid") or "ignore"."""

    FIELDS = {}
    EXTRA = "ignore"

    def __init__(self, **data):
        by_alias = {f.alias: n for n, f in self.FIELDS.items() if f.alias}
        values = {}
        for key, value in data.items():
            name = key if key in self.FIELDS else by_alias.get(key)
            if name is None:
                if self.EXTRA == "forbid":
                    raise TypeError(f"{type(self).__name__}: unknown field {key!r}")
                continue
            values[name] = value
        for name, f in self.FIELDS.items():
            if name not in values:
                values[name] = f.make_default(type(self).__name__, name)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def model_validate(cls, data):
        return data if isinstance(data, cls) else cls(**dict(data))

    def model_dump(self, by_alias=False, exclude_none=False, exclude=None):
        out = {}
        for name, f in self.FIELDS.items():
            if exclude and name in exclude:
                continue
            value = _dump(getattr(self, name), by_alias, exclude_none)
            if value is None and exclude_none:
                continue
            out[(f.alias or name) if by_alias else name] = value
        return out

    def model_dump_json(self, **kw):
        return json.dumps(self.model_dump(**kw), default=_json_default)

    def __eq__(self, other):
        return type(self) is type(other) and self.model_dump() == other.model_dump()

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS)
        return f"{type(self).__name__}({inner})"


def _dump(value, by_alias, exclude_none):
    if isinstance(value, Model):
        return value.model_dump(by_alias=by_alias, exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, by_alias, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, by_alias, exclude_none) for k, v in value.items()}
    return value


def _json_default(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
