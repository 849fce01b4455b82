"""Receipt accuracy on the simulator's acceptance scenario (store-20: 20 check-ins over five
minutes, groups, crowding, put-backs into wrong slots, a camera outage, a slot without a
weight sensor), played from its ground truth through the server core.

Reports how many receipts were issued and equal the truth, issued and wrong (the number that
must be 0), and held for review (with the kinds of doubt), plus the core's speed on the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from harness import markdown_table, write_results  # noqa: E402
from server_support import drive_core  # noqa: E402
from walkout.replay import load_run  # noqa: E402
from walkout.replay.sim_truth import true_receipts  # noqa: E402
from walkout.server.core import CoreSettings  # noqa: E402


def _doubt(reason: str) -> str:
    for key, label in (("no weight sensor", "slot without a sensor"),
                       ("shoppers reached", "two shoppers at one slot"),
                       ("another shopper", "two shoppers at one slot"),
                       ("no reach", "weight change with no reach"),
                       ("whole number", "count does not fit the unit weight"),
                       ("put back than taken", "more put back than taken"),
                       ("fits neither", "unknown item put back"),
                       ("with no weight change", "touched, no weight change"),
                       ("exit not seen", "exit not seen (lost in the store)"),
                       ("unidentified shopper", "reached only by an unidentified shopper"),
                       ("no shopper bound", "nobody bound to the check-in (expired)"),
                       ("from the cart; taken as", "put-back fits two items of the cart"),
                       ("identity in doubt", "identity in doubt (box and floor tracker disagree)")):
        if key in reason:
            return label
    return "other"


_ROWS = ("accounts that left (true receipts)", "issued and equal to the truth",
         "issued and wrong (must be 0)", "held for review", "no receipt")


def _order(name: str) -> tuple[int, str]:
    return (_ROWS.index(name) if name in _ROWS else len(_ROWS), name)


def score(db, truth: dict[str, dict[str, int]]) -> dict[str, int]:
    """Receipts against the truth, doubts and anomalies counted by kind."""
    out: Counter[str] = Counter({name: 0 for name in _ROWS})
    out["accounts that left (true receipts)"] = len(truth)
    receipts = db.receipts()
    for r in receipts:
        items = {x["sku"]: x["qty"] for x in r.lines}
        if r.status == "issued":
            key = "issued and equal to the truth" if items == truth.get(r.account) else \
                "issued and wrong (must be 0)"
            out[key] += 1
        else:
            out["held for review"] += 1
            out.update(f"review doubt: {d}" for d in {_doubt(x) for x in r.reasons})
    out["no receipt"] = len(set(truth) - {r.account for r in receipts})
    out.update(f"anomaly: {a['kind']}" for a in db.anomalies())
    return dict(out)


TUNING_SEEDS = (1, 2, 3)
"""seeds the server's rules and settings were chosen looking at (1: store-20's own seed, which
`walkout demo` plays; 2 and 3: where the identity-doubt rule came from); the others are
reported without having been looked at first"""


def _run_seed(args: argparse.Namespace, seed: int, work: Path) -> tuple[dict, dict]:
    text = args.scenario.read_text()
    text = text.replace("store: ../store.yaml", f"store: {ROOT / 'configs/store.yaml'}")
    lines = [f"duration_s: {args.duration:g}" if x.startswith("duration_s:") else x
             for x in text.splitlines()]
    (work / "scenario.yaml").write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "walkout", "sim", "--scenario",
                    str(work / "scenario.yaml"), "--out", str(work / "run"), "--oracle",
                    "--no-progress", "--seed", str(seed)], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    truth = true_receipts(work / "run")
    columns, speeds = {}, {}
    for edge in ("truth", "oracle"):
        messages = load_run(work / "run", edge=edge)
        t = time.perf_counter()
        # The tail lets sessions lost in the store (unseen for lost_session_s) end too.
        _, db = drive_core(messages, work / f"store-{edge}.db", settle_s=15.0, batch=50,
                           tail_s=CoreSettings().lost_session_s + 10)
        speeds[edge] = (len(messages), len(messages) / (time.perf_counter() - t))
        columns[edge] = score(db, truth)
    return columns, speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "configs/scenarios/store-20.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                        help="simulator seeds; TUNING_SEEDS (1, 2, 3) are the ones the "
                        "server's rules were chosen on, the others are reporting seeds")
    parser.add_argument("--duration", type=float, default=330.0,
                        help="run length, s (longer than the scenario's so everyone leaves)")
    args = parser.parse_args()
    edges = ("truth", "oracle")
    columns, speeds = {}, {}
    for seed in args.seeds:
        work = Path(tempfile.mkdtemp(prefix=f"walkout-bench-sim-{seed}-"))
        cols, spd = _run_seed(args, seed, work)
        for edge in edges:
            columns[(seed, edge)], speeds[(seed, edge)] = cols[edge], spd[edge]
    keys = [(seed, edge) for seed in args.seeds for edge in edges]
    names = sorted({k for c in columns.values() for k in c}, key=_order)
    rows = [[name, *(columns[k].get(name, 0) for k in keys)] for name in names]
    rows.append(["messages", *(f"{speeds[k][0]}" for k in keys)])
    rows.append(["core, in process (store + track + decide)",
                 *(f"{speeds[k][1]:,.0f} msg/s" for k in keys)])
    label = {"truth": "ground truth", "oracle": "edge pipeline"}
    header = ["what", *(f"seed {seed}{' (tuned)' if seed in TUNING_SEEDS else ''}: "
                        f"{label[edge]}" for seed, edge in keys)]
    write_results("server_sim", "Store server: receipts on the simulator's store-20 scenario",
                  markdown_table(header, rows)
                  + "\n\nGate scans and weight changes as the simulator's gate and shelf "
                  "gateways wrote them; the edge boxes' tracks, reaches and dwells either made "
                  "from the run's ground truth (`ground truth`: `walkout replay --edge truth`) "
                  "or produced by `walkout.edge.replay.replay_run` on the run's oracle "
                  "detections (`edge pipeline`: `--edge oracle`: frame sync, floor points, "
                  "fusion, the box's tracker, hands, reach state machine). Settle window 15 s. "
                  f"Seeds {', '.join(map(str, TUNING_SEEDS))} (tuned): the server's rules "
                  "(late check-in binding, ambiguous put-backs, identity doubt) were chosen "
                  "looking at them; the other seeds were only measured. The coasting-claim "
                  "exception to the identity doubt (issue #10) was chosen on seeds 11, 12, 13 "
                  "(`--seeds 11 12 13`) and only measured on 1-5; before it, the edge-pipeline "
                  "columns read 5 / 5 / 3 / 4 / 3 issued exact, 0 wrong (same code otherwise, "
                  "same day): it released none here.")
    if any(c.get("issued and wrong (must be 0)") for c in columns.values()):
        raise SystemExit("issued receipts differ from the truth")


if __name__ == "__main__":
    main()
