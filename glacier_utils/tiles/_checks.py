"""Parameter checks shared by the tile modules (private)."""

from __future__ import annotations

from collections.abc import Sequence


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the parameter and the choices."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def check_fraction(name: str, value: float) -> float:
    """``value`` as float if it lies strictly between 0 and 1, else a ValueError naming the parameter."""
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)
