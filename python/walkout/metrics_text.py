"""The Prometheus text exposition format (version 0.0.4), written by hand: the server's and
the edge box's ``/metrics`` need a few dozen samples, not a client library at run time.

    fam = Family("walkout_receipts", "counter", "receipts decided, by status")
    fam.add(3, status="issued")
    text = render([fam])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TYPES = ("counter", "gauge", "summary", "untyped")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family. Counters get the ``_total`` suffix on their samples."""

    name: str
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} is not a Prometheus metric name")
        if self.kind not in _TYPES:
            raise ValueError(f"kind: expected one of {_TYPES}, got {self.kind!r}")

    def add(self, value: float | None, suffix: str = "", **labels: object) -> Family:
        """A sample (skipped when ``value`` is None: unknown is absent, not zero)."""
        if value is None:
            return self
        for key in labels:
            if not _LABEL.match(key):
                raise ValueError(f"label: {key!r} is not a Prometheus label name")
        sample = self.name + ("_total" if self.kind == "counter" else "") + suffix
        self.samples.append((sample, {k: str(v) for k, v in labels.items()}, float(value)))
        return self


def render(families: list[Family]) -> str:
    lines = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {fam.help.replace(chr(92), chr(92) * 2)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for sample, labels, value in fam.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{sample}{{{text}}} {_number(value)}" if text
                         else f"{sample} {_number(value)}")
    return "\n".join(lines) + "\n"
