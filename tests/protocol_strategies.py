"""Hypothesis strategies that draw valid messages of every type (shared by the protocol and
wire tests)."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from walkout import protocol as p

ids = st.text(string.ascii_letters + string.digits, min_size=1, max_size=3).flatmap(
    lambda head: st.text(string.ascii_letters + string.digits + "_.:-", max_size=20).map(
        lambda tail: head[0] + tail
    )
)
slot_ids = st.builds(lambda a, b: f"{a}/front/{b}", ids, ids)
times = st.integers(0, 2**62)
seqs = st.integers(1, 2**53)
unit = st.floats(0.0, 1.0)
metres = st.floats(-1e4, 1e4, allow_nan=False)
speeds = st.floats(-100.0, 100.0, allow_nan=False)
grams = st.floats(-1e6, 1e6, allow_nan=False)
cents = st.integers(-(10**12), 10**12)


def _header(**kw: object) -> dict[str, object]:
    return {"src": ids, "seq": seqs, "t_ns": times, **kw}


track_states = st.builds(
    p.TrackState,
    id=st.integers(0, 2**31),
    x=metres,
    y=metres,
    vx=speeds,
    vy=speeds,
    confidence=unit,
    cameras=st.lists(ids, max_size=4),
)
tracks = st.builds(p.Tracks, **_header(tracks=st.lists(track_states, max_size=12)))


@st.composite
def _interval(draw: st.DrawFn) -> tuple[int, int]:
    a, b = draw(times), draw(times)
    return min(a, b), max(a, b)


reaches = _interval().flatmap(
    lambda se: st.builds(
        p.Reach,
        **_header(
            track=st.integers(0, 2**31),
            shelf=ids,
            slot=slot_ids,
            start_ns=st.just(se[0]),
            end_ns=st.just(se[1]),
            hand=st.sampled_from(["left", "right", "unknown"]),
            confidence=unit,
        ),
    )
)
dwells = _interval().flatmap(
    lambda el: st.builds(
        p.Dwell,
        **_header(
            track=st.integers(0, 2**31), shelf=ids, enter_ns=st.just(el[0]), leave_ns=st.just(el[1])
        ),
    )
)
weights = st.builds(p.Weight, **_header(shelf=ids, slot=slot_ids, delta_g=grams, after_g=grams))
checkins = st.builds(
    p.Checkin,
    **_header(
        gate=ids,
        account=st.text(min_size=1, max_size=40),
        party_size=st.none() | st.integers(1, 50),
        profile=st.builds(
            p.SharedProfile,
            age_band=st.none()
            | st.sampled_from(["under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]),
        ),
    ),
)
optional_ms = st.none() | st.floats(0.0, 1e7)
healths = st.builds(
    p.Health,
    **_header(
        cameras=st.lists(
            st.builds(
                p.CameraHealth,
                camera=ids,
                fps=st.floats(0.0, 1000.0),
                dropped_frames=st.integers(0, 2**40),
                reconnects=st.integers(0, 2**20),
            ),
            max_size=8,
        ),
        latency_p50_ms=optional_ms,
        latency_p95_ms=optional_ms,
        latency_p99_ms=optional_ms,
        clock_offset_ns=st.none() | st.integers(-(2**62), 2**62),
        spool_fill=st.none() | unit,
        spool_full=st.booleans(),
    ),
)
acks = st.builds(p.Ack, **_header(source=ids, upto=st.integers(0, 2**53), gap=st.booleans()))
receipts = st.builds(
    p.Receipt,
    **_header(
        account=st.text(min_size=1, max_size=40),
        session=st.text(max_size=20),
        lines=st.lists(
            st.builds(
                p.ReceiptLine,
                sku=st.text(min_size=1, max_size=20),
                name=st.text(max_size=40),
                qty=st.integers(-1000, 1000),
                unit_price_cents=cents,
            ),
            max_size=10,
        ),
        currency=st.sampled_from(["EUR", "USD", "GBP"]),
        total_cents=cents,
        confidence=unit,
    ),
)

messages = st.one_of(tracks, reaches, dwells, weights, checkins, healths, acks, receipts)
