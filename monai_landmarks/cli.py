"""The ``monai-landmarks`` command: what users do most, without writing configs.

    monai-landmarks synth     write a synthetic phantom dataset (and overlay pictures of it)
    monai-landmarks convert   turn a public dataset layout into the dataset format
    monai-landmarks train     train a bundle folder (on --dataset_dir, or on phantoms with --synthetic)
    monai-landmarks evaluate  evaluate a trained bundle on its test split
    monai-landmarks export    export a trained bundle's network (TorchScript, ONNX, or the ONNX cascade)
    monai-landmarks predict   run a bundle on image files: landmarks as JSON, plus overlay pictures
    monai-landmarks shape-prior  fit a landmark shape model on a dataset's training images (a bundle's prior)
    monai-landmarks --version

Exit codes: 0 success, 1 bad input or a failed run (the message names the file and the problem),
2 wrong command-line usage, 130 / 143 stopped by Ctrl-C / SIGTERM (predict says what finished).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# MONAI re-raises errors from transforms and config expressions inside RuntimeErrors that name neither the
# file nor the problem; the message shown is the wrapped error's.
_MONAI_WRAPPERS = ("applying transform", "Failed to evaluate ConfigExpression", "Failed to instantiate component")


def _synth(args: argparse.Namespace) -> int:
    from monai_landmarks.data import generate_phantom_dataset, load_datalist
    from monai_landmarks.data.image_reader import read_image
    from monai_landmarks.utils.overlay import save_overlay

    root = generate_phantom_dataset(
        args.out, args.kind, args.num_train, args.num_val, args.num_test, args.size, args.seed, args.overwrite,
        progress=not args.quiet,
    )  # fmt: skip
    for item in load_datalist(root)[: args.overlays]:
        save_overlay(root / "overlays" / f"{item['image_id']}.png", read_image(item["image"])[0], item["landmarks"])
    print(f"wrote {args.kind} phantoms to {root}" + (f" (overlays in {root / 'overlays'})" if args.overlays else ""))
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    from monai_landmarks.data.converters import CONVERTERS

    values = {**vars(args), "progress": not args.quiet, "warn": _warn("convert")}
    out = CONVERTERS[args.format].convert(args.source, args.out, values)
    print(f"wrote {out}")
    return EXIT_OK


def _warn(command: str):
    return lambda message: print(f"monai-landmarks {command}: warning: {message}", file=sys.stderr)


def _settings(pairs: Sequence[str]) -> dict:
    """``KEY=VALUE`` config overrides; values are read as JSON where they parse, else kept as text."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE, for example --set width_multiplier=0.25.")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _predict(args: argparse.Namespace) -> int:
    from monai_landmarks.data.datalists import image_files
    from monai_landmarks.predictor import LandmarkPredictor
    from monai_landmarks.utils.paths import check_output_folder

    predictor = LandmarkPredictor(
        args.bundle, args.weights, args.device, args.domain, settings=_refiner_settings(args), progress=not args.quiet
    )
    input_files = image_files(args.images, _warn("predict"))
    check_output_folder(args.out, args.images)
    writer = predictor.writer(args.out, args.draw_measurements)
    try:
        predictor.predict(input_files, args.spacing, writer=writer)
    except BaseException as e:
        _stop_writer(writer, len(input_files), interrupted=isinstance(e, KeyboardInterrupt))
        raise
    predictor.close()
    total = len(input_files)
    if writer.failures:
        print(f"monai-landmarks predict: error: {_failed_images(writer.failures, total, args.out)}", file=sys.stderr)
        return EXIT_FAILED
    ran = f" ({writer.describe()})" if writer.outputs else ""
    print(f"wrote predictions for {total} image(s) to {args.out}{ran}")
    return EXIT_OK


def _failed_images(failed: Sequence[dict], total: int, out) -> str:
    """One line: how many images failed and why (the first few), and where the rest went."""
    from monai_landmarks.handlers.prediction_writer import SUMMARY_FILE
    from monai_landmarks.utils.paths import display

    reasons = "; ".join(f"{display(f['image'])}: {f['reason']}" for f in failed[:5])
    more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
    if len(failed) == total:
        return f"{len(failed)} of {total} image(s) failed, nothing was written: {reasons}{more}"
    return (
        f"{len(failed)} of {total} image(s) failed: {reasons}{more}. The other {total - len(failed)} were predicted "
        f"into {display(out)}; {SUMMARY_FILE} lists the failed ones."
    )


