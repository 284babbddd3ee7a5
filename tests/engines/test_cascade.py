"""The cascade's refinement step: geometry across resolutions, spacing precedence, the refiner weights file and its
checks, bad input."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_landmarks.data.spacing import image_spacing, image_spacing_and_source
from monai_landmarks.engines import PatchRefinement, RefinerSpec, load_refiner, read_refiner
from monai_landmarks.handlers.save_best_model import SaveBestModel
from monai_landmarks.networks import LandmarkRefiner
from monai_landmarks.transforms import DecodePatchesd, LandmarkPatchesd, RefineLandmarksd

SMALL = (4, 4, 8, 8, 8, 4)


def _refiner(k=3, seed=0):
    torch.manual_seed(seed)
    return LandmarkRefiner(num_landmarks=k, features=SMALL).eval()


def _image(size=(96, 80), seed=0, name="x.png"):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.nn.functional.avg_pool2d(torch.rand(1, 1, *size, generator=g), 5, 1, 2)[0]  # smooth texture
    return MetaTensor(pixels, meta={"filename_or_obj": name, "spacing": np.array([1.0, 1.0])})


def test_image_and_its_2x_copy_give_the_same_landmarks():
    refine = PatchRefinement(_refiner(), patch_size=32, patch_spacing_mm=0.5, iterations=2)
    image = _image()
    fine = image.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # 0.25 mm pixels of the same picture
    coarse = torch.tensor([[[30.2, 40.7], [60.5, 20.1], [50.0, 60.3]]])
    points, confidence = refine(image, coarse, spacing=[0.5, 0.5])
    fine_points, _ = refine(fine, (coarse + 0.5) * 2 - 0.5, spacing=[0.25, 0.25])
    back = (fine_points + 0.5) / 2 - 0.5
    assert (points - back).norm(dim=-1).max() * 0.5 < 1e-3  # mm; the issue asks for 0.3 mm
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert not torch.allclose(points, coarse)  # the refiner did move them


def test_validation_decodes_the_refiner_as_the_cascade_does():
    """One patch -> refine -> image chain: the refiner's validation steps (LandmarkPatchesd, the network,
    DecodePatchesd) give the cascade's landmarks and confidence exactly, for patches around the same centres."""
    network, image = _refiner(), _image()
    centres = torch.tensor([[[30.2, 40.7], [60.5, 20.1], [50.0, 60.3]]])
    points, confidence = PatchRefinement(network, patch_size=32, patch_spacing_mm=0.5)(image, centres, [0.5, 0.5])
    patches = LandmarkPatchesd(centre_key="centres", patch_size=32, patch_spacing_mm=0.5)
    sample = patches({"image": image, "centres": centres, "spacing": np.array([0.5, 0.5])})
    with torch.no_grad():
        sample["pred"] = network(sample["image"][None])[0]
    decoded = DecodePatchesd()(sample)
    assert torch.equal(decoded["pred_landmarks"], points) and torch.equal(decoded["confidence"], confidence)


def test_no_refiner_passes_the_coarse_landmarks_through():
    coarse = torch.tensor([[[3.0, 4.0]]])
    out = RefineLandmarksd(refinement=None)({"pred_landmarks": coarse, "image_full": _image()})
    assert torch.equal(out["pred_landmarks"], coarse) and torch.equal(out["coarse_landmarks"], coarse)


def test_nan_coarse_landmark_is_a_clear_error_naming_the_file():
    step = RefineLandmarksd(refinement=PatchRefinement(_refiner(), patch_size=16), default_spacing=0.2)
    sample = {"pred_landmarks": torch.tensor([[[3.0, 4.0], [float("nan"), 1.0], [5.0, 5.0]]]), "image_full": _image()}
    with pytest.raises(ValueError, match=r"x\.png: patch centres of landmarks \[1\] are NaN"):
        step(sample)


