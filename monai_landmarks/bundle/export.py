"""Export a trained bundle's network through MONAI's bundle exporters, with the checks a user needs.

TorchScript goes through ``monai.bundle.ckpt_export`` in its default (scripting) mode, so the file embeds the
bundle's ``inference.json`` and ``metadata.json``; ONNX goes through ``monai.bundle.onnx_export`` with an input
of the bundle's ``image_size`` and is checked against the eager network with onnxruntime when it is installed.

The weights are checked first, as ``predict`` checks them (they fit the network, no NaN or infinite values, size and
sha256 as the bundle's ``large_files.yml`` lists them): MONAI's exporters would write a file from any of these.
A network of several domains (GU2Net's universal model) is exported as its ``domain`` (``--set domain=1``) alone:
scripting or tracing the whole network gives domain 0 whatever the config says.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from pydoc import locate

import torch

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


def _domain(parser) -> int | None:
    """The config's ``domain`` for a network of several domains (one with ``for_domain``), else None."""
    network = locate(str(parser.get("network_def#_target_")))
    if network is None or not hasattr(network, "for_domain") or "domain" not in parser.get():
        return None
    domain = parser.get_parsed_content("domain")
    if isinstance(domain, bool) or not isinstance(domain, int):
        raise ValueError(f"domain must be a domain index (an integer), got {domain!r}.")
    return domain


def check_export_files(bundle: Path, weights: Path, outputs) -> tuple[Path, Path]:
    """The bundle's ``inference.json`` and ``metadata.json``, checked with the weights before anything is written.

    Raises:
        FileNotFoundError: a config or the weights are missing.
        FileExistsError: an output exists (an export never replaces a file).
    """
    config, meta = bundle / "configs" / "inference.json", bundle / "configs" / "metadata.json"
    for path, what in (
        (config, "the bundle's inference config"),
        (meta, "the bundle's metadata"),
        (weights, "weights"),
    ):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found ({what}); train the bundle first or pass the file.")
    for out in outputs:
        if Path(out).exists():
            raise FileExistsError(f"{out}: exists; an export does not replace files, choose another --out.")
    return config, meta


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
        ValueError: for an unknown format, weights that do not fit the network, hold NaN or do not match
            ``large_files.yml``, or a domain the network does not have.
    """
    from monai.bundle import ckpt_export, onnx_export

    from monai_landmarks.handlers.weights_loader import load_weights

    bundle, weights, out = Path(bundle), Path(weights), Path(out)
    config, meta = check_export_files(bundle, weights, [out])
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
    overrides = dict(overrides or {})
    parser = _parser(config, overrides)
    network = parser.get_parsed_content("network_def")
    domain = _domain(parser)
    load_weights(weights, network)  # checked as predict checks them: fit, finite, large_files.yml
    with tempfile.TemporaryDirectory() as tmp:
        common = {"net_id": "network_def", "filepath": str(out), "ckpt_file": str(weights), "meta_file": str(meta),
                  "config_file": str(config), **overrides}  # fmt: skip
        if domain is not None:  # the domain's own module, with its weights (its parameter names differ)
            view = Path(tmp) / "domain.pt"
            torch.save(network.for_domain(domain).state_dict(), view)
            common.update(
                net_id="export_network", ckpt_file=str(view), export_network="$@network_def.for_domain(@domain)"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        if format == "torchscript":
            ckpt_export(**common)
        else:
            # torch's tracing ONNX exporter (dynamo=False; MONAI passes converter_kwargs to torch.onnx.export only
            # with use_trace): the dynamo exporter, torch's default since 2.9, needs the onnxscript package
            common.update(_onnx_overrides(parser))
            onnx_export(**common, input_shape=_input_shape(parser), use_trace=True, converter_kwargs={"dynamo": False})
    return out
