"""Modules loaded on first use (the standard library's LazyLoader), so a Lambda imports only what it runs.

Route modules name their services through `lazy_module`: importing the app registers every route without
loading PynamoDB, botocore or the mail machinery; the first request that needs them loads them.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


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
