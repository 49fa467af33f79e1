"""The command line's error and argument types, shared by `tinygrad_np.cli` and its commands."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable


class CliError(Exception):
    """A problem to report on one line; exit status 2 for a usage error, 1 for a runtime one."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (and exit status 2), as every error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parsed(text: str, convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Any:
    """`convert(text)` if it converts and passes `ok`; argparse's type error naming `expected` otherwise."""
    try:
        v = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return v


def nonnegative_int(text: str) -> int:
    return _parsed(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    return _parsed(text, float, lambda v: 0 < v < math.inf, "a positive finite number")


def positive_int(text: str) -> int:
    return _parsed(text, int, lambda v: v >= 1, "a positive integer")


def fraction(text: str) -> float:
    return _parsed(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")
