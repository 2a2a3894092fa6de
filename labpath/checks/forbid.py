"""Tripwires for a lab's forbidden APIs, fired only when the learner's code calls them."""

from __future__ import annotations

import builtins
import functools
import importlib
import sys
from pathlib import Path

_LEARNER_FILES: dict[str, bool] = {}


def _is_learner_file(
    filename: str, roots: tuple[Path, ...], checks: Path | None
) -> bool:
    known = _LEARNER_FILES.get(filename)
    if known is None:
        try:
            path = Path(filename).resolve()
        except (OSError, ValueError):
            path = None
        known = (
            path is not None
            and any(path.is_relative_to(r) for r in roots)
            and not (checks is not None and path.is_relative_to(checks))
        )
        _LEARNER_FILES[filename] = known
    return known


def install(rules: list[dict], roots: list[Path], checks: Path | None, on_use) -> None:
    """Arm every rule: {name: dotted name, why: reason}; on_use(rule) when tripped.

    A module name (torch) trips when learner code imports it; a class (torch.nn.LSTM)
    when learner code constructs or runs one; a function when learner code calls it.
    Calls made by the checks themselves (their references) never trip.
    """
    roots_t = tuple(Path(r).resolve() for r in roots)
    checks_r = Path(checks).resolve() if checks else None

    def learner_on_stack(depth: int = 2) -> bool:
        frame = sys._getframe(depth)
        while frame is not None:
            if _is_learner_file(frame.f_code.co_filename, roots_t, checks_r):
                return True
            frame = frame.f_back
        return False

    modules = []
    for rule in rules:
        name = rule["name"]
        owner_name, _, attr = name.rpartition(".")
        target = None
        if owner_name:
            try:
                owner = importlib.import_module(owner_name)
                target = getattr(owner, attr, None)
            except ImportError:
                owner = None
        if target is None or isinstance(target, type(sys)):
            modules.append(rule)
        elif isinstance(target, type):
            _wrap_class(target, rule, learner_on_stack, on_use)
        elif callable(target):
            setattr(owner, attr, _wrap_function(target, rule, learner_on_stack, on_use))
    if modules:
        _wrap_import(modules, roots_t, checks_r, on_use)


def _wrap_function(fn, rule, learner_on_stack, on_use):
    @functools.wraps(fn)
    def tripwire(*args, **kwargs):
        if learner_on_stack():
            on_use(rule)
        return fn(*args, **kwargs)

    return tripwire


def _wrap_class(cls, rule, learner_on_stack, on_use) -> None:
    for method in ("__init__", "forward"):
        original = cls.__dict__.get(method)
        if original is None:
            continue

        def make(original):
            @functools.wraps(original)
            def tripwire(self, *args, **kwargs):
                if learner_on_stack():
                    on_use(rule)
                return original(self, *args, **kwargs)

            return tripwire

        setattr(cls, method, make(original))


def _wrap_import(rules, roots, checks, on_use) -> None:
    original = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        importer = (globals or {}).get("__file__")
        if level == 0 and importer and _is_learner_file(importer, roots, checks):
            wanted = [name] + [f"{name}.{f}" for f in (fromlist or ()) if f != "*"]
            for rule in rules:
                banned = rule["name"]
                if any(w == banned or w.startswith(banned + ".") for w in wanted):
                    on_use(rule)
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
