"""When a box track and the global floor tracker disagree about who a point is, the server
doubts the identity (both receipts to review), unless the tracker's claim is a lost track
coasting onto someone a box follows, for a shopper who had left or was a mere fragment.

Built with the real C++ FloorTracker behind ``GlobalShoppers``: shopper P (box edge-a, track
1) walks right and is last seen at x = ``p_last_x``; 0.4 s later shopper Q's box track
(edge-b, track 7), followed for a second elsewhere, reappears where P's lost track coasted
to: only P's lost track's gate holds that point, so the tracker carries it on P's track
while the box says Q.
"""

from __future__ import annotations

import dataclasses

import pytest

from server_support import STORE
from walkout import protocol
from walkout.config import load_store
from walkout.server.planogram import Planogram
from walkout.server.shoppers import GlobalShoppers, ShopperParams

_NS = 1_000_000_000
_FPS = 15


def _frame(box: str, t: float, tracks: list[tuple[int, float, float]]) -> protocol.Tracks:
    return protocol.Tracks(src=box, t_ns=int(t * _NS), tracks=[
        protocol.TrackState(id=i, x=x, y=y, vx=1.0 if i == 1 else 0.0, confidence=0.9)
        for i, x, y in tracks])


def _play(p_last_x: float, p_seconds: float, params: ShopperParams) -> GlobalShoppers:
    shoppers = GlobalShoppers(Planogram(load_store(STORE).config), params)
    y, speed = 0.5, 1.0
    p_start = p_last_x - speed * p_seconds
    k = 0
    t = 0.0
    while t < p_seconds:  # P walks right along y = 0.5; Q stands 3 m away, seen by edge-b
        shoppers.add(_frame("edge-a", t, [(1, p_start + speed * t, y)]))
        shoppers.add(_frame("edge-b", t, [(7, p_last_x, y + 3.0)]))
        k += 1
        t = k / _FPS
    gone = t
    while t < gone + 1.0:  # P unseen; Q's box track jumps to where P's track coasts to
        if t >= gone + 0.4:
            shoppers.add(_frame("edge-b", t, [(7, p_last_x + speed * (t - gone), y)]))
        else:
            shoppers.add(_frame("edge-b", t, [(7, p_last_x, y + 3.0)]))
        k += 1
        t = k / _FPS
    shoppers.advance(int((t + 1.0) * _NS))
    return shoppers


def _ids(shoppers: GlobalShoppers) -> tuple[int, int]:
    p = shoppers.link("edge-a", 1, 0)
    q = shoppers.link("edge-b", 7, 0)
    assert p is not None and q is not None and p != q
    return p, q


_OFF = ShopperParams(doubt_unseen_s=1e9)
"""the rule off: every disagreement is a doubt (as before it)"""


@pytest.mark.parametrize(("p_last_x", "p_seconds", "doubted"), [
    (10.0, 3.0, False),  # P last seen in the exit zone (x 9.5-11.5, y 0-1): P left
    (5.0, 3.0, True),  # P last seen inside the store for 3 s: a box may have jumped onto P
    (5.0, 0.6, False),  # P inside the store, but a fragment seen 0.6 s in all
])
def test_a_coasting_claim_is_a_doubt_only_for_someone_who_may_be_back(
        p_last_x: float, p_seconds: float, doubted: bool) -> None:
    without = _play(p_last_x, p_seconds, _OFF)
    p, q = _ids(without)
    # The scene does make the box and the tracker disagree: with the rule off, it is a doubt.
    assert [o for _, o in without.identity_doubts(q, 0, 1 << 62)] and \
        {o for _, o in without.identity_doubts(q, 0, 1 << 62)} == {p}
    shoppers = _play(p_last_x, p_seconds, ShopperParams())
    p, q = _ids(shoppers)
    assert bool(shoppers.identity_doubts(q, 0, 1 << 62)) == doubted
    assert bool(shoppers.identity_doubts(p, 0, 1 << 62)) == doubted


def test_a_claim_seen_a_moment_ago_is_always_a_doubt() -> None:
    # An unseen bound longer than the gap (0.4 s) keeps it a doubt even for one who left.
    params = dataclasses.replace(ShopperParams(), doubt_unseen_s=0.5)
    shoppers = _play(10.0, 3.0, params)
    p, q = _ids(shoppers)
    assert {o for _, o in shoppers.identity_doubts(q, 0, 1 << 62)} == {p}


@pytest.mark.parametrize("field", ["doubt_unseen_s", "doubt_fragment_s"])
def test_doubt_settings_refuse_negative_seconds(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ShopperParams(**{field: -0.1})
