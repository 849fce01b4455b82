"""The server's ``GET /metrics`` (Prometheus text format): the wire (messages, acks, refusals),
what the sources report in ``health`` (per-camera fps, dropped frames, reconnects, spool fill,
pipeline latency), receipts issued and reviewed, the review queue, webhook deliveries and
failures, and the server's own step latency.

Counters of this process (wire, webhook tries, step times) start at 0 at each start, as
Prometheus expects of a restarted target; totals that live in the database (receipts, audit
actions, outbox) survive restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from walkout.metrics_text import Family, render

if TYPE_CHECKING:
    from walkout.server.app import StoreServer


def _wire(server: StoreServer) -> list[Family]:
    stats: Any = server.receiver_stats()
    messages = Family("walkout_wire_messages", "counter",
                      "messages received on the ingest socket, by outcome")
    by_source = Family("walkout_wire_source_messages", "counter",
                       "messages received per sending key")
    acks = Family("walkout_wire_acks", "counter", "acks sent to sources")
    batches = Family("walkout_wire_batches", "counter", "batches stored (one commit each)")
    failures = Family("walkout_wire_store_failures", "counter", "batches the database refused")
    refused_keys = Family("walkout_wire_refused_connections", "counter",
                          "connections refused for an unknown CURVE key")
    if stats is not None:
        for outcome in ("accepted", "duplicates", "gaps"):
            messages.add(getattr(stats, outcome), outcome=outcome)
        for reason, n in sorted(stats.refused_by_reason.items()):
            messages.add(n, outcome="refused", reason=reason)
        for src, n in sorted(stats.by_key.items()):
            by_source.add(n, src=src or "unknown")
        acks.add(stats.acks_sent)
        batches.add(stats.batches)
        failures.add(stats.store_failures)
        refused_keys.add(server.refused_keys())
    return [messages, by_source, acks, batches, failures, refused_keys]


def _sources(health: dict[str, dict[str, Any]]) -> list[Family]:
    fps = Family("walkout_camera_fps", "gauge", "frames per second a camera delivers")
    dropped = Family("walkout_camera_dropped_frames", "gauge",
                     "frames a camera dropped since its box started")
    reconnects = Family("walkout_camera_reconnects", "gauge",
                        "times a camera was reopened since its box started")
    spool = Family("walkout_source_spool_fill", "gauge",
                   "fraction of a source's on-disk spool in use")
    spool_full = Family("walkout_source_spool_full", "gauge",
                        "1 when a source's spool refused a message since its last report")
    latency = Family("walkout_source_latency_p95_seconds", "gauge",
                     "a box's pipeline latency, 95th percentile")
    offset = Family("walkout_source_clock_offset_seconds", "gauge",
                    "a source's measured clock offset")
    seen = Family("walkout_source_last_health_seconds", "gauge",
                  "when a source last reported health (Unix time)")
    for src, h in sorted(health.items()):
        for cam in h["cameras"]:
            fps.add(cam["fps"], src=src, camera=cam["camera"])
            dropped.add(cam["dropped"], src=src, camera=cam["camera"])
            reconnects.add(cam["reconnects"], src=src, camera=cam["camera"])
        spool.add(h["spool_fill"], src=src)
        spool_full.add(int(bool(h["spool_full"])), src=src)
        latency.add(None if h["latency_p95_ms"] is None else h["latency_p95_ms"] / 1e3, src=src)
        offset.add(None if h["clock_offset_ns"] is None else h["clock_offset_ns"] / 1e9, src=src)
        seen.add(h["t_ns"] / 1e9, src=src)
    return [fps, dropped, reconnects, spool, spool_full, latency, offset, seen]


def server_metrics(server: StoreServer) -> str:
    """Every family above, rendered."""
    status = server.status()
    families = _wire(server) + _sources(status.get("sources", {}))
    receipts = Family("walkout_receipts", "gauge", "receipts in the database, by status")
    for name, n in status["receipts"].items():
        receipts.add(n, status=name)
    actions = server.outbox.action_counts()
    decided = Family("walkout_receipts_reviewed", "counter",
                     "review decisions, disputes and escalations (from the audit trail)")
    for action in ("confirmed", "corrected", "disputed", "escalated"):
        decided.add(actions.get(action, 0), action=action)
    issued = Family("walkout_receipts_issued", "counter",
                    "receipt versions billed (outbox rows: issued, confirmed, corrected)")
    box = server.outbox.counts()
    issued.add(box["pending"] + box["delivered"])
    queue = Family("walkout_review_queue", "gauge", "receipts waiting for a person")
    queue.add(status["receipts"].get("review", 0))
    pending = Family("walkout_webhook_pending", "gauge", "receipt versions not yet delivered")
    pending.add(box["pending"])
    delivered = Family("walkout_webhook_delivered", "counter",
                       "receipt versions delivered (2xx) since the database was made")
    delivered.add(box["delivered"])
    worker = server.webhook
    failures = Family("walkout_webhook_failures", "counter",
                      "webhook tries that failed (no 2xx) since this process started")
    failures.add(worker.failures if worker is not None else 0)
    published = Family("walkout_receipts_published", "counter",
                       "receipts sent on the ZeroMQ receipt stream since start")
    published.add(server.published)
    events = Family("walkout_events_stored", "gauge", "events in the database")
    events.add(status["events"])
    shoppers = Family("walkout_shoppers", "gauge", "global shoppers tracked now")
    shoppers.add(status["global_shoppers"])
    sessions = Family("walkout_open_sessions", "gauge", "sessions in the store now")
    sessions.add(status["open_sessions"])
    step = Family("walkout_server_step_seconds", "summary",
                  "the core's steps (read stored events, advance time, decide receipts)")
    count, total = server.step_stats()
    step.add(count, "_count").add(total, "_sum")
    families += [receipts, decided, issued, queue, pending, delivered, failures, published,
                 events, shoppers, sessions, step]
    return render(families)