def _refiner_settings(args: argparse.Namespace) -> dict:
    """The ``--set`` values, with ``--no-refine`` as ``refiner_path`` null; a refiner file the user names must exist
    (a typo would otherwise turn the cascade off)."""
    settings = _settings(args.set)
    if getattr(args, "no_refine", False):
        if settings.get("refiner_path"):
            raise ValueError("--no-refine and --set refiner_path=... contradict each other; give one.")
        settings["refiner_path"] = None
    named = settings.get("refiner_path")
    if named is not None and not str(named).startswith(("$", "@")):
        if not isinstance(named, str) or not named:
            raise ValueError(f"--set refiner_path={named!r}: expected a file path, or null for coarse landmarks only.")
        if not Path(named).is_file():
            raise FileNotFoundError(f"{named}: refiner weights not found (--set refiner_path); use --no-refine for "
                                    "coarse landmarks only.")  # fmt: skip
    return settings


def _configs(bundle: Path, synthetic: bool, *extra: str) -> list[str]:
    """The config files of a bundle run: ``train.json``, the synthetic profile when asked, then ``extra``."""
    configs = bundle / "configs"
    if not (configs / "train.json").is_file():
        raise FileNotFoundError(f"{bundle}: not a bundle folder (no configs/train.json).")
    names = ["train.json", *(["synthetic.json"] if synthetic else []), *extra]
    for name in names:
        if not (configs / name).is_file():
            raise FileNotFoundError(f"{configs / name}: not found; this bundle has no {name}.")
    return [str(configs / name) for name in names]


def _bundle_root(args: argparse.Namespace, bundle: Path) -> Path:
    """Where a run writes: ``--bundle_root``; a training run folder itself; else ``runs/<bundle name>``."""
    from monai_landmarks.bundle.run_bundle import MANIFEST

    if args.bundle_root:
        return Path(args.bundle_root)
    if (bundle / "configs" / MANIFEST).is_file():
        return bundle
    return Path("runs") / bundle.resolve().name


def _run_overrides(args: argparse.Namespace, root: Path) -> dict:
    overrides: dict = {"bundle_root": str(root)}
    if args.dataset_dir:
        overrides["dataset_dir"] = args.dataset_dir
    if args.device:
        overrides["device"] = f"$torch.device('{args.device}')"
    overrides.update(_settings(args.set))
    return overrides


def _train(args: argparse.Namespace) -> int:
    from monai.bundle.scripts import run

    bundle = Path(args.bundle)
    configs = _configs(bundle, args.synthetic, *(["refine.json"] if args.refiner else []))
    root = _bundle_root(args, bundle)
    run("training", config_file=configs, **_run_overrides(args, root))
    if args.refiner:
        print(f"trained the patch refiner into {root} (weights in {root / 'models' / 'refiner.pt'})")
    else:
        print(f"trained into {root} (weights in {root / 'models'}, configs in {root / 'configs'})")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from monai.bundle.scripts import run

    from monai_landmarks.bundle.large_files import verify_weights_file

    bundle = Path(args.bundle)
    configs = _configs(bundle, args.synthetic, "evaluate.json")
    root = _bundle_root(args, bundle)
    overrides = _run_overrides(args, root)
    overrides.update(_refiner_settings(args))
    # the weights of the folder given: --bundle_root's when named, else the bundle's own (a shipped bundle's, a run
    # folder's), and only for a bundle without weights those of its default run folder (runs/<name>)
    home = root if args.bundle_root or not (bundle / "models" / "model.pt").is_file() else bundle
    overrides.setdefault("ckpt_path", str(args.weights or home / "models" / "model.pt"))
    overrides.setdefault("refiner_path", str(home / "models" / "refiner.pt"))
    overrides.setdefault("shape_prior_path", str(home / "models" / "shape_prior.pt"))  # for bundles with a prior
    weights = verify_weights_file(overrides["ckpt_path"])
    run("evaluating", config_file=configs, **overrides)
    refiner = overrides["refiner_path"]
    cascade = f"cascade on, refiner {refiner} (sha256 {verify_weights_file(refiner)['sha256']})" if refiner and \
        Path(refiner).is_file() else "cascade off (coarse landmarks only)"  # fmt: skip
    print(f"evaluated {weights['path']} (sha256 {weights['sha256']}), {cascade}; report under {root / 'eval'}")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from monai_landmarks.bundle.export import export_bundle
    from monai_landmarks.bundle.large_files import verify_weights_file

    bundle = Path(args.bundle)
    weights = Path(args.weights) if args.weights else bundle / "models" / "model.pt"
    if args.format == "onnx_landmarks":
        return _export_landmarks(bundle, weights, args)
    suffix = ".onnx" if args.format == "onnx" else ".ts"
    out = Path(args.out) if args.out else weights.with_suffix(suffix)
    export_bundle(bundle, weights, out, args.format, _settings(args.set))
    used = verify_weights_file(weights)  # checked (and hashed) by export_bundle
    print(f"wrote {out} from {used['path']} (sha256 {used['sha256']})")
    return EXIT_OK


