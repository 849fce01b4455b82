"""``walkout replay``: play a run to a store server over real sockets, as the gates, shelf
gateways and edge boxes would (:mod:`~walkout.replay.player`), from a simulator run's ground
truth (:mod:`~walkout.replay.sim_truth`) or a folder of recorded messages."""

from walkout.replay.player import (
    Faults,
    Outage,
    ReplayReport,
    _shift,
    load_messages_file,
    load_run,
    replay,
)

__all__ = ["Faults", "Outage", "ReplayReport", "_shift", "load_messages_file", "load_run",
           "replay"]
