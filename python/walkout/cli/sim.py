"""``walkout sim --scenario FILE --seed N --out DIR [--oracle]`` and ``walkout sim images``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim", help="simulate a store: rendered video or oracle detections, with ground truth")
    parser.add_argument("--scenario", type=Path, required=True, metavar="FILE",
                        help="scenario file (kind: scenario), e.g. configs/scenarios/store-20.yaml")
    parser.add_argument("--seed", type=int, default=None, help="overrides the scenario's seed")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="run directory to create (must be empty or absent)")
    parser.add_argument("--oracle", action="store_true",
                        help="skip rendering: ground truth and oracle detections only (fast)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes rendering cameras (default: the usable cores)")
    parser.add_argument("--images", type=Path, metavar="DIR",
                        help="instead of a run, write one rendered PNG per camera (at the "
                             "scenario's busiest moment) into DIR, e.g. docs/images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_sim)


def _sim(args: argparse.Namespace) -> int:
    from walkout.config import ConfigError

    try:
        if args.images is not None:
            from walkout.sim.snapshots import write_camera_images

            for path in write_camera_images(args.scenario, args.images, seed=args.seed):
                print(path)
            return 0
        if args.out is None:
            print("walkout sim: --out DIR is required (or --images DIR)", file=sys.stderr)
            return 2
        return _run(args)
    except ConfigError as exc:
        print(f"FAIL {args.scenario}", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"walkout sim: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from walkout.sim import simulate

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.no_progress:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="cam" if stage == "cameras" else "")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    run = simulate(args.scenario, args.out, seed=args.seed, oracle=args.oracle,
                   workers=args.workers, progress=progress)
    print(f"wrote {run.path} ({run.mode} mode, {len(run.cameras)} cameras, "
          f"{len(run.people)} people, {len(run.reaches())} reaches); see {run.path / 'README.md'}")
    return 0
