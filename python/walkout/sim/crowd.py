"""Shoppers as agents, stepped at a fixed rate: they arrive, scan in at the entry gate, walk
planned paths between shelf stops, reach into slots, and leave through the exit.

Hard invariants, by construction: a shopper's centre never comes within ``CLEARANCE_M`` of a
shelf footprint or wall, nor within ``MIN_SEPARATION_M`` of another shopper's centre. Each
step moves one agent at a time and accepts a move only if it keeps both; otherwise the agent
tries a sidestep, waits, backs off, re-plans, and at last gives the stop up.

What happens at a stop is scheduled when the shopper gets there: a look, then reaches (each
an extend - hold - retract of the arm towards one slot), each either a pick of 1..2 items, a
put-back (into the same slot, or into the slot above/below: the wrong-slot case), or a touch
that takes nothing.

Scripted shoppers (``script:`` in the scenario) walk, queue and step aside by the same rules;
only what they do is fixed: their arrival, party, stops (where they stand, when they reach)
and what each reach does. Their bodies come from a separate random stream, so a scenario
without a script draws exactly the same numbers as before scripts existed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from walkout.sim.people import Person, draw_person
from walkout.sim.planner import Planner
from walkout.sim.pose import BodyState, joints
from walkout.sim.scenario import Scenario, ScriptStop, script_account
from walkout.sim.world import CLEARANCE_M, MIN_SEPARATION_M, SlotInfo, World

STEP_S = 0.1  # agent update period; poses in between are interpolated
EXTEND_S = 0.5  # arm from rest to the slot
RETRACT_S = 0.5  # and back
REACH_DEPTH_M = 0.12  # how far the hand goes past the face plane
TURN_RATE = 3.5  # rad/s
_SIDESTEPS = (0.5, -0.5, 1.0, -1.0, 1.5, -1.5)  # radians tried when the straight move is blocked


@dataclass
class Reach:
    person: int
    hand: int  # 0 left, 1 right
    slot: int  # index into world.slots the hand goes into
    target: np.ndarray  # (3,) store point the hand goes to
    t_start: float  # arm starts moving (seconds from run start)
    t_end: float  # arm back at rest
    kind: str  # "pick", "put" or "touch"
    count: int  # items moved (0 for a touch)
    sku: str | None  # product moved (for a put: the product of the item put back)

    @property
    def t_move(self) -> float:
        """When the items leave or land on the shelf: the middle of the hold."""
        return 0.5 * ((self.t_start + EXTEND_S) + (self.t_end - RETRACT_S))

    def ext(self, t: np.ndarray) -> np.ndarray:
        up = (t - self.t_start) / EXTEND_S
        down = (self.t_end - t) / RETRACT_S
        return np.clip(np.minimum(up, down), 0.0, 1.0)


@dataclass
class CheckIn:
    t: float
    person: int
    account: str
    party_size: int


@dataclass
class Timeline:
    """What the crowd did: per step every person's floor state, plus the scheduled reaches."""

    times: np.ndarray  # (T,) seconds from start
    pos: np.ndarray  # (T, P, 2)
    heading: np.ndarray  # (T, P)
    phase: np.ndarray  # (T, P)
    amp: np.ndarray  # (T, P)
    present: np.ndarray  # (T, P) bool
    people: list[Person]
    reaches: list[Reach]
    checkins: list[CheckIn]
    exits: dict[int, float]  # person -> time it left through the exit

    def body_state(self, t: float | np.ndarray, persons: np.ndarray) -> BodyState:
        """The bodies of `persons` at time(s) t (scalar or one per person), interpolated."""
        persons = np.asarray(persons, int)
        tt = np.broadcast_to(np.asarray(t, np.float64), persons.shape)
        f = np.clip(tt / STEP_S, 0, len(self.times) - 1)
        i0 = np.minimum(np.floor(f).astype(int), len(self.times) - 2)
        a = (f - i0)[:, None]
        pos = self.pos[i0, persons] * (1 - a) + self.pos[i0 + 1, persons] * a
        h0, h1 = self.heading[i0, persons], self.heading[i0 + 1, persons]
        heading = h0 + np.angle(np.exp(1j * (h1 - h0))) * a[:, 0]
        phase = self.phase[i0, persons] * (1 - a[:, 0]) + self.phase[i0 + 1, persons] * a[:, 0]
        amp = self.amp[i0, persons] * (1 - a[:, 0]) + self.amp[i0 + 1, persons] * a[:, 0]
        state = BodyState.standing([self.people[p] for p in persons], pos, heading)
        state.phase, state.amp = phase, amp
        for p in np.unique(persons):
            mine = persons == p
            for reach in self._reaches_of.get(int(p), ()):
                active = mine & (tt >= reach.t_start) & (tt <= reach.t_end)
                if active.any():
                    state.hand[active] = reach.hand
                    state.target[active] = reach.target
                    state.ext[active] = reach.ext(tt[active])
        return state

    def present_at(self, t: float) -> np.ndarray:
        i = round(min(max(t / STEP_S, 0), len(self.times) - 1))
        return np.nonzero(self.present[i])[0]

    def __post_init__(self) -> None:
        self._reaches_of: dict[int, list[Reach]] = {}
        for reach in self.reaches:
            self._reaches_of.setdefault(reach.person, []).append(reach)