def test_spacing_precedence():
    png = _image(name="a.png")
    mha = MetaTensor(torch.zeros(1, 4, 4), meta={"filename_or_obj": "a.mha", "spacing": np.array([0.1, 0.1])})
    assert image_spacing(png, override=0.3, default=0.2, dataset=[0.25, 0.25]).tolist() == [0.3, 0.3]
    assert image_spacing(png, default=0.2, dataset=[0.25, 0.25]).tolist() == [0.25, 0.25]
    assert image_spacing(png, default=0.2, dataset=[np.nan, np.nan]).tolist() == [0.2, 0.2]  # PNG header ignored
    assert image_spacing(mha, default=0.2).tolist() == [0.1, 0.1]
    assert image_spacing(mha, default=0.2, dataset=[0.25, 0.25]).tolist() == [0.25, 0.25]  # dataset before header
    # DICOM through data.spacing: a recorded tag marks it without ".dcm"; no spacing tag (NaN) falls to the default
    tagged = {"filename_or_obj": "xray", "spacing": np.array([0.15, 0.3]), "spacing_tag": "PixelSpacing (0028,0030)"}
    assert image_spacing(MetaTensor(torch.zeros(1, 4, 4), meta=tagged), default=0.2).tolist() == [0.15, 0.3]
    untagged = {"filename_or_obj": "x.dcm", "spacing": np.array([np.nan, np.nan])}
    assert image_spacing(MetaTensor(torch.zeros(1, 4, 4), meta=untagged), default=0.2).tolist() == [0.2, 0.2]
    with pytest.raises(ValueError, match="a.png: unknown pixel spacing"):
        image_spacing(png)
    with pytest.raises(ValueError, match="a.png: pixel spacing must be positive"):
        image_spacing(png, override=-1.0)


def _spec(k=3, patch_size=32, patch_spacing_mm=0.2):
    return RefinerSpec(num_landmarks=k, patch_size=patch_size, patch_spacing_mm=patch_spacing_mm, features=SMALL)


def _save(tmp_path, network, spec):
    """Refiner weights as the refiner's training writes them: its best-model handler with the spec's writer."""
    path = tmp_path / "refiner.pt"
    saver = SaveBestModel(path, network, "val_mre", writer=spec.save)
    saver(type("E", (), {"state": type("S", (), {"metrics": {"val_mre": 1.0}, "epoch": 1})()})())
    return path


def test_refiner_weights_round_trip_with_their_patch_settings(tmp_path):
    path = _save(tmp_path, _refiner(seed=1), _spec())
    file = read_refiner(path)
    assert file.spec == _spec() and file.spec.meta() == torch.load(path, weights_only=True)["meta"]
    assert file.spec.meta() == {"num_landmarks": 3, "patch_size": 32, "patch_spacing_mm": 0.2, "features": list(SMALL)}
    loaded = load_refiner(path, _refiner(seed=2), patch_size=32, patch_spacing_mm=0.2)
    expected = _refiner(seed=1).state_dict().values()
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), expected, strict=True))
    assert PatchRefinement.from_file(tmp_path / "absent.pt", 3) is None


def test_refinement_is_built_from_the_weights_file(tmp_path):
    path = _save(tmp_path, _refiner(seed=1), _spec(patch_spacing_mm=0.5))
    refine = PatchRefinement.from_file(path, 3, iterations=2)
    assert (refine.patch_size, refine.patch_spacing_mm, refine.iterations) == (32, 0.5, 2)
    assert refine.weights["path"] == str(path) and len(refine.weights["sha256"]) == 64
    expected = _refiner(seed=1).state_dict().values()
    assert all(torch.equal(a, b) for a, b in zip(refine.network.state_dict().values(), expected, strict=True))
    plain = tmp_path / "plain.pt"
    torch.save(_refiner().state_dict(), plain)
    with pytest.raises(ValueError, match=r"plain.pt: not refiner weights with their patch settings"):
        PatchRefinement.from_file(plain, 3)


def test_a_refiner_for_another_bundle_is_refused_naming_the_file(tmp_path):
    """The file is checked against what the bundle expects (its landmark count), not against itself."""
    path = _save(tmp_path, _refiner(), _spec())
    with pytest.raises(
        ValueError, match=r"refiner.pt: the refiner was trained with num_landmarks = 3; the bundle expects 19"
    ):
        PatchRefinement.from_file(path, 19)


