"""Who the shoppers are: body size and clothing, drawn per person from the run's seed.

Body proportions are fractions of standing height from anthropometric tables (Winter,
"Biomechanics and Motor Control of Human Movement", segment lengths as fractions of H:
shoulder 0.818 H, hip 0.530 H, knee 0.285 H, upper arm 0.186 H, forearm 0.146 H, hand 0.108 H);
children keep the same fractions with a larger head, which is enough for a ceiling camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Clothing palettes (RGB): muted everyday colours, a few bright ones.
_SHIRTS = [(200, 40, 40), (40, 90, 180), (30, 140, 70), (230, 200, 60), (240, 240, 240),
           (40, 40, 45), (130, 60, 150), (240, 130, 40), (90, 160, 200), (150, 150, 150),
           (120, 80, 50), (220, 120, 160)]
_TROUSERS = [(40, 50, 90), (30, 30, 35), (110, 100, 80), (70, 80, 90), (150, 130, 100),
             (60, 40, 30), (180, 180, 185)]
_SKIN = [(255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
         (92, 58, 30)]
_HAIR = [(20, 15, 10), (60, 40, 20), (120, 80, 40), (200, 170, 110), (130, 130, 130),
         (160, 50, 20)]


@dataclass(frozen=True)
class Person:
    """One simulated person: a shopper with an account or a companion on someone's cart."""

    id: int
    account: str  # the account whose cart this person's picks go to
    leader: int  # id of the person who scanned in (self for a shopper alone)
    child: bool
    height_m: float
    build: float  # girth factor, 0.85 (slim) .. 1.2 (broad)
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    speed_mps: float

    def arm_length_m(self) -> float:
        return (0.186 + 0.146) * self.height_m


def draw_person(rng: np.random.Generator, pid: int, account: str, leader: int, child: bool,
                walk_speed: float) -> Person:
    def pick(palette: list[tuple[int, int, int]]) -> tuple[int, int, int]:
        return palette[int(rng.integers(len(palette)))]

    height = float(rng.uniform(1.05, 1.40) if child else np.clip(rng.normal(1.72, 0.09), 1.50, 2.0))
    return Person(id=pid, account=account, leader=leader, child=child, height_m=height,
                  build=float(rng.uniform(0.85, 1.2)), shirt=pick(_SHIRTS),
                  trousers=pick(_TROUSERS), skin=pick(_SKIN), hair=pick(_HAIR),
                  speed_mps=float(walk_speed * rng.uniform(0.8, 1.2) * (0.85 if child else 1.0)))
