"""The detector's training code (models/, torch: the `train` extra) against its readable twins
in tests/twins/model.py: the exported head decode, the keypoint refinement, target assignment;
an exported ONNX file loads back into the network (``--init-onnx``) and exports a graph that
computes the same; training is deterministic for a seed.

Without torch this whole file is skipped; tests/test_model.py (the shipped ONNX file, through
onnxruntime only) runs everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from twins.model import assign as assign_twin  # noqa: E402
from twins.model import decode_level as decode_level_twin  # noqa: E402
from twins.model import refine as refine_twin  # noqa: E402
from twins.model import refine_window as refine_window_twin  # noqa: E402

# The training scripts (not in the wheel) from this checkout; they import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "models"))


def _refinement_case(seed: int, batch: int, hf: int, wf: int, anchors: int, mlp_name: str,
                     beyond_px: float):
    """A small PoseNet whose ``mlp_name`` MLP says something (its last layer starts at zero),
    a random stride-4 feature map and keypoints up to ``beyond_px`` outside the image, and the
    MLP's weights as numpy arrays for the twin: (net, fine, kxy, (w1, b1, w2, b2))."""
    from detector_net import FINE_STRIDE, NUM_KEYPOINTS, PoseNet, fine_channels

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = PoseNet(8)
    mlp = getattr(net, mlp_name)
    torch.nn.init.normal_(mlp[2].weight, std=0.3)
    torch.nn.init.normal_(mlp[2].bias, std=0.3)
    fine = rng.normal(0, 1, (batch, fine_channels(8), hf, wf)).astype(np.float32)
    size = np.array([wf, hf]) * FINE_STRIDE
    kxy = rng.uniform(-beyond_px, size[:, None] + beyond_px,
                      (batch, NUM_KEYPOINTS, 2, anchors)).astype(np.float32)
    weights = tuple(t.detach().numpy() for t in
                    (mlp[0].weight[:, :, 0], mlp[0].bias, mlp[2].weight[:, :, 0], mlp[2].bias))
    return net, fine, kxy, weights

@given(
    seed=st.integers(0, 2**31 - 1),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    stride=st.sampled_from([8, 16, 32]),
)
def test_export_decode_matches_twin(seed: int, h: int, w: int, stride: int) -> None:
    from detector_net import decode_level

    raw = np.random.default_rng(seed).normal(0, 2, (2, 5 + 51, h, w)).astype(np.float32)
    fast = decode_level(torch.from_numpy(raw), stride).numpy()
    np.testing.assert_allclose(fast, decode_level_twin(raw, stride), rtol=1e-5, atol=1e-3)


@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 2),
    hf=st.integers(1, 5),
    wf=st.integers(1, 5),
    anchors=st.integers(1, 3),
)
def test_keypoint_refinement_matches_twin(seed: int, batch: int, hf: int, wf: int, anchors: int) -> None:
    from detector_net import FINE_STRIDE, REFINE_UNIT_PX

    # Keypoints inside the image and up to two cells beyond its edges (the border rule).
    net, fine, kxy, (w1, b1, w2, b2) = _refinement_case(seed, batch, hf, wf, anchors,
                                                        "refine_mlp", 8)
    with torch.no_grad():
        fast = net.refine_point(torch.from_numpy(fine), torch.from_numpy(kxy)).numpy()
    slow = refine_twin(fine, kxy, w1, b1, w2, b2, FINE_STRIDE, REFINE_UNIT_PX)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-3)


@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 2),
    hf=st.integers(1, 6),
    wf=st.integers(1, 6),
    anchors=st.integers(1, 3),
)
def test_window_refinement_matches_twin(seed: int, batch: int, hf: int, wf: int, anchors: int) -> None:
    from detector_net import FINE_STRIDE, REFINE_UNIT_PX, WINDOW_TAP_PX, WINDOW_TAPS

    # Keypoints inside the image and beyond its edges, so that window taps read the border.
    net, fine, kxy, (w1, b1, w2, b2) = _refinement_case(seed, batch, hf, wf, anchors,
                                                        "refine2_mlp", 12)
    with torch.no_grad():
        fast = net.refine_window(torch.from_numpy(fine), torch.from_numpy(kxy)).numpy()
    proj_w = net.window_map.weight[:, :, 0, 0].detach().numpy()
    proj_b = net.window_map.bias.detach().numpy()
    slow = refine_window_twin(fine, kxy, proj_w, proj_b, w1, b1, w2, b2, FINE_STRIDE, REFINE_UNIT_PX,
                              WINDOW_TAPS, WINDOW_TAP_PX)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-3)


