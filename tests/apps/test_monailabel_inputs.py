"""The MONAI Label app's doors (issue 22), against a real ``monailabel start_server`` on loopback: only
``models/model.pt`` is served, the app writes into its own folder and never into the package, only image files are
datastore images and no other server path is an input, 3D Slicer's Submit Label (a label map) becomes landmarks,
and a DICOMweb ``--studies`` URL is served from a real Orthanc with its DICOMweb plugin (skipped, with the reason,
where Orthanc is not installed). The weights are an untrained GU2Net (seed 0): these tests check what the app does
with requests, not accuracy (``test_monailabel_server.py`` does that). Runs in the ``monailabel`` environment only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("monailabel")
requests = pytest.importorskip("requests")

import monai_landmarks.apps.monailabel as app_package  # noqa: E402
from monai_landmarks.apps.monailabel import make_app_dir  # noqa: E402
from monai_landmarks.data.dataset_format import load_datalist  # noqa: E402
from monai_landmarks.data.synthetic import generate_phantom_dataset  # noqa: E402
from tests.apps.monailabel_servers import (  # noqa: E402
    BIN,
    free_port,
    image_id_of,
    infer_json,
    pixels,
    result_points,
    start_server,
    stop,
    tree,
    wait_for,
)
from tests.dicom_files import write_dicom  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(app_package.__file__).resolve().parent
MODEL = "gu2net_ceph"
SETTINGS = {"image_size": [96, 128], "channels": [16, 32, 64, 128, 128]}  # the synthetic profile's network
START_S = 900  # a server start takes about 30 s; far longer on a machine busy with trainings


def _untrained_bundle(folder: Path) -> Path:
    """A served bundle folder: gu2net_ceph's configs, seed-0 initial weights as models/model.pt, and a copy of them
    as a training checkpoint (``checkpoint_epoch=1.pt``), which MONAI's BundleInferTask would offer as well."""
    import torch
    from monai.bundle import ConfigParser

    shutil.copytree(ROOT / "bundles" / MODEL / "configs", folder / "configs")
    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "inference.json"))
    for key, value in SETTINGS.items():
        parser[key] = value
    torch.manual_seed(0)
    network = parser.get_parsed_content("network_def")
    (folder / "models").mkdir()
    torch.save(network.state_dict(), folder / "models" / "model.pt")
    torch.save({"model": network.state_dict(), "epoch": 1}, folder / "models" / "checkpoint_epoch=1.pt")
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The untrained bundle served with a studies folder of 6 phantoms, one DICOM copy of the first and two files
    that are not images; the package folder is recorded before the server starts."""
    tmp = tmp_path_factory.mktemp("monailabel_inputs")
    data = generate_phantom_dataset(tmp / "data", kind="head", num_train=1, num_val=1, num_test=6, seed=0)
    test = load_datalist(data, split="test")
    bundle = _untrained_bundle(tmp / MODEL)
    studies = tmp / "studies"
    studies.mkdir()
    for item in test:
        shutil.copy(item["image"], studies)
    # not images: never listed (MONAI Label's default list takes *.xml), whatever the datastore writes beside them
    (studies / "notes.xml").write_text("<notes>not an image</notes>")
    (studies / "README.txt").write_text("cephalograms for review")
    write_dicom(studies / "ceph_dicom.dcm", pixels(test[0]["image"]), {"PixelSpacing": [1.0, 1.0]})
    overrides = tmp / "overrides.json"
    overrides.write_text(json.dumps({MODEL: SETTINGS}))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "2"}
    app = make_app_dir(tmp / "app")
    package_before = tree(PACKAGE)
    server, url, log = start_server(tmp, "server", app, studies, bundle, overrides, env)
    try:
        wait_for(url, server, log, timeout=START_S)
        yield {"url": url, "bundle": bundle, "test": test, "tmp": tmp, "env": env, "app": app, "studies": studies,
               "overrides": overrides, "package_before": package_before}  # fmt: skip
    finally:
        stop(server)


def _infer(url, image_id, spacing=1.0):
    return infer_json(url, MODEL, image_id, spacing, timeout=600)


def _infer_params(url, image_id, params):
    return requests.post(f"{url}/infer/{MODEL}", params={"image": image_id, "output": "json"},
                         files={"params": (None, json.dumps(params))}, timeout=600)  # fmt: skip


def test_only_model_pt_is_offered_and_other_weights_files_are_refused(served):
    url, models = served["url"], served["bundle"] / "models"
    checkpoints = sorted(p.name for p in models.glob("checkpoint_epoch=*.pt"))
    assert checkpoints  # beside model.pt, as training leaves them: MONAI's BundleInferTask would offer them
    assert requests.get(f"{url}/info/", timeout=30).json()["models"][MODEL]["config"]["model_filename"] == ["model.pt"]
    image = image_id_of(served["test"][0])
    expected = result_points(_infer(url, image))
    for name in [checkpoints[0], "refiner.pt", "../models/model.pt"]:
        r = _infer_params(url, image, {"spacing_mm": 1.0, "model_filename": name})
        assert r.status_code == 400, r.text
        assert (
            f"model_filename {name!r} is not served" in r.json()["detail"] and "models/model.pt" in r.json()["detail"]
        )
    for chosen in ["model.pt", ["model.pt"]]:  # what the Slicer plugin sends (the option's one value), and the list
        r = _infer_params(url, image, {"spacing_mm": 1.0, "model_filename": chosen})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(result_points(r.json()), expected, atol=1e-4)


def test_the_app_writes_into_its_own_folder_and_never_into_the_package(served):
    assert len(_infer(served["url"], image_id_of(served["test"][1]))["landmarks"]) == 19  # a server start and an infer
    assert tree(PACKAGE) == served["package_before"]
    assert not any((PACKAGE / d).exists() for d in ("bin", "lib", "logs", "model"))
    app = served["app"]
    assert {"bin", "lib", "logs", "model", "main.py"} <= {p.name for p in app.iterdir()}
    assert (app / "logs" / "app.log").is_file()


def test_only_image_files_are_datastore_images_and_no_other_path_is_an_input(served):
    url, studies = served["url"], served["studies"]
    objects = requests.get(f"{url}/datastore/", params={"output": "all"}, timeout=600).json()["objects"]
    assert set(objects) == {image_id_of(t) for t in served["test"]} | {"ceph_dicom"}  # no notes.xml, README.txt
    item = served["test"][3]
    points = enumerate(item["landmarks"][0].tolist())
    label = {"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in points]}
    r = requests.put(f"{url}/datastore/label", params={"image": image_id_of(item), "tag": "final"},
                     files={"label": ("label.json", json.dumps(label).encode())}, timeout=600)  # fmt: skip
    assert r.status_code == 200, r.text
    label_file = studies / "labels" / "final" / f"{image_id_of(item)}.json"
    assert (studies / "datastore_v2.json").is_file() and label_file.is_file()
    for path in [studies / "datastore_v2.json", studies / "notes.xml", label_file, ROOT / "README.md"]:
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": str(path), "output": "json"}, timeout=600)
        assert r.status_code == 404 and "is not in the datastore" in r.json()["detail"], (path, r.text)
    # the DICOM file is an image, with the header's spacing (1 mm) and the same landmarks as its PNG
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": "ceph_dicom", "output": "json"}, timeout=600)
    assert r.status_code == 200, r.text
    dicom = r.json()
    assert dicom["image_id"] == "ceph_dicom" and dicom["spacing_mm"] == [1.0, 1.0]
    np.testing.assert_allclose(
        result_points(dicom), result_points(_infer(url, image_id_of(served["test"][0]))), atol=1e-3
    )


def _slicer_labelmap(path, item, centres, values):
    """What the Slicer plugin's Submit Label writes: the segments exported as one label map on the image's grid
    (a one-slice volume, ``.nii.gz``), here a disc of radius 3 per segment."""
    import SimpleITK as sitk

    h, w = pixels(item["image"]).shape
    label = np.zeros((1, h, w), dtype=np.uint8)
    rows, cols = np.ogrid[:h, :w]
    for (x, y), v in zip(centres, values, strict=True):
        label[0][(cols - x) ** 2 + (rows - y) ** 2 <= 9] = v
    sitk.WriteImage(sitk.GetImageFromArray(label), str(path))
    return str(path)


def test_slicer_submit_label_label_map_becomes_landmarks(served):
    from monailabel.client import MONAILabelClient
    from monailabel.client.client import MONAILabelClientException

    url, tmp, item = served["url"], served["tmp"], served["test"][5]
    client = MONAILabelClient(url, tmpdir=str(tmp / "client"))
    names = client.info()["models"][MODEL]["landmarks"]
    centres = np.rint(item["landmarks"][0][:4]).tolist()  # four landmarks painted, the rest left out
    # the plugin's segments: named after the model's labels (lower case), values 1.. in segment order
    order = [2, 0, 3, 1]
    path = _slicer_labelmap(tmp / "slicer_label.nii.gz", item, [centres[k] for k in order], [1, 2, 3, 4])
    label_info = [{"name": names[k].lower(), "idx": i + 1} for i, k in enumerate(order)]
    # the plugin's call (plugins/slicer onSaveLabel): logic.save_label(image, label_in, {"label_info": label_info})
    client.save_label(image_id_of(item), path, params={"label_info": label_info})
    stored = requests.get(f"{url}/datastore/label", params={"label": image_id_of(item), "tag": "final"}, timeout=600)
    assert stored.status_code == 200, stored.text
    record = stored.json()
    got = {p["name"]: (p["x"], p["y"]) for p in record["landmarks"]}
    assert list(got) == names[:4]
    np.testing.assert_allclose([got[n] for n in names[:4]], centres, atol=1e-4)
    # a landmark painted twice is refused with what to do
    bad = _slicer_labelmap(tmp / "two_blobs.nii.gz", item, [centres[0], [5.0, 5.0]], [1, 1])
    with pytest.raises(MONAILabelClientException) as refused:
        client.save_label(image_id_of(item), bad, params={"label_info": [{"name": names[0], "idx": 1}]})
    assert "Status: 400" in refused.value.msg and "separate blobs; paint one blob per landmark" in refused.value.msg
    for name, body, expected in [("label.nii.gz", b"\x00", "cannot be read as a label map"),
                                 ("label.txt", b"sella 1 2", "Send a landmarks JSON file")]:  # fmt: skip
        r = requests.put(f"{url}/datastore/label", params={"image": image_id_of(item), "tag": "final"},
                         files={"label": (name, body)}, timeout=600)  # fmt: skip
        assert r.status_code == 400 and expected in r.json()["detail"], r.text


# --- DICOMweb: a real Orthanc with its DICOMweb plugin, started here on loopback

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = next(
    (p for p in ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so")
     if Path(p).is_file()), None,
)  # fmt: skip


@pytest.fixture(scope="module")
def orthanc(served):
    """Orthanc on a free loopback port (its own config and storage under tmp) holding two DX cephalograms (the
    first two served phantoms, 1 mm Pixel Spacing) and one CT slice; yields its DICOMweb root and the series."""
    if not ORTHANC or not DICOMWEB_PLUGIN:
        pytest.skip(
            "Orthanc with its DICOMweb plugin is not installed (Debian: apt-get install orthanc orthanc-dicomweb)"
        )
    from pydicom.uid import generate_uid

    tmp = served["tmp"] / "orthanc"
    (tmp / "storage").mkdir(parents=True)
    port = free_port()
    config = {
        "Name": "monai-landmarks-test", "StorageDirectory": str(tmp / "storage"),
        "IndexDirectory": str(tmp / "storage"),
        "HttpPort": port, "DicomServerEnabled": False, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "Plugins": [DICOMWEB_PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }  # fmt: skip
    (tmp / "orthanc.json").write_text(json.dumps(config))
    log = open(tmp / "orthanc.log", "w")
    server = subprocess.Popen([ORTHANC, str(tmp / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                              start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"Orthanc did not start:\n{(tmp / 'orthanc.log').read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/system", timeout=5).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        series = {}
        for n, item in enumerate(served["test"][:2]):
            uid = generate_uid()
            tags = {"PatientID": f"P{n}", "StudyInstanceUID": generate_uid(), "SeriesInstanceUID": uid,
                    "PixelSpacing": [1.0, 1.0]}  # fmt: skip
            path = write_dicom(tmp / f"ceph{n}.dcm", pixels(item["image"]), tags)
            assert requests.post(f"{url}/instances", data=path.read_bytes(), timeout=600).ok
            series[uid] = item
        ct = {"PatientID": "P9", "StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid(),
              "Modality": "CT", "PixelSpacing": [1.0, 1.0]}  # fmt: skip
        ct_path = write_dicom(tmp / "ct.dcm", np.zeros((16, 16), dtype=np.uint16), ct)
        assert requests.post(f"{url}/instances", data=ct_path.read_bytes(), timeout=600).ok
        two = {"PatientID": "P8", "StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}
        for n in range(2):  # a DX series of two images: not one X-ray
            path = write_dicom(
                tmp / f"two{n}.dcm", pixels(served["test"][2]["image"]), {**two, "InstanceNumber": n + 1}
            )
            assert requests.post(f"{url}/instances", data=path.read_bytes(), timeout=600).ok
        yield {"dicomweb": f"{url}/dicom-web", "series": series, "ct": ct["SeriesInstanceUID"],
               "two_images": two["SeriesInstanceUID"]}  # fmt: skip
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def dicomweb_served(served, orthanc):
    """The same bundle served with ``--studies <Orthanc's DICOMweb root>``."""
    tmp = served["tmp"]
    app = make_app_dir(tmp / "app-dicomweb")
    server, url, log = start_server(tmp, "server-dicomweb", app, orthanc["dicomweb"], served["bundle"],
                                     served["overrides"], served["env"])  # fmt: skip
    try:
        wait_for(url, server, log, timeout=START_S)
        yield {"url": url, "app": app, "log": log}
    finally:
        stop(server)


