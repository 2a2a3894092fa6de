"""Tripwires for a lab's forbidden APIs, fired only when the learner's code uses them."""

from __future__ import annotations

import builtins
import functools
import importlib
import sys
import types
from pathlib import Path

_LEARNER_FILES: dict[str, bool] = {}
# The folders whose code is the learner's, and the checks folder (never the learner's):
# set by install, and again by retarget for each run forked from one collection.
_GUARDED: dict = {"roots": (), "checks": None}

# The same kernels under other names: a forbidden public API is forbidden through these.
PRIVATE_ROUTES = {
    "torch.nn.LSTM": ["torch.lstm", "torch._VF.lstm", "torch.ops.aten.lstm"],
    "torch.nn.LSTMCell": [
        "torch.lstm_cell",
        "torch._VF.lstm_cell",
        "torch.ops.aten.lstm_cell",
    ],
    "torch.nn.functional.scaled_dot_product_attention": [
        "torch._C._nn.scaled_dot_product_attention",
        "torch.ops.aten.scaled_dot_product_attention",
        "torch._scaled_dot_product_attention_math",
        "torch.ops.aten._scaled_dot_product_attention_math",
        "torch._scaled_dot_product_flash_attention_for_cpu",
        "torch.ops.aten._scaled_dot_product_flash_attention_for_cpu",
    ],
    "torch.nn.MultiheadAttention": [
        "torch.nn.functional.multi_head_attention_forward",
        "torch._native_multi_head_attention",
        "torch.ops.aten._native_multi_head_attention",
    ],
}


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


