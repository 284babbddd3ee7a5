"""Single-level Gaussian heatmap codec: landmarks <-> one heatmap channel per landmark.

Pixel-centre convention (the one place it is written down for the codecs)
    A heatmap with ``stride`` s has one heatmap pixel per ``s x s`` block of image pixels: heatmap pixel ``i``
    covers image pixels ``[i * s, (i + 1) * s)`` and its centre is image coordinate ``(i + 0.5) * s - 0.5``.
    Landmarks go to heatmap coordinates with :func:`monai_landmarks.utils.coords.to_stride` and come back with
    :func:`~monai_landmarks.utils.coords.from_stride` (never ``p / s``). Heatmaps have the package layout
    ``(K, w, h)``: axis 1 is x, axis 2 is y, so a landmark at heatmap point ``(5.0, 2.0)`` peaks at ``[k, 5, 2]``.

Heatmap size
    An image of size ``(W, H)`` gives a heatmap of ``(ceil(W / s), ceil(H / s))``. When ``s`` does not divide the
    size, the last heatmap pixel covers a partial block; the mapping above is unchanged, every image pixel
    (hence every on-image landmark) falls in a heatmap pixel, and the size matches a stride-``s`` network of
    padded stride-2 convolutions, which also rounds up.

Target
    ``peak * exp(-d^2 / (2 sigma^2))`` with ``d`` the distance from the exact (sub-pixel) landmark in heatmap
    pixels, written only in a square window of ``+-ceil(truncate * sigma)`` pixels around the landmark's nearest
    pixel and zero elsewhere. The value at the landmark is ``peak``; the largest pixel value is at most ``peak``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence

import torch
from monai.utils import convert_to_tensor, look_up_option

from monai_landmarks.codecs.decoders import HeatmapDecoder, decoder_function
from monai_landmarks.utils import coords

__all__ = ["GaussianHeatmapCodec", "heatmap_size", "render_gaussians"]


def heatmap_size(spatial_size: Sequence[int], stride: int) -> tuple[int, int]:
    """Heatmap size ``(ceil(W / stride), ceil(H / stride))`` of an image of ``spatial_size`` ``(W, H)``."""
    return tuple(math.ceil(int(n) / stride) for n in spatial_size)


def render_gaussians(
    points: torch.Tensor,
    size: Sequence[int],
    sigma: float,
    peak: float = 1.0,
    truncate: float = 3.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Render one windowed Gaussian per point into its own channel.

    The output is zeroed once and each point adds only its ``(2r + 1)^2`` window (``r = ceil(truncate *
    sigma)``), the outer product of two 1-D Gaussians, so the cost is that of allocating the output. The
    window of a point ``p`` covers pixels ``floor(p + 0.5) - r ... floor(p + 0.5) + r`` on each axis, so it
    overlaps the heatmap when ``-r - 0.5 <= p < n + r - 0.5``.

    Args:
        points: ``(N, 2)`` heatmap coordinates (x, y); NaN rows give an all-zero channel.
        size: heatmap size ``(w, h)``.
        sigma: standard deviation in heatmap pixels.
        peak: value at the exact point.
        truncate: window half-width in multiples of ``sigma``.
        dtype: output dtype.

    Returns:
        ``(N, w, h)`` heatmaps on the points' device.
    """
    w, h = (int(n) for n in size)
    device = points.device
    r = math.ceil(truncate * sigma)
    # float32 is exact enough (offsets within a window are small); float64 only for float64 output.
    work = torch.float64 if dtype == torch.float64 else torch.float32
    # Missing and far-away points move to where their window is off the heatmap: no write changes, and the
    # integer conversion stays in range. The cost of this function is a few dozen tiny ops, hence the economy.
    far = float(max(w, h) + r + 1)
    p = torch.nan_to_num(points.to(work), nan=-far).clamp(-(r + 2.0), far)[:, :, None]  # (N, 2, 1)
    index = torch.floor(p + 0.5) + torch.arange(-r, r + 1, dtype=work, device=device)  # (N, 2, 2r + 1)
    # Off-map cells are clamped onto the map and given the value 0: adding zeros is harmless and avoids a
    # data-dependent mask (a host sync on CUDA).
    clamped = torch.minimum(index.clamp(min=0), torch.tensor([[w - 1.0], [h - 1.0]], dtype=work, device=device))
    profile = torch.exp((index - p).square() * (-0.5 / sigma**2)) * (clamped == index)
    if peak != 1.0:
        profile[:, 0] *= peak
    values = (profile[:, 0, :, None] * profile[:, 1, None, :]).to(dtype)
    clamped = clamped.long()
    base = torch.arange(points.shape[0], device=device) * (w * h)
    flat = base[:, None, None] + clamped[:, 0, :, None] * h + clamped[:, 1, None, :]
    out = torch.zeros((points.shape[0], w, h), dtype=dtype, device=device)
    out.view(-1).index_add_(0, flat.reshape(-1), values.reshape(-1))
    return out


