"""Landmarks from Python: a bundle's inference as ``monai-landmarks predict`` runs it, returned instead of written.

    import monai_landmarks

    predictor = monai_landmarks.LandmarkPredictor("bundles/gu2net_ceph")
    result = predictor("head.png", spacing=0.1)
    print(result.landmarks_mm, result.confidence, result.cascade, result.measurements["ANB"])

The bundle's ``configs/inference.json`` defines everything that runs (pre-processing, network, decoding, the
cascade's refiner, the clinical analysis), parsed once by MONAI's ``ConfigWorkflow``; each call feeds it new
images. Nothing is written unless :meth:`LandmarkPredictor.predict` is given ``out``: then the bundle's
:class:`~monai_landmarks.handlers.LandmarkPredictionWriter` writes what ``predict`` writes (the CLI is this call).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["LandmarkPredictor", "LandmarkResult", "Predictions"]

_WRITER = "prediction_writer"  # where the bundle's writer handler is kept, out of the evaluator's handlers


@dataclass(frozen=True)
class LandmarkResult:
    """One image's prediction: :attr:`record` is the JSON ``predict`` writes for it; the rest are views of it.

    Attributes:
        record: the prediction record (:func:`~monai_landmarks.handlers.prediction_record`).
    """

    record: dict

    @property
    def image(self) -> str:
        """The image file (``<array N>`` for an array, the loaded file's name for a MetaTensor)."""
        return self.record["image"]

    @property
    def names(self) -> list[str]:
        """Landmark names, in the network's order."""
        return [lm["name"] for lm in self.record["landmarks"]]

    @property
    def landmarks(self) -> np.ndarray:
        """``(K, 2)`` x, y in pixels of the original image (0-based pixel centres, x = column)."""
        return np.array([[lm["x"], lm["y"]] for lm in self.record["landmarks"]], dtype=np.float64).reshape(-1, 2)

    @property
    def landmarks_mm(self) -> np.ndarray | None:
        """``(K, 2)`` in millimetres, or None when the spacing is unknown (or only assumed)."""
        if self.record["landmarks"] and "x_mm" not in self.record["landmarks"][0]:
            return None
        return np.array([[lm["x_mm"], lm["y_mm"]] for lm in self.record["landmarks"]], dtype=np.float64)

    @property
    def confidence(self) -> np.ndarray:
        """``(K,)`` decoder confidence (0 for a landmark off the image)."""
        return np.array([lm.get("confidence", math.nan) for lm in self.record["landmarks"]], dtype=np.float64)

    @property
    def outside_image(self) -> np.ndarray:
        """``(K,)`` True for a landmark the network put off the image."""
        return np.array([bool(lm.get("outside_image")) for lm in self.record["landmarks"]])

    @property
    def cascade(self) -> dict:
        """What ran: ``cascade`` (``"on"``: coarse model and patch refiner, ``"off"``: coarse only), ``weights`` (each
        file's path and sha256), ``spacing_mm`` and ``spacing_source``."""
        return {k: self.record.get(k) for k in ("cascade", "weights", "spacing_mm", "spacing_source")}

    @property
    def measurements(self) -> dict[str, dict]:
        """``{name: measurement}`` (value, unit, class, landmarks used, reason when None); ``{}`` when the bundle
        declares no clinical analysis."""
        return {m["name"]: m for m in self.record.get("measurements") or []}


@dataclass
class Predictions:
    """The results of a batch, in input order, and the images that gave none.

    Attributes:
        results: one :class:`LandmarkResult` per image predicted.
        failures: ``{"image", "reason"}`` per image that could not be predicted (the others went on).
        writer: the writer that wrote the run's files, when :meth:`LandmarkPredictor.predict` was given ``out``.
    """

    results: list[LandmarkResult]
    failures: list[dict] = field(default_factory=list)
    writer: object | None = None

    def __iter__(self) -> Iterator[LandmarkResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> LandmarkResult:
        return self.results[index]


class LandmarkPredictor:
    """A trained bundle, ready to predict landmarks of images.

    Args:
        bundle: a bundle folder (``configs/inference.json``, ``models/model.pt``), or a training run folder.
        weights: the weights file (default: ``<bundle>/models/model.pt``).
        device: a torch device (default: the bundle's, ``cuda:0`` when available).
        domain: for a universal bundle, the domain to serve: an index or a dataset name it knows
            (``"aasce_spine"``, or its short name ``"spine"``).
        refine: False for coarse landmarks only (no patch refiner, even where the bundle ships one).
        settings: values set on top of ``inference.json`` (the CLI's ``--set``).
        progress: show a progress bar while predicting.

    Raises:
        FileNotFoundError: not a bundle folder, or no weights.
        ValueError: weights that do not fit the network, an unknown domain, settings that contradict each other.
    """

    def __init__(
        self,
        bundle,
        weights=None,
        device=None,
        domain=None,
        refine: bool = True,
        settings: Mapping | None = None,
        progress: bool = False,
    ) -> None:
        from monai.bundle import ConfigWorkflow

        from monai_landmarks.bundle.large_files import verify_weights_file
        from monai_landmarks.handlers.weights_loader import check_weights

        self.bundle = Path(bundle)
        config = self.bundle / "configs" / "inference.json"
        if not config.is_file():
            raise FileNotFoundError(f"{self.bundle}: not a bundle folder (no configs/inference.json).")
        self.weights_path = Path(weights) if weights else self.bundle / "models" / "model.pt"
        if not self.weights_path.is_file():
            raise FileNotFoundError(
                f"{self.weights_path}: no trained weights; train the bundle first or pass weights (--weights)."
            )
        overrides = {
            "bundle_root": str(self.bundle),
            "ckpt_path": str(self.weights_path),
            "progress": progress,
            "input_files": ["<set by each call>"],  # each call sets the dataset's data; not the bundle's samples
        }
        if device:
            overrides["device"] = f"$torch.device('{device}')"
        overrides.update(settings or {})
        if not refine:
            overrides["refiner_path"] = None
        self.workflow = ConfigWorkflow(config_file=str(config), workflow_type="infer", **overrides)
        parser = self.workflow.parser
        if domain is not None:
            parser["domain"] = self._domain_index(domain, settings or {})
        self._keep_writer_apart(parser, config)
        self.workflow.initialize()
        handlers = parser.get_parsed_content("handlers")
        check_weights(self.weights_path, _model_network(parser, handlers))
        self.model_weights = verify_weights_file(self.weights_path)  # hashed once, in check_weights
        self.evaluator = parser.get_parsed_content("evaluator")
        self.postprocessing = parser.get_parsed_content("postprocessing")  # the evaluator's own (parsed once)
        self.dataset = self.evaluator.data_loader.dataset
        self.preprocessing = self.dataset.transform
        self._template = parser.get_parsed_content(_WRITER)  # builds records; never started, so writes nothing
        self.landmark_names = self._template.landmark_names
        self.analysis = self._template.analysis
        self._default_spacing = self._template.spacing

    def _domain_index(self, domain, settings: Mapping) -> int:
        from monai_landmarks.data.multidomain import domain_index

        config = self.workflow.parser.get()
        if "domain" not in config:
            raise ValueError(f"{self.bundle}: not a universal bundle (its inference.json has no 'domain'); drop the "
                             "domain.")  # fmt: skip
        if "domain" in settings:
            raise ValueError("a domain and a 'domain' setting contradict each other; give one.")
        counts = config.get("num_landmarks")
        count = len(counts) if isinstance(counts, list) else 1
        return domain_index(domain, config.get("domain_names"), count, f"{self.bundle} domain")

    @staticmethod
    def _keep_writer_apart(parser, config: Path) -> None:
        """Move the bundle's prediction writer out of the evaluator's handlers (under :data:`_WRITER`), so a call
        writes only when asked; a writing call attaches a writer built from the same entry."""
        entries = parser.get("handlers") or []
        writers = [h for h in entries if "LandmarkPredictionWriter" in str(dict(h).get("_target_", ""))]
        if len(writers) != 1:
            raise ValueError(
                f"{config}: expected one LandmarkPredictionWriter among the handlers, found {len(writers)}."
            )
        parser["handlers"] = [h for h in entries if h is not writers[0]]
        parser[_WRITER] = dict(writers[0])

    def __call__(self, image, spacing=None) -> LandmarkResult:
        """Predict one image: a file path, a 2D array (rows x columns, as PIL, imageio or OpenCV read a grayscale
        image) or a MONAI ``MetaTensor`` ``(1, W, H)`` as ``LoadImage(ensure_channel_first=True)`` gives.

        Args:
            spacing: mm per pixel (one number or ``(x, y)``), before the image header's; None: the header's (DICOM,
                MetaImage, NIfTI, NRRD), else pixels only.

        Raises:
            ValueError: the image cannot be read or predicted (the message names it and says why).
        """
        batch = self.predict([image], spacing)
        if batch.failures:
            failure = batch.failures[0]
            raise ValueError(f"{failure['image']}: {failure['reason']}")
        return batch.results[0]

    def predict(
        self, images: Sequence, spacing=None, out=None, draw_measurements: bool = False, writer=None
    ) -> Predictions:
        """Predict many images (as :meth:`__call__` takes them); an image that fails is listed in ``failures`` and
        the others go on.

        Args:
            spacing: as for :meth:`__call__`, for every image.
            out: a folder to write ``predict``'s files into (JSON and overlay per image, ``predictions.csv``,
                ``measurements.csv``, the summary; see :class:`~monai_landmarks.handlers.LandmarkPredictionWriter`);
                None writes nothing.
            draw_measurements: with ``out``, draw each measurement's lines on the overlays.
            writer: instead of ``out``, a writer from :meth:`writer` (for a caller that reports on it, as the CLI).
        """
        if isinstance(images, (str, Path, np.ndarray, torch.Tensor)):
            raise ValueError("predict: give a list of images (for one image call the predictor itself).")
        items = [_item(image, i) for i, image in enumerate(images)]
        if not items:
            raise ValueError("predict: no input images.")
        spacing = self._default_spacing if spacing is None else _checked_spacing(spacing)
        if out is not None:
            if writer is not None:
                raise ValueError("predict: give out or writer, not both.")
            writer = self.writer(out, draw_measurements)
        return self._run(items, spacing, writer)

    def writer(self, out, draw_measurements: bool = False):
        """A :class:`~monai_landmarks.handlers.LandmarkPredictionWriter` into ``out``, as the bundle configures it."""
        parser = self.workflow.parser
        parser[f"{_WRITER}#output_dir"] = str(out)
        parser[f"{_WRITER}#draw_measurements"] = bool(draw_measurements)
        writer = parser.get_parsed_content(_WRITER, lazy=False)
        writer.model_weights = self.model_weights  # configs of older run folders load weights unrecorded
        return writer

    def _run(self, items: list[dict], spacing, writer) -> Predictions:
        from ignite.engine import Events

        from monai_landmarks.handlers.engine_output import engine_samples

        records: list[dict] = []

        def collect(engine) -> None:
            weights = getattr(engine.state, "weights", None) or {}
            self._template.model_weights = weights.get("model") or self.model_weights
            records.extend(self._template.record(sample) for sample in engine_samples(engine))

        self._set_spacing(spacing, writer)
        self.dataset.data, self.dataset.transform = items, _Preprocess(self.preprocessing)
        self.evaluator.state.epoch_length = None  # an iterable dataset: its length is unknown until it runs out
        self.evaluator.add_event_handler(Events.ITERATION_COMPLETED, collect)
        if writer is not None:
            writer.attach(self.evaluator)
        try:
            self.evaluator.run()  # not workflow.run(): that wraps every error in "Failed to evaluate ConfigExpression"
        finally:
            self.evaluator.remove_event_handler(collect, Events.ITERATION_COMPLETED)
            if writer is not None:
                for event, handler in ((Events.STARTED, writer.start), (Events.ITERATION_COMPLETED, writer),
                                       (Events.COMPLETED, writer.finish)):  # fmt: skip
                    self.evaluator.remove_event_handler(handler, event)
            self._set_spacing(self._default_spacing, None)
        failures = list(self.dataset.failures)
        answered = {_same(r["image"]) for r in records} | {_same(f["image"]) for f in failures}
        failures += [{"image": i["image"], "reason": "no prediction (its error is in the log)"} for i in items
                     if _same(i["image"]) not in answered]  # fmt: skip
        return Predictions([LandmarkResult(r) for r in records], failures, writer)

    def _set_spacing(self, spacing, writer) -> None:
        """The spacing of this call, for the cascade's refiner (patch pixel size) and the records."""
        from monai_landmarks.engines import RefineLandmarksd

        for transform in _transforms(self.postprocessing):
            if isinstance(transform, RefineLandmarksd):
                transform.spacing = spacing
        for target in (self._template, writer):
            if target is not None:
                target.spacing = spacing

    def close(self) -> None:
        """Run the config's ``finalize`` steps."""
        self.workflow.finalize()


def _model_network(parser, handlers):
    """The network the config loads ``ckpt_path`` into (the bundles' WeightsLoader names it; else ``network``)."""
    from monai_landmarks.handlers.weights_loader import WeightsLoader

    loaders = [h for h in handlers if isinstance(h, WeightsLoader)]
    return loaders[0].network if loaders else parser.get_parsed_content("network")


def _same(image) -> str:
    return str(Path(image).expanduser())


def _transforms(transform) -> Iterator:
    """``transform`` and, for a ``Compose``, every transform in it."""
    yield transform
    for inner in getattr(transform, "transforms", None) or ():
        yield from _transforms(inner)


def _checked_spacing(spacing) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in np.asarray(spacing, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        values = ()
    if len(values) not in (1, 2) or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must be one or two positive numbers (mm per pixel), got {spacing!r}.")
    return values[0] if len(values) == 1 else values


def _item(image, index: int) -> dict:
    """The datalist item of one input: ``{"image": file}``, or an array kept beside a name for messages."""
    if isinstance(image, (str, Path)):
        return {"image": str(image)}
    tensor = _as_metatensor(image, f"<array {index}>")
    return {"image": str(tensor.meta["filename_or_obj"]), "image_id": f"array_{index}", _ARRAY: tensor}


_ARRAY = "image_array"


def _as_metatensor(image, name: str):
    """A 2D array (rows x columns) or a ``(1, W, H)`` MetaTensor as the loader's output: ``(1, W, H)`` float32 with
    the meta the bundles read (file name, spatial shape)."""
    from monai.data import MetaTensor

    if isinstance(image, MetaTensor):
        if image.ndim != 3 or image.shape[0] != 1:
            raise ValueError(f"{name}: a MetaTensor must be (1, W, H), as LoadImage(ensure_channel_first=True) "
                             f"gives; got shape {tuple(image.shape)}.")  # fmt: skip
        tensor = image.clone().float()
        tensor.meta.setdefault("filename_or_obj", name)
        tensor.meta.setdefault("spatial_shape", np.asarray(image.shape[1:]))
        return tensor
    try:
        array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: not an image file path or an array ({type(image).__name__}).") from e
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name}: expected a 2D grayscale array (rows x columns), got shape {array.shape}; "
                         "convert a colour image to grayscale first.")  # fmt: skip
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: the array has NaN or infinite pixels.")
    width, height = array.shape[1], array.shape[0]
    meta = {"filename_or_obj": name, "spatial_shape": np.array([width, height]), "original_channel_dim": math.nan}
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(array.T))[None], meta=meta)


class _Preprocess:
    """The bundle's pre-processing; an array input skips its first step (the file loader) and starts as its output."""

    def __init__(self, preprocessing) -> None:
        self.preprocessing = preprocessing

    def __call__(self, item: dict) -> dict:
        from monai.transforms import Compose, LoadImaged, apply_transform

        if _ARRAY not in item:
            return apply_transform(self.preprocessing, item)
        steps = list(getattr(self.preprocessing, "transforms", None) or [])
        if not steps or not isinstance(steps[0], LoadImaged):
            raise ValueError("this bundle's pre-processing does not start with LoadImaged; give image files.")
        data = {k: v for k, v in item.items() if k != _ARRAY}
        data["image"] = item[_ARRAY]
        return apply_transform(Compose(steps[1:]), data)
