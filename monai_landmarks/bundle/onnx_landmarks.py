"""ONNX models that carry the answer: the coarse model with its decoding, and the patch refiner with its own.

``export_landmarks_onnx(bundle, weights, folder)`` writes two files that :mod:`monai_landmarks.onnx_runner` runs
with numpy and onnxruntime alone:

- ``coarse.onnx``: ``image (B, C, W, H)`` (resized to the bundle's input size, intensity-normalised) ->
  ``landmarks (B, K, 2)`` in input pixels and ``confidence (B, K)``: the bundle's network, its test-time flip when
  its inferer has one, and its codec (every level decoded with the bundle's decoder, levels fused);
- ``refiner.onnx``: ``patches (B, K, P, P)`` -> ``landmarks (B, K, 2)`` in patch pixels and ``confidence (B, K)``
  (the refiner and its ``"softmax"`` decoder), when the bundle has refiner weights.

Batch and spatial axes are dynamic (spatial sizes in multiples of 16; the refiner's patch size is its training
setting, so only its batch is).
Each model's ``metadata_props`` hold what a runner needs without the bundle: landmark names, strides, input size,
the preprocessing read from ``inference.json``, the patch settings, the bundle's version and the sha256 of the
weights; the values are JSON. The package layout holds: axis 2 of an image is x (the column), points are ``(x, y)``
with pixel centres at integers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..codecs.decoders import decode_softmax
from ..engines.batch import as_levels

__all__ = ["CoarseLandmarks", "RefinerLandmarks", "export_landmarks_onnx", "preprocessing_spec"]

OPSET = 17
COARSE_FILE, REFINER_FILE = "coarse.onnx", "refiner.onnx"
#: preprocessing steps the runner reproduces; any other step in ``inference.json`` stops the export
_READING_STEPS = ("LoadImaged", "CopyItemsd", "EnsureChannelFirstd", "EnsureTyped")


class CoarseLandmarks(nn.Module):
    """The bundle's coarse model with its decoding: image -> ``(landmarks (B, K, 2), confidence (B, K))``.

    Args:
        network: the heatmap network (a tensor or a tuple of levels, coarsest first).
        codec: the bundle's :class:`~monai_landmarks.codecs.MultiResolutionHeatmapCodec`.
        inferer: the bundle's inferer: a :class:`~monai_landmarks.engines.FlipTestInferer` (its flip is part of
            the graph) or None / MONAI's ``SimpleInferer`` (the network alone).
    """

    def __init__(self, network: nn.Module, codec, inferer=None) -> None:
        super().__init__()
        self.network, self.codec, self.inferer = network, codec, inferer

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.network(image) if self.inferer is None else self.inferer(image, self.network)
        return self.codec.decode(as_levels(out))


class RefinerLandmarks(nn.Module):
    """The patch refiner with its decoding: patches ``(B, K, P, P)`` -> landmarks in patch pixels, confidence."""

    def __init__(self, network: nn.Module, radius: int) -> None:
        super().__init__()
        self.network, self.radius = network, int(radius)

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_softmax(self.network(patches).float(), radius=self.radius)


def _coarse_inferer(inferer):
    from monai.inferers import SimpleInferer

    from ..engines.inferers import FlipTestInferer

    if inferer is None or type(inferer) is SimpleInferer:
        return None
    if isinstance(inferer, FlipTestInferer):
        return inferer
    raise ValueError(f"the ONNX landmark export knows SimpleInferer and FlipTestInferer, not {type(inferer).__name__}.")


def preprocessing_spec(preprocessing) -> dict:
    """What the bundle's ``preprocessing`` does to the network's input, as the runner reproduces it.

    Returns ``{"resize": {"size": [W, H], "mode": "bilinear", "align_corners": false}, "normalize": "zscore"}``.

    Raises:
        ValueError: for a step the runner does not reproduce (named), or a resize or normalisation with other
            options than the plain ones (anti-aliasing, another mode, nonzero or channel-wise statistics).
    """
    from monai.transforms import NormalizeIntensityd

    from ..transforms.spatial import LandmarkResized

    spec: dict = {}
    for t in getattr(preprocessing, "transforms", [preprocessing]):
        name = type(t).__name__
        if isinstance(t, LandmarkResized) and "image" in t.keys:
            r = t.resizer
            if r.anti_aliasing or str(t.mode) != "bilinear" or r.align_corners not in (None, False):
                asked = f"mode={t.mode}, anti_aliasing={r.anti_aliasing}, align_corners={r.align_corners}"
                raise ValueError(f"{name}: the ONNX runner resizes bilinearly without anti-aliasing, not {asked}.")
            spec["resize"] = {"size": [int(s) for s in t.spatial_size], "mode": "bilinear", "align_corners": False}
        elif isinstance(t, NormalizeIntensityd):
            n = t.normalizer
            if n.nonzero or n.channel_wise or n.subtrahend is not None or n.divisor is not None:
                raise ValueError(f"{name}: the ONNX runner normalises by the whole image's mean and std only.")
            spec["normalize"] = "zscore"
        elif name not in _READING_STEPS:
            raise ValueError(f"{name}: a preprocessing step the ONNX runner does not reproduce.")
    if set(spec) != {"resize", "normalize"}:
        raise ValueError(f"the ONNX runner needs a resize and a z-score normalisation, the config has {sorted(spec)}.")
    return spec


def _write(module: nn.Module, example: torch.Tensor, name: str, axes: dict, meta: dict, path: Path) -> None:
    import onnx

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constants (strides, windows) and its deprecation
        torch.onnx.export(
            module.eval(),
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[name],
            output_names=["landmarks", "confidence"],
            dynamic_axes={name: axes, "landmarks": {0: "batch"}, "confidence": {0: "batch"}},
        )
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {k: json.dumps(v) for k, v in meta.items()})
    onnx.save(model, str(path))


def _coarse_meta(weights: Path, spec: dict, codec, inferer) -> dict:
    from .large_files import verify_weights_file

    return {
        "weights_sha256": verify_weights_file(weights)["sha256"],
        "weights_file": weights.name,
        "input_size": spec["resize"]["size"],
        "size_rule": "any size that is a multiple of 16 (the traced network; HTC needs it anyway)",
        "strides": [int(s) for s, _ in codec.levels],
        "decoder": codec.codecs[0].decoder.value,
        "level_fusion": codec.fuse.value,
        "flip_test": inferer is not None,
        "preprocessing": spec,
        "outputs": "landmarks (B, K, 2) in input pixels, confidence (B, K)",
    }


def _refiner_meta(refinement, default_spacing_mm) -> dict:
    used = refinement.weights or {}
    return {
        "weights_sha256": used.get("sha256"),
        "weights_file": Path(used.get("path", "refiner.pt")).name,
        "patch_size": refinement.patch_size,
        "patch_spacing_mm": refinement.patch_spacing_mm,
        "radius": refinement.radius,
        "iterations": refinement.iterations,
        "shifts_mm": refinement.shifts_mm[1:].tolist(),  # the first, (0, 0), is the plain look
        "default_spacing_mm": default_spacing_mm,
        "outputs": "landmarks (B, K, 2) in patch pixels, confidence (B, K)",
    }


def export_landmarks_onnx(bundle, weights, folder, overrides: dict | None = None) -> list[Path]:
    """Write ``coarse.onnx`` and (with refiner weights) ``refiner.onnx`` of ``bundle`` into ``folder``.

    Args:
        bundle: the bundle folder (``configs/inference.json``, ``configs/metadata.json``).
        weights: the coarse model's weights; the refiner is the config's ``refiner_path`` (``models/refiner.pt``).
        folder: the output folder; neither file may exist in it.
        overrides: config values set on top of ``inference.json``.

    Returns:
        the files written.

    Raises:
        FileNotFoundError, FileExistsError, ValueError: as :func:`~monai_landmarks.bundle.export.export_bundle`, and
            for a preprocessing step or inferer the runner does not reproduce.
    """
    from monai.bundle import ConfigParser

    from ..handlers.weights_loader import load_weights
    from .export import _domain, _onnx_overrides, check_export_files

    bundle, weights, folder = Path(bundle), Path(weights), Path(folder)
    targets = [folder / COARSE_FILE, folder / REFINER_FILE]
    config, meta_file = check_export_files(bundle, weights, targets)
    parser = ConfigParser()
    parser.read_config(str(config))
    parser.update({"bundle_root": str(bundle), **(overrides or {})})
    parser.update(_onnx_overrides(parser))  # plain NCHW: the NHWC stride views do not trace to ONNX
    if "network_def#single_output" in parser:  # HTC: every level, decoded as predict decodes them
        parser["network_def#single_output"] = False
    network = parser.get_parsed_content("network_def")
    domain = _domain(parser)
    load_weights(weights, network)  # checked as predict checks them
    if hasattr(network, "for_domain"):  # GU2Net: its domain's own module (domain 0 unless the config says)
        network = network.for_domain(domain or 0)
    network.eval()
    spec = preprocessing_spec(parser.get_parsed_content("preprocessing"))
    codec = parser.get_parsed_content("codec")
    inferer = _coarse_inferer(parser.get_parsed_content("inferer"))
    refinement = parser.get_parsed_content("refinement") if "refinement" in parser.get() else None
    common = {
        "bundle": bundle.resolve().name,
        "bundle_version": json.loads(meta_file.read_text()).get("version"),
        "landmark_names": parser.get_parsed_content("landmark_names"),
        "layout": "image (B, C, W, H), axis 2 = x; points (x, y), pixel centres at integers",
    }
    size = spec["resize"]["size"]
    jobs = [  # (module, example input, input name, its dynamic axes, metadata)
        (CoarseLandmarks(network, codec, inferer), torch.zeros(1, int(getattr(network, "in_channels", 1)), *size),
         "image", {0: "batch", 2: "width", 3: "height"}, {**common, **_coarse_meta(weights, spec, codec, inferer)}),
    ]  # fmt: skip
    if refinement is not None:
        default_spacing = parser.get_parsed_content("refine_default_spacing_mm")
        patches = torch.zeros(1, len(common["landmark_names"]), refinement.patch_size, refinement.patch_size)
        jobs.append((RefinerLandmarks(refinement.network, refinement.radius), patches, "patches", {0: "batch"},
                     {**common, **_refiner_meta(refinement, default_spacing)}))  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for job, target in zip(jobs, targets, strict=False):
            _write(*job, target)
    except BaseException:
        for path in targets:  # both were checked absent above: whatever is there, this run wrote
            path.unlink(missing_ok=True)
        raise
    return targets[: len(jobs)]