@dataclass
class _Agent:
    person: Person
    arrive: float
    stops_left: int
    mode: str = "pending"  # pending, walk, act, gone
    pos: np.ndarray = field(default_factory=lambda: np.zeros(2))
    heading: float = math.pi / 2
    phase: float = 0.0
    amp: float = 0.0
    goal: np.ndarray | None = None
    goal_heading: float | None = None
    path: list[np.ndarray] = field(default_factory=list)
    stop_slot: int | None = None
    exiting: bool = False
    stuck: float = 0.0
    backoff_until: float = -1.0
    backoff_dir: np.ndarray = field(default_factory=lambda: np.zeros(2))
    busy_until: float = 0.0
    replan_at: float = 0.0
    script: list[ScriptStop] | None = None
    """the stops still to make, for a scripted shopper (None: a random one)"""
    stop: ScriptStop | None = None


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class Crowd:
    def __init__(self, world: World, scenario: Scenario, rng: np.random.Generator,
                 script_rng: np.random.Generator | None = None) -> None:
        self.world, self.scenario, self.rng = world, scenario, rng
        self.script_rng = script_rng if script_rng is not None else rng
        self._slot_index = {s.slot_id: s.index for s in world.slots}
        self.planner = Planner(world)
        self.agents: list[_Agent] = []
        self.reaches: list[Reach] = []
        self.checkins: list[CheckIn] = []
        self.exits: dict[int, float] = {}
        self._arrivals()
        self._where = np.zeros((len(self.agents), 2))
        self._inside = np.zeros(len(self.agents), bool)

    # -- who comes when -------------------------------------------------------------------
    def _arrivals(self) -> None:
        sc, rng = self.scenario, self.rng
        n = sc.shoppers
        times = np.sort(rng.uniform(0.0, sc.arrival_window(), n)) if n else np.zeros(0)
        for k, t in enumerate(times):
            account = f"acct-{k + 1:04d}"
            leader = len(self.agents)
            stops = int(rng.integers(sc.shopping.stops_min, sc.shopping.stops_max + 1))
            self.agents.append(_Agent(draw_person(rng, leader, account, leader, False,
                                                  sc.shopping.walk_speed), float(t), stops))
            if rng.random() < sc.group_rate:
                child = bool(rng.random() < 0.5)
                pid = len(self.agents)
                self.agents.append(_Agent(draw_person(rng, pid, account, leader, child,
                                                      sc.shopping.walk_speed),
                                          float(t) + 1.5, max(1, stops)))
        self._scripted_arrivals()

    def _scripted_arrivals(self) -> None:
        """The scenario's scripted shoppers and their companions, after the random ones."""
        sc = self.scenario
        if sc.script is None:
            return
        rng = self.script_rng
        for k, shopper in enumerate(sc.script.shoppers):
            account = shopper.account or script_account(k)
            leader = len(self.agents)
            self.agents.append(_Agent(draw_person(rng, leader, account, leader, False,
                                                  sc.shopping.walk_speed), shopper.arrive_s,
                                      0, script=list(shopper.stops)))
            for c, companion in enumerate(shopper.companions):
                pid = len(self.agents)
                self.agents.append(_Agent(draw_person(rng, pid, account, leader, companion.child,
                                                      sc.shopping.walk_speed),
                                          shopper.arrive_s + 1.5 * (c + 1), 0,
                                          script=list(companion.stops)))

    def slot_index(self, slot_id: str) -> int:
        try:
            return self._slot_index[slot_id]
        except KeyError:
            raise ValueError(f"script: slot '{slot_id}' is not in the store file; expected one "
                             f"of {sorted(self._slot_index)}") from None

    # -- one step ---------------------------------------------------------------------------
    def _clear_of_others(self, i: int, point: np.ndarray) -> bool:
        d2 = ((self._where - point) ** 2).sum(1)
        d2[i] = np.inf
        return bool((d2[self._inside] >= MIN_SEPARATION_M**2).all())

    def _place(self, i: int, point: np.ndarray | None) -> None:
        """Keep the arrays the separation test reads in step with the agents."""
        if point is None:
            self._inside[i] = False
        else:
            self._where[i] = point
            self._inside[i] = True

    def _ok(self, i: int, point: np.ndarray) -> bool:
        return self.world.free_at(float(point[0]), float(point[1])) and self._clear_of_others(i, point)

    def step(self, t: float) -> None:
        for i, agent in enumerate(self.agents):
            if agent.mode == "pending" and t >= agent.arrive:
                self._spawn(i, t)
            elif agent.mode == "walk":
                self._walk(i, t)
            elif agent.mode == "act" and t >= agent.busy_until:
                self._next_goal(i, t)
            if agent.mode in ("walk", "act"):
                want = agent.goal_heading if agent.mode == "act" else None
                if want is not None:
                    d = _wrap(want - agent.heading)
                    agent.heading = _wrap(agent.heading + max(-TURN_RATE * STEP_S, min(TURN_RATE * STEP_S, d)))

    def _spawn(self, i: int, t: float) -> None:
        agent = self.agents[i]
        start = self.world.entry_point.copy()
        if not self._clear_of_others(i, start):
            return  # the gate is busy: wait in the queue outside
        agent.pos, agent.heading, agent.mode = start, math.pi / 2, "walk"
        self._place(i, start)
        if agent.person.leader == agent.person.id:
            party = 1 + sum(1 for a in self.agents if a.person.leader == agent.person.id
                            and a is not agent)
            self.checkins.append(CheckIn(t + 0.4, agent.person.id, agent.person.account, party))
        self._next_goal(i, t)

    def _stand_point(self, agent: _Agent, info: SlotInfo) -> np.ndarray:
        offset = CLEARANCE_M + 0.04 if agent.person.child else 0.38
        if agent.stop is not None and agent.stop.offset_m is not None:
            lateral = agent.stop.offset_m
        else:
            lateral = float(self.rng.uniform(-0.35, 0.35)) * info.width_m
        return info.face_point[:2] + info.normal * offset + info.along * lateral

    def _choose_slot(self, i: int) -> int | None:
        agent, rng = self.agents[i], self.rng
        reachable = [s.index for s in self.world.slots if self._can_reach_height(agent.person, s)]
        if not reachable:
            return None
        if rng.random() < self.scenario.crowding:
            busy = [a.stop_slot for j, a in enumerate(self.agents) if j != i and a.mode in ("walk", "act")
                    and a.stop_slot is not None]
            shelves = {self.world.slots[s].shelf.id for s in busy}
            near = [s for s in reachable if self.world.slots[s].shelf.id in shelves]
            if near:
                return int(near[int(rng.integers(len(near)))])
        leader = self.agents[agent.person.leader]
        if leader is not agent and leader.stop_slot is not None and rng.random() < 0.7:
            same = [s for s in reachable if self.world.slots[s].shelf.id ==
                    self.world.slots[leader.stop_slot].shelf.id]
            if same:
                return int(same[int(rng.integers(len(same)))])
        return int(reachable[int(rng.integers(len(reachable)))])

    @staticmethod
    def _can_reach_height(person: Person, info: SlotInfo) -> bool:
        return info.face_point[2] <= 0.818 * person.height_m + 0.25

    def _next_goal(self, i: int, t: float) -> None:
        agent = self.agents[i]
        agent.stop_slot, agent.goal_heading, agent.stuck = None, None, 0.0
        if agent.script is not None:
            agent.stop = agent.script.pop(0) if agent.script else None
            slot = None if agent.stop is None else self.slot_index(agent.stop.slot)
        else:
            slot = self._choose_slot(i) if agent.stops_left > 0 else None
        if slot is None:
            agent.exiting = True
            self._set_goal(i, self.world.exit_point.copy(), t)
            return
        agent.stops_left -= 1  # (scripted shoppers count down their script instead)
        agent.stop_slot = slot
        self._set_goal(i, self._stand_point(agent, self.world.slots[slot]), t)

    def _set_goal(self, i: int, goal: np.ndarray, t: float) -> None:
        agent = self.agents[i]
        agent.goal, agent.mode = goal, "walk"
        agent.path = self.planner.path(agent.pos, goal)
        agent.replan_at = math.inf  # re-plan only after being pushed off the line

    def _walk(self, i: int, t: float) -> None:
        agent = self.agents[i]
        assert agent.goal is not None
        to_goal = float(np.linalg.norm(agent.goal - agent.pos))
        patience_done = agent.stuck > 4.0 and to_goal < 1.0
        if to_goal < 0.06 or patience_done:
            self._arrive(i, t)
            return
        if agent.stuck > 20.0:  # give this goal up
            if agent.exiting:
                agent.stuck = 0.0
            else:
                self._next_goal(i, t)
            return
        if t >= agent.replan_at or not agent.path:
            agent.path = self.planner.path(agent.pos, agent.goal)
            agent.replan_at = math.inf
            if not agent.path:
                agent.path = [agent.goal]
        if t < agent.backoff_until:
            direction = agent.backoff_dir
        step = min(agent.person.speed_mps * STEP_S, max(to_goal, 0.0))
        if t >= agent.backoff_until:
            # A waypoint within this step's reach is passed: head for the next one instead of
            # overshooting it and turning back.
            while len(agent.path) > 1 and np.linalg.norm(agent.path[0] - agent.pos) < max(0.05, step):
                agent.path.pop(0)
            delta = agent.path[0] - agent.pos
            direction = delta / max(float(np.linalg.norm(delta)), 1e-9)
        moved = None
        for k, turn in enumerate((0.0, *_SIDESTEPS)):
            c, s = math.cos(turn), math.sin(turn)
            d = np.array([c * direction[0] - s * direction[1], s * direction[0] + c * direction[1]])
            candidate = agent.pos + d * (step if k == 0 else 0.6 * step)
            if self._ok(i, candidate):
                moved = candidate
                break
        if moved is None:
            agent.amp = max(0.0, agent.amp - 0.3)
            agent.stuck += STEP_S
            if agent.stuck > 3.0 and t >= agent.backoff_until and self.rng.random() < 0.2:
                angle = self.rng.uniform(0, 2 * math.pi)
                agent.backoff_dir = np.array([math.cos(angle), math.sin(angle)])
                agent.backoff_until = t + 1.0
                agent.replan_at = t + 1.0
            return
        if k > 0:
            agent.replan_at = min(agent.replan_at, t + 0.5)
        dist = float(np.linalg.norm(moved - agent.pos))
        agent.pos = moved
        self._place(i, moved)
        agent.stuck = max(0.0, agent.stuck - STEP_S) if k == 0 else agent.stuck + STEP_S * 0.5
        speed = dist / STEP_S
        agent.amp = min(1.0, speed / 0.8)
        agent.phase += 2 * math.pi * dist / (0.72 * agent.person.height_m)
        if dist > 1e-6:
            heading = math.atan2(d[1], d[0])
            dh = _wrap(heading - agent.heading)
            agent.heading = _wrap(agent.heading + max(-TURN_RATE * STEP_S, min(TURN_RATE * STEP_S, dh)))

    def _arrive(self, i: int, t: float) -> None:
        agent = self.agents[i]
        agent.amp = 0.0
        if agent.exiting:
            agent.mode = "gone"
            self._place(i, None)
            self.exits[agent.person.id] = t
            return
        assert agent.stop_slot is not None
        info = self.world.slots[agent.stop_slot]
        agent.goal_heading = math.atan2(-info.normal[1], -info.normal[0])
        agent.mode = "act"
        agent.busy_until = self._schedule_stop(i, t, info)

    # -- what happens at a stop -------------------------------------------------------------
    def _reach_target(self, agent: _Agent, info: SlotInfo) -> np.ndarray:
        # Straight in front of where the shopper stands, inside the slot's column and level.
        rel = float(np.dot(agent.pos - info.face_point[:2], info.along))
        rel = float(np.clip(rel + self.rng.uniform(-0.1, 0.1), -0.4 * info.width_m, 0.4 * info.width_m))
        xy = info.face_point[:2] + info.along * rel - info.normal * REACH_DEPTH_M
        z = info.face_point[2] + self.rng.uniform(-0.2, 0.1) * info.height_m
        return np.array([xy[0], xy[1], z])

    def _hand_for(self, agent: _Agent, target: np.ndarray, heading: float) -> int:
        left = np.array([-math.sin(heading), math.cos(heading)])
        side = float(np.dot(target[:2] - agent.pos, left))
        if abs(side) > 0.15:
            return 0 if side > 0 else 1
        return int(self.rng.random() < 0.65)  # right-handed majority

    def reach_crosses_face(self, person: Person, pos: np.ndarray, heading: float, hand: int,
                           target: np.ndarray, info: SlotInfo) -> bool:
        state = BodyState.standing([person], pos[None], np.array([heading]))
        state.hand[0], state.target[0], state.ext[0] = hand, target, 1.0
        wrist = joints(state)[0, 9 + hand]
        depth = float(np.dot(info.face_point[:2] - wrist[:2], info.normal))
        return depth >= 0.04

    def _feasible_reach(self, agent: _Agent, info: SlotInfo, heading: float) -> tuple[int, np.ndarray] | None:
        for _ in range(4):
            target = self._reach_target(agent, info)
            hand = self._hand_for(agent, target, heading)
            for h in (hand, 1 - hand):
                if self.reach_crosses_face(agent.person, agent.pos, heading, h, target, info):
                    return h, target
        return None

    def _scripted_plans(self, stop: ScriptStop,
                        info: SlotInfo) -> list[tuple[str, int, SlotInfo, str | None]]:
        """A scripted stop's reaches: a touch, then one reach per item taken, then one per
        item put back (into ``into`` if given: the wrong-slot case)."""
        plans: list[tuple[str, int, SlotInfo, str | None]] = []
        if stop.touch:
            plans.append(("touch", 0, info, None))
        plans += [("pick", 1, info, info.sku)] * stop.take
        into = info if stop.into is None else self.world.slots[self.slot_index(stop.into)]
        plans += [("put", 1, into, info.sku)] * stop.put_back
        return plans

    def _random_plans(self, info: SlotInfo) -> list[tuple[str, int, SlotInfo, str | None]]:
        """A random shopper's reaches at a stop: browse (maybe touch), or take 1..max_items
        (in reaches of 1 or 2) and maybe put one back, maybe into the wrong slot."""
        rng, shop = self.rng, self.scenario.shopping
        plans: list[tuple[str, int, SlotInfo, str | None]] = []
        if rng.random() < shop.browse_rate:
            if rng.random() < 0.5:
                plans.append(("touch", 0, info, None))
            return plans
        quantity = int(rng.integers(1, shop.max_items + 1))
        while quantity > 0:
            take = 2 if quantity >= 2 and rng.random() < 0.25 else 1
            plans.append(("pick", take, info, info.sku))
            quantity -= take
        if rng.random() < shop.put_back_rate:
            into = info
            if rng.random() < shop.wrong_slot_rate:
                column = [s for s in self.world.slots if s.shelf.id == info.shelf.id
                          and s.slot.face == info.slot.face and s.slot.col == info.slot.col
                          and s.index != info.index]
                if column:
                    into = column[int(rng.integers(len(column)))]
            plans.append(("put", 1, into, info.sku))
        return plans

    def _schedule_stop(self, i: int, t: float, info: SlotInfo) -> float:
        agent, rng = self.agents[i], self.rng
        heading = agent.goal_heading if agent.goal_heading is not None else agent.heading
        if agent.stop is not None:
            clock = t + agent.stop.look_s
            if agent.stop.reach_at_s is not None:
                clock = max(clock, agent.stop.reach_at_s)  # wait at the shelf until then
            plans = self._scripted_plans(agent.stop, info)
        else:
            clock = t + float(rng.uniform(0.8, 2.5))  # turn to the shelf and look
            plans = self._random_plans(info)
        holding = 0
        for kind, count, into, sku in plans:
            if kind == "put" and holding == 0:
                continue
            found = self._feasible_reach(agent, into, heading)
            if found is None:
                continue
            hand, target = found
            duration = EXTEND_S + float(rng.uniform(0.3, 0.9)) + RETRACT_S
            self.reaches.append(Reach(agent.person.id, hand, into.index, target, clock,
                                      clock + duration, kind, count, sku))
            holding += count if kind == "pick" else -count if kind == "put" else 0
            clock += duration + float(rng.uniform(0.9, 1.8))  # look at it, put it in the basket
        return clock + float(rng.uniform(0.3, 1.2))


