"""Helpers shared by the track benchmarks (not a benchmark itself).

Timing under load: the benchmark machine is shared, and load that drifts between one
contender's timing block and the next skews their ratio; but alternating single calls lets
each contender evict the others' data from the caches, which charges a microsecond-scale
call for its neighbour's footprint (a filterpy step between two 9 µs Kalman steps made them
35 µs). ``blocked_medians`` does both: short blocks of consecutive calls per contender,
blocks in rotation over several rounds, the median of every call's time.

Peers that install the same module name: lap and lapx both install ``lap``. lapx lives in
its own folder (default /work/benchdeps/lapx, made by
``pip install --target /work/benchdeps/lapx lapx``; override with WALKOUT_LAPX_PATH) and is
imported under another name by putting that folder first on sys.path for one import.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

LAPX_PATH = Path(os.environ.get("WALKOUT_LAPX_PATH", "/work/benchdeps/lapx"))


def blocked_medians(fns: dict[str, Callable[[], object]], *, repeat: int, rounds: int = 5,
                    warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each function: `rounds` rotations of blocks of about
    repeat / rounds consecutive calls each (each block starts with `warmup` untimed calls)."""
    per_block = max(1, repeat // rounds)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def import_lap_and_lapx() -> tuple[ModuleType | None, ModuleType | None]:
    """(lap, lapx) modules, None for a missing one (with a printed note)."""
    lapx = None
    if (LAPX_PATH / "lap").is_dir():
        sys.path.insert(0, str(LAPX_PATH))
        try:
            import lap as lapx_module

            lapx = lapx_module
        except ImportError as err:
            print(f"note: lapx in {LAPX_PATH} failed to import ({err}); skipping it")
        finally:
            sys.path.remove(str(LAPX_PATH))
            for name in [n for n in sys.modules if n == "lap" or n.startswith("lap.")]:
                del sys.modules[name]
    else:
        print(f"note: lapx not found in {LAPX_PATH} (pip install --target {LAPX_PATH} lapx); skipping it")
    try:
        import lap
    except ImportError:
        print("note: lap is not installed (pip install lap); skipping it")
        lap = None
    if lap is not None and lapx is not None and Path(lap.__file__).parent == Path(lapx.__file__).parent:
        lapx = None  # only one of them is really present
    return lap, lapx
