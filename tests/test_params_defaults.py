"""One definition for each parameter default: the C++ options struct, bound once.

Every Python face and numpy twin of a bound struct must run with the C++ defaults: a default
written again in Python (a keyword default in a signature, or a value passed on to the compiled
constructor) fails here, so the copies cannot drift apart again (issue #24).
"""

from __future__ import annotations

import inspect
import math
import pickle

import pytest

from twins.interact import EngineTwin, ShelfModelTwin
from walkout import _core
from walkout.config import load_store
from walkout.interact import InteractionEngine, Shelves
from walkout.resources import configs_dir

SHELVES = Shelves(load_store(configs_dir() / "store.yaml").config)


def written_defaults(function: object, fields: tuple[str, ...]) -> dict[str, object]:
    """The defaults a signature writes out for fields of a params struct."""
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()  # type: ignore[arg-type]
        if name in fields and p.default is not inspect.Parameter.empty
    }


def test_interaction_engine_face_and_twin_run_the_cpp_defaults() -> None:
    cpp = _core.InteractEngineParams()
    assert InteractionEngine(SHELVES).params == cpp
    for function in (InteractionEngine.__init__, EngineTwin.__init__):
        written = written_defaults(function, cpp.fields)
        assert written == {n: getattr(cpp, n) for n in written}, function
    twin = EngineTwin(ShelfModelTwin(*_twin_arrays(), 0.05))
    assert (twin.enter, twin.exit, twin.min_inside, twin.min_outside, twin.hand_lost,
            twin.motion, twin.duplicate_radius, twin.max_behind, twin.lost_conf,
            twin.prob_min, twin.dwell_exit, twin.min_dwell) == tuple(cpp.to_dict().values())


def test_interaction_engine_defaults_are_the_tuned_ones() -> None:
    # The values the edge pipeline ran and docs/rooms/interact.md's reach figures were
    # measured with (oracle tuning seeds 11-15, 31-45); changing one needs a new measurement.
    assert _core.InteractEngineParams().to_dict() == {
        "enter_depth": 0.03, "exit_depth": 0.0, "min_inside_s": 0.175, "min_outside_s": 0.5,
        "hand_lost_s": 1.0, "hand_motion_std": 0.3, "duplicate_radius": 0.4,
        "max_behind_face": 0.25, "lost_confidence": 0.5, "slot_prob_min": 0.02,
        "dwell_exit_s": 1.0, "min_dwell_s": 1.0,
    }


def test_params_struct_checks_reprs_pickles_and_overrides() -> None:
    p = _core.InteractEngineParams(min_inside_s=0.2)
    assert p.min_inside_s == 0.2 and p != _core.InteractEngineParams()
    assert "min_inside_s=0.2" in repr(p)
    assert pickle.loads(pickle.dumps(p)) == p
    p.check()
    p.exit_depth = p.enter_depth
    with pytest.raises(ValueError, match="exit_depth"):
        p.check()
    with pytest.raises(ValueError, match="exit_depth"):
        InteractionEngine(SHELVES, p)
    off = InteractionEngine(SHELVES, max_behind_face=math.inf).params
    assert off.max_behind_face == math.inf and off.min_inside_s == 0.175
    with pytest.raises(TypeError, match=r"unknown parameter 'min_inside'.*min_inside_s"):
        InteractionEngine(SHELVES, min_inside=0.2)


def _twin_arrays():
    from test_interact_engine import example_arrays

    return example_arrays()
