"""Bundle configs read top-down: no branching or comprehension in `$` expressions, profiles as override files,
one protocol object, clear errors for missing data, and run folders written as bundles."""

import json
import re
from pathlib import Path

import pytest
from monai.bundle import ConfigParser
from monai.bundle.scripts import run

from monai_landmarks.bundle import RUN_FOLDER, write_run_bundle
from monai_landmarks.data import generate_phantom_dataset
from monai_landmarks.metrics import ErrorProtocol

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(p.name for p in (ROOT / "bundles").iterdir() if (p / "configs").is_dir())
PROFILED = BUNDLES  # every bundle has a synthetic.json profile
# a conditional expression or a comprehension / generator inside a `$` expression
_BRANCH = re.compile(r"\bif\b.*\belse\b|\bfor\b.+\bin\b")


def _expressions(value):
    if isinstance(value, str):
        if value.startswith("$"):
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v)


@pytest.mark.parametrize("name", BUNDLES)
def test_no_branching_or_comprehension_in_expressions(name):
    for config in sorted((ROOT / "bundles" / name / "configs").glob("*.json")):
        for expression in _expressions(json.loads(config.read_text())):
            assert not _BRANCH.search(expression), f"{config.name}: {expression}"


def test_the_branch_pattern_catches_what_it_must():
    for bad in ("$@a if @b else @c", "$[s * 0.05 for s in @image_size]", "$sorted(f for f in x if f)"):
        assert _BRANCH.search(bad)
    assert not _BRANCH.search("$(@image_size[0] * 0.05, @image_size[1] * 0.05)")


@pytest.mark.parametrize("name", PROFILED)
def test_synthetic_profile_only_overrides_existing_keys(name):
    configs = ROOT / "bundles" / name / "configs"
    train = json.loads((configs / "train.json").read_text())
    synthetic = json.loads((configs / "synthetic.json").read_text())
    assert set(synthetic) - set(train) <= {"synthetic_dir", "synthetic_kinds"}


def _messages(error: BaseException) -> str:
    """The messages of an error and of the errors it was raised from (MONAI wraps config errors)."""
    parts = []
    while error is not None:
        parts.append(str(error))
        error = error.__cause__
    return "\n".join(parts)


def test_train_json_alone_without_dataset_says_how_to_train_on_phantoms(tmp_path):
    with pytest.raises(Exception) as raised:
        run("training", config_file=str(ROOT / "bundles" / "htc_ceph" / "configs" / "train.json"),
            bundle_root=str(tmp_path))  # fmt: skip
    assert re.search("dataset_dir is not set.*synthetic.json", _messages(raised.value))
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("name", PROFILED)
def test_inference_on_an_empty_or_missing_folder_names_it(name, tmp_path):
    empty = tmp_path / "no_images"
    empty.mkdir()
    inference = str(ROOT / "bundles" / name / "configs" / "inference.json")
    with pytest.raises(Exception) as raised:
        run("run", config_file=inference, bundle_root=str(tmp_path), dataset_dir=str(empty))
    assert f"{empty}: no image files found" in _messages(raised.value)
    with pytest.raises(Exception) as raised:
        run("run", config_file=inference, bundle_root=str(tmp_path), dataset_dir=str(tmp_path / "typo"))
    assert f"{tmp_path / 'typo'}: no such image file or folder" in _messages(raised.value)


def test_hand_bundle_scores_at_the_dataset_wrist_width(tmp_path):
    """The wrist width of dataset.json reaches the validation metrics and report (it was scored at 50 mm)."""
    root = generate_phantom_dataset(tmp_path / "hand", "hand", 3, 1, 1, size=(64, 80))
    meta = json.loads((root / "dataset.json").read_text())
    meta["wrist_normalisation"]["width_mm"] = 40.0
    (root / "dataset.json").write_text(json.dumps(meta))
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles" / "htc_hand" / "configs" / f) for f in ("train.json", "synthetic.json")])
    parser["data_root"] = str(root)
    parser["bundle_root"] = str(tmp_path / "run")  # the TensorBoard handler makes its folder when built
    expected = ErrorProtocol("wrist", wrist_pair=(0, 4), wrist_width_mm=40.0)
    assert parser.get_parsed_content("validate#key_metric#val_mre").metric_fn.protocol == expected
    assert parser.get_parsed_content("validate#additional_metrics#val_sdr_2").metric_fn.protocol == expected
    report = [h for h in parser.get_parsed_content("validate#handlers") if hasattr(h, "rows")][0]
    assert report.protocol["wrist_width_mm"] == 40.0