def _corrupt(tmp_path, obj):
    path = tmp_path / "refiner.pt"
    torch.save(obj, path)
    return path


@pytest.mark.parametrize(
    "content, match",
    [
        (lambda: {"meta": _spec().meta()}, "refiner settings but no weights"),
        (lambda: {"model": _refiner().state_dict(), "meta": _spec().meta() | {"patch_size": 0}}, "patch_size must"),
        (lambda: {"model": _refiner().state_dict(), "meta": _spec().meta() | {"features": [4, 4]}}, "six positive"),
        (lambda: {"model": _refiner(k=4).state_dict(), "meta": _spec().meta()}, "do not fit the network Landmark"),
        (
            lambda: {
                "model": _refiner().state_dict()
                | {"unet.conv_0.conv_0.conv.weight": torch.full((4, 1, 3, 3), float("nan"))},
                "meta": _spec().meta(),
            },
            "NaN or infinite",
        ),  # fmt: skip
    ],
)
def test_a_bad_refiner_file_is_named_with_its_problem(tmp_path, content, match):
    path = _corrupt(tmp_path, content())
    with pytest.raises(ValueError, match=rf"refiner.pt: .*{match}"):
        PatchRefinement.from_file(path, 3)


def test_refiner_spec_refuses_bad_settings():
    for bad in ({"num_landmarks": 0}, {"patch_size": 1.5}, {"patch_spacing_mm": -0.2}, {"features": (4,) * 5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RefinerSpec(**(_spec().meta() | bad))


@pytest.mark.parametrize(
    "network, settings, match",
    [
        (lambda: _refiner(k=4), {}, "refiner.pt"),  # another landmark count
        (_refiner, {"patch_size": 64}, r"refiner.pt: the refiner was trained with patch_size = 32"),
        (_refiner, {"patch_spacing_mm": 0.1}, r"refiner.pt: .*patch_spacing_mm = 0.2"),
    ],
)
def test_refiner_weights_that_do_not_fit_are_named(tmp_path, network, settings, match):
    path = _save(tmp_path, _refiner(), _spec())
    with pytest.raises(ValueError, match=match):
        load_refiner(path, network(), **settings)


def test_the_cascade_records_what_ran_and_an_assumed_spacing(caplog):
    png = _image(name="a.png")
    assert image_spacing_and_source(png, default=0.2)[1] == "assumed: bundle default (0.2 mm)"
    assert image_spacing_and_source(png, default=0.2, dataset=[0.1, 0.1])[1] == "dataset"
    step = RefineLandmarksd(refinement=PatchRefinement(_refiner(), patch_size=32), default_spacing=0.2)
    sample = {"pred_landmarks": torch.tensor([[[30.0, 40.0], [40.0, 40.0], [50.0, 50.0]]]), "image_full": png}
    with caplog.at_level("WARNING"):
        ran = step(sample)["cascade"]
        step(sample)  # warned once per run, not per image
    assert ran == {"cascade": "on", "refiner": None, "spacing_mm": [0.2, 0.2],
                   "spacing_source": "assumed: bundle default (0.2 mm)"}  # fmt: skip
    assert len([r for r in caplog.records if "no pixel spacing known" in r.getMessage()]) == 1
    assert RefineLandmarksd(refinement=None)(sample)["cascade"]["cascade"] == "off"
    with pytest.raises(ValueError, match="default_spacing must be one or two positive numbers"):
        RefineLandmarksd(refinement=None, default_spacing="abc")


def test_a_declared_refiner_that_is_missing_is_an_error(tmp_path):
    assert PatchRefinement.from_file(None, 3) is None  # coarse only, chosen
    with pytest.raises(FileNotFoundError, match=r"absent.pt: refiner weights not found \(named by refiner_path\)"):
        PatchRefinement.from_file(tmp_path / "absent.pt", 3, required=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "large_files.yml").write_text('large_files:\n  - {path: "models/refiner.pt", hash_val: "00"}\n')
    with pytest.raises(FileNotFoundError, match=r"refiner.pt: refiner weights not found \(listed in .*large_files.yml"):
        PatchRefinement.from_file(tmp_path / "models" / "refiner.pt", 3)