def _resolve(name: str):
    """(owner, attribute name, value) for a dotted name, importing what it needs."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:-1]:
                obj = getattr(obj, part)
            return obj, parts[-1], getattr(obj, parts[-1], None)
        except AttributeError:
            return None, parts[-1], None
    return None, parts[-1], None


def install(rules: list[dict], roots: list[Path], checks: Path | None, on_use) -> None:
    """Arm every rule: {name: dotted name, why: reason}; on_use(rule) when tripped.

    A module (torch) trips when learner code touches anything in it (importing it
    alone does not); a class (torch.nn.LSTM) when learner code constructs or runs one;
    a function when learner code calls it, by its public or a private name.
    Calls made by the checks themselves (their references) never trip.
    """
    _GUARDED["checks"] = Path(checks).resolve() if checks else None
    _LEARNER_FILES.clear()
    retarget(roots)

    def learner_on_stack(depth: int = 2) -> bool:
        frame = sys._getframe(depth)
        roots, checks = _GUARDED["roots"], _GUARDED["checks"]
        while frame is not None:
            if _is_learner_file(frame.f_code.co_filename, roots, checks):
                return True
            frame = frame.f_back
        return False

    modules = []
    aten = {}
    for rule in rules:
        owner, attr, target = _resolve(rule["name"])
        if target is None or isinstance(target, types.ModuleType):
            modules.append(rule)
            continue
        _arm(owner, attr, target, rule, learner_on_stack, on_use)
        for route in PRIVATE_ROUTES.get(rule["name"], ()):
            named = {**rule, "name": f"{rule['name']} (as {route})"}
            if route.startswith("torch.ops.aten."):
                aten["aten::" + route.removeprefix("torch.ops.aten.")] = named
                continue
            r_owner, r_attr, r_target = _resolve(route)
            if r_target is not None:
                _arm(r_owner, r_attr, r_target, named, learner_on_stack, on_use)
    if aten:
        _arm_aten(aten, learner_on_stack, on_use)
    if modules:
        _wrap_import(modules, on_use, learner_on_stack)


def retarget(roots: list[Path]) -> None:
    """Guard these folders from now on (a run forked after collection, whose learner
    folder may differ from the collection's): what each file is, is asked again."""
    roots = tuple(Path(r).resolve() for r in roots)
    if roots != _GUARDED["roots"]:  # what each file is depends on the folders
        _GUARDED["roots"] = roots
        _LEARNER_FILES.clear()


def _arm_aten(names: dict, learner_on_stack, on_use) -> None:
    """torch.ops.aten.NAME(...) and its overloads: the op objects stay themselves
    (torch keys tables by them); only calling one from the learner's code trips."""
    try:
        from torch import _ops
    except ImportError:
        return
    named = {_ops.OpOverloadPacket: "_qualified_op_name", _ops.OpOverload: "_name"}
    for cls, attr in named.items():
        original = cls.__dict__.get("__call__")
        if original is None:
            continue

        def make(original, attr):
            @functools.wraps(original)
            def __call__(self, /, *args, **kwargs):
                rule = names.get(str(getattr(self, attr, "")).split(".")[0])
                if rule is not None and learner_on_stack():
                    on_use(rule)
                return original(self, *args, **kwargs)

            return __call__

        cls.__call__ = make(original, attr)


def _arm(owner, attr, target, rule, learner_on_stack, on_use) -> None:
    if isinstance(target, type):
        _wrap_class(target, rule, learner_on_stack, on_use)
        return
    if not callable(target):
        return
    wrapped = _wrap_function(target, rule, learner_on_stack, on_use)
    try:
        setattr(owner, attr, wrapped)
    except (AttributeError, TypeError):
        pass  # a read-only C namespace: nothing to arm there


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


class _ForbiddenModule(types.ModuleType):
    """What the learner's code gets for a forbidden module: touching it trips the rule.

    Importing alone costs nothing (a package may import a module its checked code
    never calls); the real module is imported only for labpath's own lookups.
    """

    def __getattr__(self, attr):
        state = self.__dict__["_labpath_state"]
        name, rule, learner_on_stack, on_use = state
        if not (attr.startswith("__") and attr.endswith("__")) and learner_on_stack():
            on_use(rule)
        try:
            real = importlib.import_module(name)
        except ImportError:
            raise AttributeError(attr) from None
        return getattr(real, attr)


def _wrap_import(rules, on_use, learner_on_stack) -> None:
    original = builtins.__import__
    original_import_module = importlib.import_module
    proxies: dict[str, _ForbiddenModule] = {}

    def rule_for(name: str):
        for rule in rules:
            banned = rule["name"]
            if name == banned or name.startswith(banned + "."):
                return rule
        return None

    def proxy(name: str, rule) -> _ForbiddenModule:
        if name not in proxies:
            module = _ForbiddenModule(name)
            module.__dict__["_labpath_state"] = (name, rule, learner_on_stack, on_use)
            proxies[name] = module
        return proxies[name]

    def from_learner(globals, depth: int) -> bool:
        importer = (globals or {}).get("__file__") if globals is not None else None
        if importer is None:  # __import__("x") called by hand: look at the caller
            importer = sys._getframe(depth).f_code.co_filename
        return _is_learner_file(importer, _GUARDED["roots"], _GUARDED["checks"])

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and from_learner(globals, 2):
            top = name if fromlist else name.partition(".")[0]
            rule = rule_for(top)
            if rule is not None:
                return proxy(top, rule)
            # `import torch.autograd` or `from torch import autograd` with
            # torch.autograd forbidden: the statement names it, so it is used.
            wanted = [name] + [f"{name}.{f}" for f in (fromlist or ()) if f != "*"]
            for w in wanted:
                rule = rule_for(w)
                if rule is not None:
                    on_use(rule)
        return original(name, globals, locals, fromlist, level)

    def guarded_import_module(name, package=None):
        if not name.startswith(".") and from_learner(None, 2):
            rule = rule_for(name)
            if rule is not None:
                return proxy(name, rule)
        return original_import_module(name, package)

    builtins.__import__ = guarded_import
    importlib.import_module = guarded_import_module
    importlib.__import__ = guarded_import
