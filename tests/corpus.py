"""Real-world test material in tests/fixtures/: every reader says how many files it expects, so a missing or
half-copied folder fails the test that reads it instead of letting it pass on nothing."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def corpus_files(folder: str, pattern: str, expected: int) -> list[Path]:
    """The files under tests/fixtures/`folder` matching `pattern` (recursively), sorted; exactly `expected` of them."""
    files = sorted(path for path in (FIXTURES / folder).rglob(pattern) if path.is_file())
    if len(files) != expected:
        raise AssertionError(f"tests/fixtures/{folder}/**/{pattern}: expected {expected} files, found {len(files)}")
    return files


def fixture(path: str) -> Path:
    """One fixture file; it must exist."""
    found = FIXTURES / path
    if not found.is_file():
        raise AssertionError(f"tests/fixtures/{path} is missing")
    return found