def _parser(name, *files, **overrides):
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles" / name / "configs" / f) for f in files])
    parser.update(overrides)
    return parser


def test_run_bundle_gets_trained_values_and_never_replaces_foreign_files(tmp_path):
    configs = ROOT / "bundles" / "htc_ceph" / "configs"
    phantoms = generate_phantom_dataset(tmp_path / "head", "head", 3, 1, 1, size=(64, 80))
    parser = _parser("htc_ceph", "train.json", "synthetic.json", image_size=[64, 80], data_root=str(phantoms))
    run_root = tmp_path / "run"
    written = write_run_bundle(parser, configs, run_root)
    inference = json.loads((run_root / "configs" / "inference.json").read_text())
    assert inference["image_size"] == [64, 80] and inference["width_multiplier"] == 0.25
    assert inference["bundle_root"] == RUN_FOLDER  # no absolute path: a copied run folder uses its own files
    train = json.loads((run_root / "configs" / "train.json").read_text())
    assert train["bundle_root"] == RUN_FOLDER
    assert train["max_epochs"] == 8 and train["data_root"] == str(phantoms) and "_meta_" not in train
    assert (run_root / "configs" / "evaluate.json").read_text() == (configs / "evaluate.json").read_text()
    assert (run_root / "LICENSE").is_file() and (run_root / "docs" / "README.md").is_file()
    # a second training run of the folder may rewrite what the first wrote
    parser["max_epochs"] = 9
    assert write_run_bundle(parser, configs, run_root) == written
    assert json.loads((run_root / "configs" / "train.json").read_text())["max_epochs"] == 9
    # but not a file it did not write
    other = tmp_path / "other"
    (other / "configs").mkdir(parents=True)
    (other / "configs" / "inference.json").write_text("{}")
    with pytest.raises(FileExistsError, match="inference.json: exists and was not written by a training run"):
        write_run_bundle(parser, configs, other)
    assert (other / "configs" / "inference.json").read_text() == "{}"
    # training inside the bundle folder itself writes nothing
    assert write_run_bundle(parser, configs, configs.parent) == []


@pytest.mark.parametrize("name", BUNDLES)
def test_training_is_one_run_line_and_the_run_folder_handlers(name):
    """The recipe lives in the trainer's handlers, not in ``run``: resume first checked, checkpoints saved after the
    validation handler (so a checkpoint holds the epoch's best model), the run folder's configs on start."""
    parser = _parser(name, "train.json", "multi_gpu_train.json")
    single = _parser(name, "train.json")
    for config in (single, parser):
        assert config["run"] == ["$@train#trainer.run()"] and config["training"] == "%run"
        assert "@train#run_handlers" in config["train#trainer#train_handlers"]
    assert single["train#run_handlers"] == ["@train#run_bundle", "@train#resume", "@train#checkpoint_saver"]
    # components, not references: MONAI Label reads each one's _target_ when it adds its checkpoint loader
    targets = [h["_target_"] for h in single["train#handlers"]]
    assert "ValidationHandler" in targets and "monai_landmarks.handlers.ResumeFromLatest" not in targets


def test_run_bundle_handler_without_a_workflow_warns_and_writes_nothing(tmp_path):
    from ignite.engine import Engine

    from monai_landmarks.bundle import SaveRunBundle

    engine = Engine(lambda e, b: None)
    SaveRunBundle(tmp_path / "run").attach(engine)
    with pytest.warns(UserWarning, match="no running MONAI ConfigWorkflow; the run folder gets no configs"):
        engine.run([0], max_epochs=1)
    assert not (tmp_path / "run").exists()
