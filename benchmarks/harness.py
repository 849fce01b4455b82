"""What every benchmark shares: timing by the median of many runs, and a results table that
is printed and written to benchmarks/results/<name>.md with the command that reproduces it.

Benchmarks compare walkout against the library a user would otherwise pick, in the same run,
and report ratios. They also check that both sides computed the same thing.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def median_seconds(
    fn: Callable[[], object], *, repeat: int = 31, number: int = 1, warmup: int = 3
) -> float:
    """Median wall time of one call of ``fn`` over ``repeat`` samples of ``number`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, title: str, body: str) -> Path:
    """Print ``body`` and write it, with machine details and the command, to results/<name>.md."""
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    text = (
        f"# {title}\n\n{body}\n\n"
        f"Reproduce: `{command}` (from the repository root, after `pip install '.[cpu,test,bench]'`).\n\n"
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, {_cores()} cores; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
    )
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text)
    return path


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
