"""Markdown tables and the number formats of the report (shared by its parts)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return " / ".join(
        f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}" for q in (0, 0.05, 0.5)
    )