def _export_landmarks(bundle: Path, weights: Path, args: argparse.Namespace) -> int:
    from monai_landmarks.bundle.onnx_landmarks import export_landmarks_onnx

    out = Path(args.out) if args.out else weights.parent / "onnx"
    files = export_landmarks_onnx(bundle, weights, out, _settings(args.set))
    refiner = "" if len(files) > 1 else " (no refiner weights: coarse landmarks only)"
    print(f"wrote {', '.join(map(str, files))}{refiner}; run them: python -m monai_landmarks.onnx_runner {out}")
    return EXIT_OK


def _stop_writer(writer, total: int, interrupted: bool) -> None:
    """After a failed or interrupted run: list what finished (a summary marked incomplete) and unlock."""
    if not writer.lock.held:
        return
    summary = writer.finish(complete=False)
    if interrupted:
        done = f"the finished ones are listed in {summary}" if summary else "nothing was written"
        print(f"monai-landmarks predict: interrupted after {len(writer.outputs)} of {total} image(s); {done}.",
              file=sys.stderr)  # fmt: skip


def _shape_prior(args: argparse.Namespace) -> int:
    import numpy as np

    from monai_landmarks.data.datalists import training_datalists
    from monai_landmarks.transforms.shape_prior import ShapeModel
    from monai_landmarks.utils.keys import Keys

    if not args.clamp > 0:
        raise ValueError(f"--clamp must be a positive number of standard deviations, got {args.clamp}.")
    if Path(args.out).exists():  # checked before the dataset is read
        raise FileExistsError(f"{args.out}: exists; refused to replace it. Choose another path or move it away.")
    train, val = training_datalists(args.dataset_dir, num_val=args.num_val)
    shapes = [np.asarray(item[Keys.LANDMARKS], dtype=np.float64).reshape(-1, 2) for item in train]
    complete = sum(bool(np.isfinite(s).all()) for s in shapes)
    provenance = {"dataset": str(args.dataset_dir), "train_images": len(train), "complete_shapes": complete,
                  "held_out_for_validation": [str(item[Keys.IMAGE_ID]) for item in val]}  # fmt: skip
    model = ShapeModel.fit(shapes, args.modes, clamp=args.clamp, provenance=provenance)
    model.save(args.out)
    print(f"wrote {args.out}: {model.num_landmarks} landmarks, {args.modes} modes, fitted on {complete} complete "
          f"shapes of {len(train)} training images ({len(val)} held out for validation, not used)")  # fmt: skip
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    from monai_landmarks.data.converters import CONVERTERS
    from monai_landmarks.utils.spacing import spacing_flag

    parser = argparse.ArgumentParser(
        prog="monai-landmarks",
        description="Anatomical landmark detection in 2D X-rays with MONAI.",
        epilog="Exit codes: 0 success, 1 bad input or failed run, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic phantom dataset", description=_synth_help())
    s.add_argument("out", help="output dataset folder")
    s.add_argument("--kind", choices=("head", "hand", "spine", "chest"), default="head",  # synthetic.PHANTOM_KINDS
                   help="head: 19 landmarks, hand: 37, spine: 68 (JPEG, varied sizes), chest: 166")  # fmt: skip
    s.add_argument("--num-train", type=int, default=96)
    s.add_argument("--num-val", type=int, default=16)
    s.add_argument("--num-test", type=int, default=16)
    s.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), help="image size (default: head 192 240)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overlays", type=int, default=4, help="overlay pictures to draw (0 for none)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(run=_synth)

    c = sub.add_parser("convert", help="convert a public dataset layout", description=_convert_help())
    c.add_argument("format", choices=tuple(CONVERTERS))
    c.add_argument("source", help="; ".join(f"{name}: {conv.source}" for name, conv in CONVERTERS.items()))
    c.add_argument("out", help="output dataset folder")
    for option in (o for converter in CONVERTERS.values() for o in converter.options):
        c.add_argument(option.flag, help=option.help, **option.settings)
    c.add_argument("--downsample", type=int, default=1, help="integer box-mean downsampling factor")
    c.add_argument("--overwrite", action="store_true")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(run=_convert)

    for name, run, help_text in (("train", _train, "train a bundle"), ("evaluate", _evaluate, "evaluate a bundle")):
        t = sub.add_parser(name, help=help_text, description=_run_help(name))
        t.add_argument("bundle", help="bundle folder (bundles/<name>, or a training run folder)")
        data = t.add_mutually_exclusive_group()
        data.add_argument("--dataset_dir", help="a dataset folder (the real-data settings of train.json)")
        data.add_argument("--synthetic", action="store_true", help="synthetic phantoms (configs/synthetic.json)")
        t.add_argument("--bundle_root", help="run folder (default: the run folder given, else runs/<bundle name>)")
        t.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: cuda:0 if available)")
        t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
        if name == "train":
            t.add_argument("--refiner", action="store_true", help="train the cascade's patch refiner (configs/refine."
                           "json) into the run folder, beside its coarse model")  # fmt: skip
        if name == "evaluate":
            t.add_argument("--weights", help="weights file (default: the folder's models/model.pt)")
            t.add_argument("--no-refine", action="store_true", help="coarse landmarks only (no patch refiner)")
        t.set_defaults(run=run)

    x = sub.add_parser("export", help="export a bundle's network", description=_export_help())
    x.add_argument("bundle", help="bundle folder (configs/inference.json, models/model.pt)")
    x.add_argument("--format", choices=("torchscript", "onnx", "onnx_landmarks"), default="torchscript",
                   help="onnx: heatmaps (MONAI's onnx_export); onnx_landmarks: the cascade with its decoding "
                   "(coarse.onnx, refiner.onnx in the --out folder), run by monai_landmarks.onnx_runner")  # fmt: skip
    x.add_argument("--weights", help="weights file (default: <bundle>/models/model.pt)")
    x.add_argument("--out", help="output file (default: beside the weights, model.ts or model.onnx; onnx_landmarks: "
                   "a folder, default <weights folder>/onnx)")  # fmt: skip
    x.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    x.set_defaults(run=_export)

    p = sub.add_parser("predict", help="detect landmarks with a bundle", description=_predict_help())
    p.add_argument("bundle", help="bundle folder (with configs/inference.json and models/model.pt)")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", default="predictions", help="output folder (default: ./predictions)")
    p.add_argument("--weights", help="weights file (default: <bundle>/models/model.pt)")
    p.add_argument("--spacing", type=spacing_flag, help="mm per pixel of the images, for millimetre output")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: cuda:0 if available)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--no-refine", action="store_true", help="coarse landmarks only (no patch refiner)")
    p.add_argument("--domain", metavar="NAME_OR_INDEX",
                   help="universal bundle: the domain to serve, a dataset name it knows (or its index)")  # fmt: skip
    p.add_argument("--draw-measurements", action="store_true",
                   help="draw each clinical measurement's lines on the overlays (bundles with analyses)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_predict)

    m = sub.add_parser("shape-prior", help="fit a landmark shape model", description=_shape_prior_help())
    m.add_argument("dataset_dir", help="a dataset folder (its train split; the validation images are held out)")
    m.add_argument("out", help="the model file to write (e.g. <bundle>/models/shape_prior.pt); never replaced")
    m.add_argument("--num-val", type=int, default=20, help="last training images held out (the bundle's num_val)")
    m.add_argument("--modes", type=int, default=12, help="principal modes kept")
    m.add_argument("--clamp", type=float, default=3.0, help="mode limit in standard deviations (> 0)")
    m.set_defaults(run=_shape_prior)
    return parser


def _synth_help() -> str:
    return (
        "Draw head-like (19 landmarks), hand-like (37), AP spine (68) or PA chest (166) X-ray phantoms, "
        "deterministic by seed, and write them in "
        "the dataset format (dataset.json, landmarks.csv, images/) with train/val/test splits."
    )


def _convert_help() -> str:
    from monai_landmarks.data.converters import CONVERTERS

    *layouts, last = (c.layout for c in CONVERTERS.values())
    return (
        f"Convert an original public layout into the dataset format: {', '.join(layouts)}, or {last}. "
        "A failed conversion leaves nothing behind."
    )


def _shape_prior_help() -> str:
    return (
        "Fit a point distribution model (Procrustes-aligned mean shape and principal modes) to a dataset's training "
        "landmarks, leaving out the validation images a bundle holds out (--num-val), and write it for a bundle's "
        "ShapePriord step (monai_landmarks/transforms/shape_prior.py)."
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("monai-landmarks")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _run_help(name: str) -> str:
    what = {
        "train": "Train a bundle. A run folder gets the weights, reports and the configs it ran with, so it is a "
        "bundle of its own; running again resumes.",
        "evaluate": "Evaluate a trained bundle on its test split (per domain for the universal bundle). The weights "
        "are --weights, else those of --bundle_root when given, else the bundle folder's own models/model.pt (and "
        "refiner.pt), else its run folder's; the report goes under the run folder, and the command says which "
        "file ran (path and sha256) and whether the cascade did.",
    }[name]
    return what + " Without --dataset_dir or --synthetic the bundle's own settings decide (a run folder's configs)."


def _export_help() -> str:
    return (
        "Export a trained bundle's network with MONAI's ckpt_export (TorchScript, scripted, embedding the bundle's "
        "inference.json and metadata.json) or onnx_export (ONNX, checked against torch with onnxruntime)."
    )


def _predict_help() -> str:
    return (
        "Run a trained bundle on images. Writes <file name>.json per image (landmarks in original-image pixels, "
        "millimetres when the spacing is known, a confidence per landmark), an overlay <file name>.png with "
        "landmark numbers and a legend, predictions.csv, one row per image and landmark, for the whole run, and "
        "predict_summary.json last (what finished). For a bundle with a clinical analysis (cephalometry, Cobb "
        "angles) each JSON holds the measurements and measurements.csv a row per image and measurement; "
        "--draw-measurements draws their lines on the overlays. A universal bundle serves the domain --domain names "
        "(a dataset name it knows, or an index). The spacing is --spacing, else the header's for MetaImage, "
        "NIfTI, NRRD and DICOM (Pixel Spacing, else Imager Pixel Spacing; the JSON's spacing_source says which); "
        "PNG and JPEG give pixels only. The output folder may not be an input folder; files there that no earlier "
        "predict run wrote (predict_journal.jsonl) are never replaced, so later runs on other images add to it. "
        "In input folders, files that are not images (README.txt, datastore_v2.json, subfolders) are skipped with "
        "a note; an image that cannot be read is reported and the others go on, and the exit status is then 1. "
        "Ctrl-C or SIGTERM stop it with exit 130 or 143."
    )


def _unwrap(error: BaseException) -> BaseException:
    while error.__cause__ is not None and str(error).lstrip().startswith(_MONAI_WRAPPERS):
        error = error.__cause__
    return error


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        return args.run(args)
    except (OSError, ValueError, RuntimeError, MemoryError, RecursionError) as e:
        print(f"monai-landmarks {args.command}: error: {_unwrap(e)}", file=sys.stderr)
        return EXIT_FAILED
    except (TypeError, KeyError, ImportError) as e:  # a --set value of the wrong type or name, deep in a config
        cause = _unwrap(e)
        print(f"monai-landmarks {args.command}: error: {type(cause).__name__}: {cause} (check the --set values and "
              "the bundle's configs).", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    except KeyboardInterrupt as e:
        signum = e.args[0] if isinstance(e, _Terminated) else signal.SIGINT
        print(f"monai-landmarks {args.command}: stopped by {signal.Signals(signum).name}.", file=sys.stderr)
        return 128 + signum
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so the same clean-up as Ctrl-C runs."""


def _terminated(signum, frame):
    raise _Terminated(signum)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
