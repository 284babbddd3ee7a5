"""Property-based round trip: any on-map point, size, sigma and stride encodes and decodes sub-pixel exactly."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_landmarks.codecs import GaussianHeatmapCodec


@st.composite
def cases(draw):
    stride = draw(st.sampled_from([1, 2, 4]))
    sigma = draw(st.floats(1.5, 3.0))
    margin = math.ceil(3 * sigma) + 1.5  # clear of the border, where refinement is limited (see decoders)
    w = draw(st.integers(int(2 * margin) + 2, 40))
    h = draw(st.integers(int(2 * margin) + 2, 40))
    size = (w * stride - draw(st.integers(0, stride - 1)), h * stride - draw(st.integers(0, stride - 1)))
    u = draw(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=4))
    hm = torch.tensor(u, dtype=torch.float64) * torch.tensor([w - 1 - 2 * margin, h - 1 - 2 * margin]) + margin
    points = ((hm + 0.5) * stride - 0.5).to(torch.float32)[None]  # heatmap -> image pixels (pixel centres)
    return size, stride, sigma, points


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(cases())
def test_round_trip_is_subpixel(case):
    size, stride, sigma, points = case
    heatmaps, weights = GaussianHeatmapCodec(size, stride=stride, sigma=sigma).encode(points)
    assert (weights == 1).all()
    for name in ("dark", "soft_argmax"):
        decoded, _ = GaussianHeatmapCodec(stride=stride, sigma=sigma, decoder=name).decode(heatmaps)
        assert (decoded - points).abs().max() < 0.05, name
    decoded, _ = GaussianHeatmapCodec(stride=stride, sigma=sigma, decoder="argmax").decode(heatmaps)
    assert (decoded - points).abs().max() <= 0.5 * stride + 1e-4
