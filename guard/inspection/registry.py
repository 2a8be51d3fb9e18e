"""The one registry of named parts a rule file may refer to: validators, refiners and engines.

A detector record names its `validator`, `refiner` and `engine`; loading a pack checks each name
here and the detection engine looks the callable up here, so a name is known in one place.
Register a part with the decorator of its kind in the module that defines it::

    @validator("luhn")
    def luhn(value: str) -> bool: ...

and, for a new module, add it to `_BUILTIN_MODULES` so it is imported before the first look-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from guard.inspection.detect import Candidate, CompiledDetector
    from guard.inspection.rules import Detector
    from guard.inspection.tables import TableContext

Validator = Callable[[str], bool]
Span = tuple[int, int, str]
#: (text, match start, match end, detector, validator or None) -> the value spans worth validating
Refiner = Callable[[str, int, int, "Detector", Validator | None], Iterator[Span]]
#: (compiled detector, text, lower-cased text, table context) -> candidates
Engine = Callable[["CompiledDetector", str, str, "TableContext"], Iterator["Candidate"]]

VALIDATORS: dict[str, Validator] = {}
#: Validators that test a check digit or checksum: a value that passes one is never dropped for
#: its context (counter-evidence only lowers its confidence).
CHECKSUMS: set[str] = set()
REFINERS: dict[str, Refiner] = {}
ENGINES: dict[str, Engine] = {}
#: The engine every regex detector uses; it is built into the detection engine, not registered.
REGEX_ENGINE = "regex"

_BUILTIN_MODULES = (
    "guard.inspection.validators",
    "guard.inspection.national_ids",
    "guard.inspection.secret_validators",
    "guard.inspection.refine",
    "guard.inspection.person",
    "guard.inspection.phones",
)
_loaded = False

_F = TypeVar("_F", bound=Callable[..., Any])


def _register(table: dict[str, Any], kind: str, name: str) -> Callable[[_F], _F]:
    def add(fn: _F) -> _F:
        if name in table and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = fn
        return fn

    return add


def validator(name: str, *, checksum: bool = False) -> Callable[[_F], _F]:
    """Register a validator: compact value in, True when the value is plausible (`checksum`: it
    tests a check digit, so a value that passes is kept whatever its context)."""
    if checksum:
        CHECKSUMS.add(name)
    return _register(VALIDATORS, "validator", name)


def refiner(name: str) -> Callable[[_F], _F]:
    """Register a refiner: one pattern match in, the exact value spans out."""
    return _register(REFINERS, "refiner", name)


def engine(name: str) -> Callable[[_F], _F]:
    """Register a detection engine other than regex (e.g. person names from name lists)."""
    return _register(ENGINES, "engine", name)


def load_builtins() -> None:
    """Import the modules that register the shipped parts (once; cheap afterwards)."""
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


def known(table: dict[str, Any]) -> dict[str, Any]:
    """`table` with every built-in part registered."""
    load_builtins()
    return table


def check_name(table: dict[str, Any], kind: str, name: str, *, extra: tuple[str, ...] = ()) -> str:
    """`name` if it is registered in `table` (or one of `extra`), else a ValueError listing the known."""
    names = set(known(table)) | set(extra)
    if name not in names:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(names))}")
    return name
