"""Figures: measured runs, medians over repetitions, and the tables the
benchmarks print. Pure: no processes here."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

REPS = 5
"""Repetitions per figure; the machine is noisy, so medians of these."""


@dataclass(frozen=True)
class Run:
    """One measured run: how many operations, in how long, for how much CPU."""

    ops: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        """Operations per wall-clock second."""
        return self.ops / self.wall if self.wall else 0.0

    @property
    def per_cpu(self) -> float:
        """Operations per CPU-second of the measured process."""
        return self.ops / self.cpu if self.cpu else float("inf")

    @property
    def cpu_per_1k(self) -> float:
        """CPU-seconds per 1,000 operations."""
        return self.cpu / self.ops * 1000 if self.ops else 0.0


def median(values: Sequence[float]) -> float:
    """The median (values are few: one per repetition)."""
    return statistics.median(values)


@dataclass(frozen=True)
class Side:
    """The repetitions of one side of a comparison."""

    runs: tuple[Run, ...]

    @property
    def rate(self) -> float:
        """Median operations per second."""
        return median([r.rate for r in self.runs])

    @property
    def per_cpu(self) -> float:
        """Median operations per CPU-second."""
        return median([r.per_cpu for r in self.runs])

    @property
    def cpu_per_1k(self) -> float:
        """Median CPU-seconds per 1,000 operations."""
        return median([r.cpu_per_1k for r in self.runs])

    def spread(self) -> str:
        """Each repetition's ops per CPU-second, to show the noise."""
        return ", ".join(f"{r.per_cpu:,.0f}" for r in self.runs)


def print_sides(title: str, unit: str, sides: dict[str, Side], micro: bool = False) -> None:
    """A small table for each side: rate, CPU cost (CPU-s per 1,000, or µs
    per operation with `micro`) and operations per CPU-second."""
    cost = "CPU µs/op" if micro else "CPU-s/1k"
    print(f"  {title}")
    print(f"    {'':<24}{unit + '/s':>12}{cost:>11}{unit + '/CPU-s':>16}  per rep ({unit}/CPU-s)")
    for name, side in sides.items():
        figure = side.cpu_per_1k * 1000 if micro else side.cpu_per_1k
        print(
            f"    {name:<24}{side.rate:>12,.0f}{figure:>11.3f}"
            f"{side.per_cpu:>16,.0f}  [{side.spread()}]"
        )


@dataclass(frozen=True)
class Row:
    """One line of the summary: a figure, its baseline, ratio and target."""

    bench: str
    figure: str
    value: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None

    @classmethod
    def skipped(cls, bench: str, figure: str, why: str) -> Self:
        """A figure that could not be measured, and why."""
        return cls(bench, figure, f"skipped: {why}")


def versus_row(
    bench: str,
    figure: str,
    sides: dict[str, Side],
    target: float | None,
    ours_side: str = "vantage",
) -> Row:
    """Our probes per CPU-second (side `ours_side`) against blackbox_exporter's,
    as a row; `target` is the ratio to reach, if there is one."""
    ours = sides[ours_side]
    value = f"{ours.per_cpu:,.0f} probes/CPU-s ({ours.rate:,.0f}/s)"
    theirs = sides.get("blackbox_exporter")
    if theirs is None:
        return Row(bench, figure, value, "blackbox skipped")
    ratio = ours.per_cpu / theirs.per_cpu
    print(f"    ratio {ours_side}/blackbox (probes per CPU-s): {ratio:.2f}x")
    baseline = f"blackbox {theirs.per_cpu:,.0f} ({theirs.rate:,.0f}/s)"
    if target is None:
        return Row(bench, figure, value, baseline, ratio)
    return Row(bench, figure, value, baseline, ratio, f">= {target:g}x", ratio >= target)


def verdict(ok: bool | None) -> str:
    """PASS, MISS, or blank when there is no target."""
    return "" if ok is None else ("PASS" if ok else "MISS")


def print_table(rows: Sequence[Row]) -> None:
    """The summary table."""
    head = ("benchmark", "figure", "median", "baseline (same run)", "ratio", "target", "")
    cells = [
        (
            r.bench,
            r.figure,
            r.value,
            r.baseline,
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            verdict(r.ok),
        )
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [head, *cells]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths).rstrip()
    print(line)
    for cell in [head, *cells]:
        print("  ".join(str(c).ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
        if cell is head:
            print(line)
    print(line)


def report(rows: Sequence[Row]) -> None:
    """Print `rows` as the result of a benchmark run on its own."""
    print()
    print_table(rows)