def simulate_crowd(world: World, scenario: Scenario, rng: np.random.Generator,
                   progress: Callable[[int, int], None] | None = None,
                   script_rng: np.random.Generator | None = None) -> Timeline:
    """Step the crowd through the scenario; ``progress(done_steps, total_steps)``;
    ``script_rng`` draws the scripted shoppers' bodies (default: a child stream of ``rng``,
    which leaves ``rng``'s own draws untouched, so every caller gets the same people)."""
    if script_rng is None and scenario.script is not None:
        script_rng = rng.spawn(1)[0]
    crowd = Crowd(world, scenario, rng, script_rng)
    n_steps = math.ceil(scenario.duration_s / STEP_S) + 1
    people = [a.person for a in crowd.agents]
    P = len(people)
    pos = np.zeros((n_steps, P, 2))
    heading = np.zeros((n_steps, P))
    phase = np.zeros((n_steps, P))
    amp = np.zeros((n_steps, P))
    present = np.zeros((n_steps, P), bool)
    for k in range(n_steps):
        t = k * STEP_S
        crowd.step(t)
        for j, agent in enumerate(crowd.agents):
            if agent.mode in ("walk", "act"):
                present[k, j] = True
                pos[k, j] = agent.pos
                heading[k, j] = agent.heading
                phase[k, j] = agent.phase
                amp[k, j] = agent.amp
        if progress is not None and (k % 100 == 0 or k == n_steps - 1):
            progress(k + 1, n_steps)
    # Outside a person's visit hold the state at its first/last value, so that interpolating
    # between a step where they are absent and one where they are present never drags the
    # body towards the origin.
    for j in range(P):
        steps = np.nonzero(present[:, j])[0]
        if len(steps) == 0:
            continue
        first, last = steps[0], steps[-1]
        for arr in (pos, heading, phase, amp):
            arr[:first, j] = arr[first, j]
            arr[last + 1:, j] = arr[last, j]
    # A reach scheduled past the end or cut by the run's end is dropped from the truth.
    reaches = [r for r in crowd.reaches if r.t_end <= (n_steps - 1) * STEP_S]
    return Timeline(times=np.arange(n_steps) * STEP_S, pos=pos, heading=heading, phase=phase,
                    amp=amp, present=present, people=people, reaches=reaches,
                    checkins=[c for c in crowd.checkins if c.t <= (n_steps - 1) * STEP_S],
                    exits=crowd.exits)