def test_dicomweb_studies_are_served_from_orthanc(served, orthanc, dicomweb_served):
    url, series = dicomweb_served["url"], orthanc["series"]
    assert requests.get(f"{url}/datastore/", timeout=600).json()["total"] == 3  # the DX series, not the CT slice
    for uid, item in series.items():
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": uid, "output": "json"}, timeout=600)
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["image_id"] == uid and result["spacing_mm"] == [1.0, 1.0]  # the DICOM header's Pixel Spacing
        np.testing.assert_allclose(
            result_points(result), result_points(_infer(served["url"], image_id_of(item))), atol=1e-3
        )
    uid, item = next(iter(series.items()))
    # OHIF v3's request: the label map result on the DICOM's grid
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": uid, "output": "image"},
                      files={"params": (None, json.dumps({"result_extension": ".nrrd", "restore_label_idx": False}))},
                      timeout=600)  # fmt: skip
    assert r.status_code == 200 and r.content[:4] == b"NRRD", r.text[:300]
    # a corrected result saved back as the series' label, kept in the app's cache (not on the DICOM server)
    label = {"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in enumerate(item["landmarks"][0].tolist())]}
    r = requests.put(f"{url}/datastore/label", params={"image": uid, "tag": "final"},
                     files={"label": ("label.json", json.dumps(label).encode())}, timeout=600)  # fmt: skip
    assert r.status_code == 200, r.text
    stored = requests.get(f"{url}/datastore/label", params={"label": uid, "tag": "final"}, timeout=600)
    np.testing.assert_allclose(result_points(stored.json()), item["landmarks"][0], atol=1e-4)
    assert requests.get(f"{url}/datastore/", timeout=600).json()["completed"] == 1
    assert list((dicomweb_served["app"] / "dicomweb").rglob(f"{uid}.json"))  # the cache is in the app folder
    for missing in [orthanc["ct"], "1.2.3.4"]:  # filtered out, or not on the server
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": missing, "output": "json"}, timeout=600)
        assert r.status_code == 404 and "not in the datastore" in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": orthanc["two_images"], "output": "json"}, timeout=600)
    assert r.status_code == 400 and "2 DICOM instances; this app reads single-image series" in r.json()["detail"]


def test_weights_that_do_not_fit_and_other_weights_files_are_refused_by_the_task(tmp_path):
    """The infer task alone (no server): a models/model.pt of another network is refused with the reason (MONAI
    Label loads it with strict=False, which would leave the network's random weights)."""
    import torch

    from monai_landmarks.apps.monailabel.infer import LandmarkInferTask, LandmarkRequestError, LandmarkServerError

    bundle = tmp_path / MODEL
    shutil.copytree(ROOT / "bundles" / MODEL / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    torch.save({"weight": torch.zeros(3)}, bundle / "models" / "model.pt")
    task = LandmarkInferTask(str(bundle), {}, SETTINGS)
    assert task.is_valid() and task.config()["model_filename"] == ["model.pt"]
    with pytest.raises(LandmarkServerError, match="weights do not fit the network"):
        task._get_network("cpu", {})
    with pytest.raises(LandmarkRequestError, match="model_filename 'refiner.pt' is not served"):
        task._get_network("cpu", {"model_filename": "refiner.pt"})