class GaussianHeatmapCodec:
    """Encode landmarks as sub-pixel Gaussian heatmaps and decode heatmaps back to landmarks.

    The conventions (pixel centres, heatmap size, the target's formula) are in this module's docstring.

    Args:
        spatial_size: image size ``(W, H)`` in pixels; may instead be given to :meth:`encode`. Not needed to decode.
        stride: image pixels per heatmap pixel, a positive integer.
        sigma: Gaussian standard deviation in heatmap pixels (HTC: 2 at each level; GU2Net: 3 at stride 1).
        peak: target value at the exact landmark.
        truncate: half-width of the rendered window in multiples of ``sigma``; also the DARK blur's.
        dtype: dtype of the heatmaps.
        decoder: a :class:`~monai_landmarks.codecs.decoders.HeatmapDecoder` name: ``"argmax"``,
            ``"argmax_shift"``, ``"dark"`` or ``"soft_argmax"``.
        decoder_args: extra keyword arguments of the decoder function, for example ``{"blur": False}`` for
            ``"dark"`` or ``{"radius": 3, "beta": 1.0}`` for ``"soft_argmax"``. The codec already passes
            ``sigma`` and ``truncate`` to ``"dark"`` and the target's window radius ``ceil(truncate * sigma)`` to
            ``"soft_argmax"``.
        weight_partial: weights of landmarks that are off the image. False (default): 0, although their
            partial Gaussian is still rendered. True: 1 while some of their window lies on the heatmap.
        round_targets: centre each target Gaussian on the nearest whole heatmap pixel (as HTC's released code
            renders its targets) instead of the exact sub-pixel position.

    Example::

        codec = GaussianHeatmapCodec((64, 48), stride=2, sigma=2.0)
        heatmaps, weights = codec.encode(landmarks)  # (1, K, 2) -> (K, 32, 24), (K,)
        points, confidence = codec.decode(heatmaps)  # -> (1, K, 2), (1, K)
    """

    def __init__(
        self,
        spatial_size: Sequence[int] | None = None,
        stride: int = 1,
        sigma: float = 2.0,
        peak: float = 1.0,
        truncate: float = 3.0,
        dtype: torch.dtype = torch.float32,
        decoder: HeatmapDecoder | str = HeatmapDecoder.DARK,
        decoder_args: Mapping | None = None,
        weight_partial: bool = False,
        round_targets: bool = False,
    ) -> None:
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}.")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma!r}.")
        if not truncate > 0:
            raise ValueError(f"truncate must be positive, got {truncate!r}.")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point dtype, got {dtype}.")
        self.spatial_size = None if spatial_size is None else self._check_size(spatial_size)
        self.stride = stride
        self.sigma = float(sigma)
        self.peak = float(peak)
        self.truncate = float(truncate)
        self.dtype = dtype
        self.weight_partial = bool(weight_partial)
        self.round_targets = bool(round_targets)
        self.decoder = look_up_option(decoder, HeatmapDecoder)
        self.decoder_args = self._decoder_defaults() | dict(decoder_args or {})
        self._check_decoder_args()

    @staticmethod
    def _check_size(size: Sequence[int]) -> tuple[int, int]:
        size = tuple(int(n) for n in size)
        if len(size) != coords.SPATIAL_DIMS or min(size) < 1:
            raise ValueError(f"spatial_size must be two positive integers (W, H), got {size}.")
        return size

    def _decoder_defaults(self) -> dict:
        if self.decoder == HeatmapDecoder.DARK:
            return {"sigma": self.sigma, "truncate": self.truncate}
        if self.decoder == HeatmapDecoder.SOFT_ARGMAX:
            return {"radius": math.ceil(self.truncate * self.sigma)}
        return {}

    def _check_decoder_args(self) -> None:
        fn = decoder_function(self.decoder)
        params = [p for p in inspect.signature(fn).parameters if p not in ("heatmaps", "stride")]
        unknown = sorted(set(self.decoder_args) - set(params))
        if unknown:
            raise ValueError(f"decoder {self.decoder.value!r} does not take {unknown}; it takes {params}.")

    def heatmap_size(self, spatial_size: Sequence[int] | None = None) -> tuple[int, int]:
        """Heatmap size for an image of ``spatial_size`` (default: the codec's)."""
        return heatmap_size(self._resolve_size(spatial_size), self.stride)

    def _resolve_size(self, spatial_size: Sequence[int] | None) -> tuple[int, int]:
        if spatial_size is not None:
            return self._check_size(spatial_size)
        if self.spatial_size is None:
            raise ValueError("spatial_size is needed to encode: give it to the codec or to encode().")
        return self.spatial_size

    def encode(
        self, landmarks: torch.Tensor, spatial_size: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets of one sample.

        Args:
            landmarks: ``(1, K, 2)`` or ``(K, 2)`` image coordinates, NaN for missing.
            spatial_size: image size ``(W, H)``, overriding the codec's.

        Returns:
            heatmaps ``(K, w, h)`` and weights ``(K,)`` (float, 0 for missing or off-image landmarks).
        """
        points = coords.as_landmarks(_plain(landmarks))
        heatmaps, weights = self.encode_batch(points, spatial_size)
        return heatmaps[0], weights[0]

    def encode_batch(
        self, landmarks: torch.Tensor, spatial_size: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets of a batch: ``(B, K, 2)`` -> heatmaps ``(B, K, w, h)`` and weights ``(B, K)``.

        Runs on the landmarks' device, so a training loop can render targets on the GPU.
        """
        points = _plain(landmarks).to(torch.float32)
        if points.ndim != 3 or points.shape[-1] != coords.SPATIAL_DIMS:
            raise ValueError(f"landmarks: expected a batch of shape (B, K, 2), got {tuple(points.shape)}.")
        size = self._resolve_size(spatial_size)
        b, k = points.shape[:2]
        hm_size = heatmap_size(size, self.stride)
        hm_points = coords.to_stride(points, self.stride)
        centres = torch.round(hm_points) if self.round_targets else hm_points
        heatmaps = render_gaussians(
            centres.reshape(b * k, 2), hm_size, self.sigma, self.peak, self.truncate, self.dtype
        )
        visible = coords.inside_image(points, size)
        if self.weight_partial:
            # The window reaches the heatmap (see render_gaussians): "inside" a heatmap grown by r per side.
            r = math.ceil(self.truncate * self.sigma)
            visible = visible | coords.inside_image(hm_points + r, [n + 2 * r for n in hm_size])
        visible = visible & ~coords.missing_mask(points)
        return heatmaps.reshape(b, k, *hm_size), visible.to(torch.float32)

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Landmarks in image pixels and their confidence (the heatmap's maximum).

        Args:
            heatmaps: ``(K, w, h)`` for one sample or ``(B, K, w, h)`` for a batch.

        Returns:
            ``(1, K, 2)`` and ``(1, K)`` for one sample, ``(B, K, 2)`` and ``(B, K)`` for a batch. An empty
            channel (a missing landmark's target) still decodes to a position, with confidence 0.
        """
        heatmaps = _plain(heatmaps)
        if heatmaps.ndim not in (3, 4):
            raise ValueError(f"heatmaps: expected (K, w, h) or (B, K, w, h), got {tuple(heatmaps.shape)}.")
        batch = heatmaps if heatmaps.ndim == 4 else heatmaps[None]
        fn = decoder_function(self.decoder)
        return fn(batch, stride=self.stride, **self.decoder_args)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(spatial_size={self.spatial_size}, stride={self.stride}, sigma={self.sigma}, "
            f"decoder={self.decoder.value!r})"
        )


def _plain(x) -> torch.Tensor:
    """A plain tensor (MetaTensor metadata is dropped: codecs compute on raw values)."""
    return convert_to_tensor(x, track_meta=False)
