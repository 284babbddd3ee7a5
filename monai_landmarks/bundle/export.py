"""Export a trained bundle's network through MONAI's bundle exporters, with the checks a user needs.

TorchScript goes through ``monai.bundle.ckpt_export`` in its default (scripting) mode, so the file embeds the
bundle's ``inference.json`` and ``metadata.json``; ONNX goes through ``monai.bundle.onnx_export`` with an input
of the bundle's ``image_size`` and is checked against the eager network with onnxruntime when it is installed.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from pydoc import locate

__all__ = ["export_bundle"]

FORMATS = ("torchscript", "onnx")


def _parser(config: Path, overrides: dict):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(config))
    parser.update(overrides)
    return parser


def _input_shape(parser) -> list[int]:
    size = parser.get_parsed_content("image_size")
    return [1, 1, int(size[0]), int(size[1])]


def _onnx_overrides(parser) -> dict:
    """ONNX has no memory layout: a network with a ``layout`` option exports in plain NCHW (its NHWC stride
    views, a CPU speed-up, do not trace to ONNX); the values are the same."""
    network = locate(str(parser.get("network_def#_target_")))
    if network is not None and "layout" in inspect.signature(network).parameters:
        return {"network_def#layout": "channels_first"}
    return {}


def export_bundle(bundle, weights, out, format: str = "torchscript", overrides: dict | None = None) -> Path:
    """Export ``bundle``'s ``network_def`` with ``weights`` to ``out``.

    Args:
        bundle: the bundle folder (``configs/inference.json``, ``configs/metadata.json``).
        weights: the weights file (a state dict).
        out: the file to write; it must not exist.
        format: ``"torchscript"`` or ``"onnx"``.
        overrides: config values set on top of ``inference.json``.

    Raises:
        FileNotFoundError: if the bundle's configs or the weights are missing.
        FileExistsError: if ``out`` exists (an export never replaces a file).
        ValueError: for an unknown format.
    """
    from monai.bundle import ckpt_export, onnx_export

    bundle, weights, out = Path(bundle), Path(weights), Path(out)
    config, meta = bundle / "configs" / "inference.json", bundle / "configs" / "metadata.json"
    for path, what in (
        (config, "the bundle's inference config"),
        (meta, "the bundle's metadata"),
        (weights, "weights"),
    ):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found ({what}); train the bundle first or pass the file.")
    if out.exists():
        raise FileExistsError(f"{out}: exists; an export does not replace files, choose another --out.")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
    overrides = dict(overrides or {})
    out.parent.mkdir(parents=True, exist_ok=True)
    common = {"net_id": "network_def", "filepath": str(out), "ckpt_file": str(weights), "meta_file": str(meta),
              "config_file": str(config), **overrides}  # fmt: skip
    if format == "torchscript":
        ckpt_export(**common)
    else:
        # torch's tracing ONNX exporter (dynamo=False; MONAI passes converter_kwargs to torch.onnx.export only with
        # use_trace): the dynamo exporter, torch's default since 2.9, needs the onnxscript package besides onnx
        parser = _parser(config, overrides)
        common.update(_onnx_overrides(parser))
        onnx_export(**common, input_shape=_input_shape(parser), use_trace=True, converter_kwargs={"dynamo": False})
    return out
