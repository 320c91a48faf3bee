"""Modules loaded on first use (the standard library's LazyLoader), so a Lambda imports only what it runs.

Route modules name their services through `lazy_module`: importing the app registers every route without
loading PynamoDB, botocore or the mail machinery; the first request that needs them loads them.
`collect_after_first_call` (a middleware of every handler) keeps the garbage collector out of that loading.
"""
from __future__ import annotations

import gc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def lazy_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


_warm = False


def collect_after_first_call(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Middleware of every handler: the cyclic garbage collector is off while a container's first invocation runs.

    That invocation loads most of the code (the modules above, PynamoDB, botocore, pydantic): hundreds of
    thousands of objects that live as long as the container, which the collector would otherwise traverse again
    and again while they are created (about a tenth of a cold first request's CPU, bench/coldstart.py). Afterwards
    the survivors are frozen (`gc.freeze`: later collections skip them) and collection resumes; the first call's
    own cyclic garbage, if any, stays with them."""
    global _warm
    if _warm:
        return get_response(event)
    _warm = True
    enabled = gc.isenabled()
    gc.disable()
    try:
        return get_response(event)
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
