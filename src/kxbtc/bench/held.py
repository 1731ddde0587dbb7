"""Memory held by one side of a process that runs the engine and the simulator together: the total size of
the Python objects reachable from a root (the live ``Engine``, or the simulator's harness), not following
into modules, classes, functions, the event loop or the other side's objects.

Cheap enough to take every simulated hour of a 24-hour soak (a walk of the reachable objects, no
tracing), unlike ``kxbtc.bench.traced``. It counts live objects only: memory the allocator keeps after
objects are freed, and C-level buffers (SQLite's page cache, socket buffers), are in the resident figure
but not here."""

from __future__ import annotations

import asyncio
import builtins
import gc
import sys
import types
from collections.abc import Callable

_MB = 1_000_000
#: Objects never followed: code and namespaces are shared by both sides and do not grow with a run.
_SHARED_TYPES = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    asyncio.AbstractEventLoop,
)


def _namespaces() -> set[int]:
    ids = {id(builtins.__dict__)}
    ids.update(id(vars(m)) for m in list(sys.modules.values()) if m is not None)
    return ids


def held_mb(root: object, foreign: Callable[[object], bool]) -> float:
    """MB of the objects reachable from ``root``; ``foreign(obj)`` true stops the walk at ``obj``."""
    skip = _namespaces()
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in seen or key in skip or isinstance(obj, _SHARED_TYPES) or foreign(obj):
            continue
        seen.add(key)
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total / _MB


def of_simulator(obj: object) -> bool:
    return type(obj).__module__.startswith("kxbtc.sim.")


def of_engine(obj: object) -> bool:
    """kxbtc's own objects outside the simulator (what the engine side is built of)."""
    module = type(obj).__module__
    return module.startswith("kxbtc.") and not module.startswith(("kxbtc.sim.", "kxbtc.units", "kxbtc.clock"))
