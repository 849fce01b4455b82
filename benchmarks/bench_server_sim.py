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


def _doubt(reason: str) -> str:
    for key, label in (("no weight sensor", "slot without a sensor"),
                       ("shoppers reached", "two shoppers at one slot"),
                       ("another shopper", "two shoppers at one slot"),
                       ("no reach", "weight change with no reach"),
                       ("whole number", "count does not fit the unit weight"),
                       ("put back than taken", "more put back than taken"),
                       ("fits neither", "unknown item put back"),
                       ("with no weight change", "touched, no weight change")):
        if key in reason:
            return label
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "configs/scenarios/store-20.yaml")
    parser.add_argument("--duration", type=float, default=330.0,
                        help="run length, s (longer than the scenario's so everyone leaves)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="walkout-bench-sim-"))
    text = args.scenario.read_text()
    text = text.replace("store: ../store.yaml", f"store: {ROOT / 'configs/store.yaml'}")
    lines = [f"duration_s: {args.duration:g}" if x.startswith("duration_s:") else x
             for x in text.splitlines()]
    (work / "scenario.yaml").write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "walkout", "sim", "--scenario",
                    str(work / "scenario.yaml"), "--out", str(work / "run"), "--oracle",
                    "--no-progress"], check=True, env=dict(os.environ,
                                                           PYTHONPATH=str(ROOT / "python")))
    messages = load_run(work / "run")
    truth = true_receipts(work / "run")
    t = time.perf_counter()
    _, db = drive_core(messages, work / "store.db", settle_s=15.0, batch=50)
    seconds = time.perf_counter() - t
    right = wrong = 0
    doubts: Counter[str] = Counter()
    review = 0
    for r in db.receipts():
        items = {x["sku"]: x["qty"] for x in r.lines}
        if r.status == "issued":
            right += items == truth.get(r.account)
            wrong += items != truth.get(r.account)
        else:
            review += 1
            doubts.update({_doubt(x) for x in r.reasons})
    missing = len(set(truth) - {r.account for r in db.receipts()})
    anomalies = Counter(a["kind"] for a in db.anomalies())
    rows = [
        ["accounts that left (true receipts)", len(truth)],
        ["issued and equal to the truth", right],
        ["issued and wrong (must be 0)", wrong],
        ["held for review", review],
        ["no receipt", missing],
        *[[f"review doubt: {k}", v] for k, v in sorted(doubts.items())],
        *[[f"anomaly: {k}", v] for k, v in sorted(anomalies.items())],
        ["messages", len(messages)],
        ["core, in process (store + track + decide)", f"{len(messages) / seconds:,.0f} msg/s"],
    ]
    write_results("server_sim", "Store server: receipts on the simulator's store-20 scenario",
                  markdown_table(["what", "value"], rows)
                  + "\n\nTracks, reaches and dwells from the run's ground truth (oracle edge "
                  "boxes); gate scans and weight changes as the simulator's gate and shelf "
                  "gateways wrote them; settle window 15 s.")
    if wrong:
        raise SystemExit("issued receipts differ from the truth")


if __name__ == "__main__":
    main()
