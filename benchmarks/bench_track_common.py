"""Helpers shared by the track benchmarks (not a benchmark itself).

Timing under load: the benchmark machine is shared, and load that drifts between one
solver's timing block and the next skews their ratio. ``interleaved_medians`` runs the
contenders in turn, one call each per round, so drift hits all of them alike, and reports
each one's median.

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


def interleaved_medians(fns: dict[str, Callable[[], object]], *, repeat: int, warmup: int = 3,
                        number: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
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