def test_window_step_can_start_as_the_point_step_applied_twice() -> None:
    """``--window-from-point``: the two-step network starts exactly as the first step run twice."""
    from detector_net import NUM_KEYPOINTS, PoseNet, fine_channels

    torch.manual_seed(0)
    net = PoseNet(8)
    torch.nn.init.normal_(net.refine_mlp[2].weight, std=0.3)
    torch.nn.init.normal_(net.refine_mlp[2].bias, std=0.3)
    net.start_window_as_point_step()
    fine = torch.randn(1, fine_channels(8), 5, 7)
    kxy = torch.rand(1, NUM_KEYPOINTS, 2, 4) * 20
    with torch.no_grad():
        twice = net.refine_point(fine, net.refine_point(fine, kxy))
        steps = net.refine_steps(fine, kxy)
    assert not torch.allclose(steps[0], kxy)  # the first step does move the points
    torch.testing.assert_close(steps[1], twice, rtol=1e-5, atol=1e-4)


# torch's TorchScript ONNX exporter (the one that writes the shipped file) and its internals
# warn that they are deprecated, and the tracer that the top-k count becomes a constant (it is:
# the input size is fixed); the export itself is what this test checks.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_onnx_weights_load_back_into_the_network(tmp_path: Path) -> None:
    """An exported ONNX file loaded into a fresh network (BatchNorms folded back) exports a
    graph that computes the same; a graph without the refinement loads as a prefix."""
    import onnxruntime as ort
    from detector_net import PoseNet
    from onnx_weights import load_onnx_weights
    from train_detector import export_onnx

    hw = (64, 96)
    torch.manual_seed(1)
    trained = PoseNet(8)
    with torch.no_grad():  # BatchNorm statistics and a refinement that are not the defaults
        for _ in range(2):
            trained(torch.rand(2, 3, *hw))
        torch.nn.init.normal_(trained.refine_mlp[2].weight, std=0.1)
        torch.nn.init.normal_(trained.refine2_mlp[2].weight, std=0.1)
    first = export_onnx(trained, tmp_path / "a.onnx", hw)
    torch.manual_seed(2)
    fresh = PoseNet(8)
    frozen = load_onnx_weights(fresh, first, hw)
    second = export_onnx(fresh, tmp_path / "b.onnx", hw)
    images = np.random.default_rng(0).random((2, 3, *hw), dtype=np.float32)
    a, b = (ort.InferenceSession(str(p)).run(None, {"images": images})[0] for p in (first, second))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    assert len(frozen) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in fresh.modules())
    with pytest.raises(ValueError, match="init_onnx"):
        load_onnx_weights(PoseNet(16), first, hw)


@given(seed=st.integers(0, 2**31 - 1), people=st.integers(0, 6))
def test_assignment_matches_twin(seed: int, people: int) -> None:
    from detector_loss import LEVEL_RANGES, Target, _anchors, assign

    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, [160, 96], (people, 2))
    size = rng.uniform(8, 200, (people, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)
    centres, strides, levels = _anchors([(12, 20), (6, 10), (3, 5)], torch.device("cpu"))
    target = Target(torch.from_numpy(boxes).reshape(-1, 4), torch.zeros(people, 17, 3))
    fast = assign(target, centres, strides, levels).numpy()
    slow = assign_twin(boxes, centres.numpy(), strides.numpy(), levels.numpy(), LEVEL_RANGES)
    np.testing.assert_array_equal(fast, slow)


def test_training_is_deterministic_for_a_seed() -> None:
    """Two short trainings from the same seed on the same image end with identical weights."""
    from detector_loss import Target, pose_loss
    from detector_net import PoseNet

    def train_steps() -> list[torch.Tensor]:
        torch.manual_seed(3)
        net = PoseNet(8)
        optimiser = torch.optim.AdamW(net.parameters(), lr=1e-2)
        image = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
        box = torch.tensor([[30.0, 10.0, 60.0, 60.0]])
        kpts = torch.cat([torch.rand(1, 17, 2) * 30 + 20, torch.ones(1, 17, 1)], dim=2)
        targets = [Target(box, kpts), Target(torch.zeros(0, 4), torch.zeros(0, 17, 3))]
        losses = []
        for _ in range(3):
            loss, _ = pose_loss(net(image), targets, net.refine_steps)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < losses[0]  # it learns from the one labelled person
        return [p.detach().clone() for p in net.parameters()]

    for a, b in zip(train_steps(), train_steps(), strict=True):
        assert torch.equal(a, b)
