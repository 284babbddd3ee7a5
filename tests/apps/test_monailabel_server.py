"""The MONAI Label app against a real ``monailabel start_server`` on loopback.

A GU2Net (gu2net_ceph, synthetic profile) is trained here for 6 epochs on 32 head phantoms, served with a
studies folder of 8 held-out phantoms, and driven over HTTP: /info, inference (checked against the bundle's own
``monai-landmarks predict`` output and the phantom truth), bad requests, 50 concurrent requests, a label upload and
a short training; then with MONAI Label's own client (``monailabel.client``) as the 3D Slicer plugin uses it: a
point-list result, the OHIF v3 label map, a Slicer markups label, training, and the next sample by the
``least_confident`` strategy. Runs in the ``monailabel`` environment only (``.ci/run``'s second step).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("monailabel")
requests = pytest.importorskip("requests")

import monai_landmarks.apps.monailabel as app_package  # noqa: E402
from monai_landmarks.apps.monailabel import make_app_dir  # noqa: E402
from monai_landmarks.data.dataset_format import load_datalist  # noqa: E402
from monai_landmarks.data.synthetic import generate_phantom_dataset  # noqa: E402
from tests.dicom_files import write_dicom  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(app_package.__file__).resolve().parent
BIN = Path(sys.executable).parent
MODEL = "gu2net_ceph"
# the synthetic profile's network and input (train.json picks them when no dataset_dir is set)
SETTINGS = {"image_size": [96, 128], "channels": [16, 32, 64, 128, 128]}
EPOCHS = 6
#: truth tolerance: mean radial error in pixels (1 mm per pixel) of the HTTP result over the 4 served phantoms.
#: A 6-epoch CPU GU2Net on 32 phantoms lands near 5 px (4 epochs on 16 phantoms gave 61 px, so the check bites);
#: the mean-shape baseline of the phantoms is about 6.5 mm.
MRE_TOLERANCE_PX = 12.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(folder: Path) -> dict:
    """``{path: (size, mtime)}`` of everything under ``folder`` but Python's byte-code caches."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
        if "__pycache__" not in p.parts
    }


def _start_server(tmp, name, app, studies, bundle, overrides, env):
    """``monailabel start_server`` on a free loopback port; ``(process, url, log path)``."""
    port = _free_port()
    log_path = tmp / f"{name}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(BIN / "monailabel"), "start_server", "--app", str(app), "--studies", str(studies),
             "--host", "127.0.0.1", "--port", str(port), "--conf", "bundles", str(bundle),
             "--conf", "overrides", str(overrides)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True,
        )  # fmt: skip
    return server, f"http://127.0.0.1:{port}", log_path


def _stop(server):
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _run(cmd, timeout, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{cmd[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Train the bundle, start the server; yield its URL and the test data; stop it."""
    tmp = tmp_path_factory.mktemp("monailabel")
    data = generate_phantom_dataset(tmp / "data", kind="head", num_train=32, num_val=2, num_test=8, seed=0)
    bundle = tmp / MODEL
    shutil.copytree(ROOT / "bundles" / MODEL / "configs", bundle / "configs")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "2"}
    start = time.time()
    config = json.dumps([str(bundle / "configs" / f) for f in ("train.json", "synthetic.json")])
    _run([sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", config, "--bundle_root",
          str(bundle), "--data_root", str(data), "--max_epochs", str(EPOCHS)], 900, env=env)  # fmt: skip
    train_s = time.time() - start
    test = load_datalist(data, split="test")
    studies = tmp / "studies"
    studies.mkdir()
    for item in test:
        shutil.copy(item["image"], studies)
    # not images: never listed (MONAI Label's default list takes *.xml), whatever the datastore writes beside them
    (studies / "notes.xml").write_text("<notes>not an image</notes>")
    (studies / "README.txt").write_text("cephalograms for review")
    write_dicom(studies / "ceph_dicom.dcm", _pixels(test[0]), {"PixelSpacing": [1.0, 1.0]})
    overrides = tmp / "overrides.json"
    overrides.write_text(json.dumps({MODEL: SETTINGS}))
    app = make_app_dir(tmp / "app")
    package_before = _tree(PACKAGE)
    server, url, log = _start_server(tmp, "server", app, studies, bundle, overrides, env)
    try:
        _wait_for(url, server, log, timeout=240)
        yield {"url": url, "bundle": bundle, "data": data, "test": test, "tmp": tmp, "env": env, "train_s": train_s,
               "app": app, "studies": studies, "overrides": overrides, "package_before": package_before}  # fmt: skip
    finally:
        _stop(server)


def _pixels(item) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(item["image"]), dtype=np.uint16)


def _wait_for(url, server, log, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/info/", timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"server did not answer /info within {timeout} s:\n{log.read_text()[-3000:]}")


def _infer(url, image_id, spacing=1.0):
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": image_id, "output": "json"},
                      files={"params": (None, json.dumps({"spacing_mm": spacing}))}, timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def _points(result):
    return np.array([[p["x"], p["y"]] for p in result["landmarks"]])


def _image_id(item):
    return Path(item["image"]).name[: -len(".png")]


def test_info_lists_the_bundle(served):
    info = requests.get(f"{served['url']}/info/", timeout=30).json()
    assert info["models"][MODEL]["type"] == "segmentation"  # what the 3D Slicer and OHIF v3 plugins list
    assert info["models"][MODEL]["labels"]["sella"] == 1  # label map values, 0 = background
    assert set(info["strategies"]) == {"random", "least_confident"}
    assert info["models"][MODEL]["landmarks"][0] == "sella"
    assert MODEL in info["trainers"]


def test_inference_matches_the_bundle_and_the_truth(served):
    out = served["tmp"] / "predict"
    images = [t["image"] for t in served["test"]]
    _run([str(BIN / "monai-landmarks"), "predict", str(served["bundle"]), *images, "--out", str(out), "--spacing", "1",
          "--device", "cpu", "--quiet", "--set", f"image_size={json.dumps(SETTINGS['image_size'])}",
          "--set", f"channels={json.dumps(SETTINGS['channels'])}"], 600, env=served["env"])  # fmt: skip
    errors = []
    for item in served["test"]:
        result = _infer(served["url"], _image_id(item))
        names = [p["name"] for p in result["landmarks"]]
        # centroids as the radiology app's localization models give them: {name: [label value, x, y, 0]}
        assert list(result["centroids"]) == names and len(names) == 19
        assert [int(result["centroids"][n][0]) for n in names] == list(range(1, 20))
        centroids = np.array([[float(v) for v in result["centroids"][n][1:3]] for n in names])
        np.testing.assert_allclose(centroids, _points(result), atol=1e-4)
        assert [p["x_mm"] for p in result["landmarks"]] == [p["x"] for p in result["landmarks"]]  # 1 mm/px given
        assert all(0.0 <= p["confidence"] for p in result["landmarks"])
        bundle = json.loads((out / f"{Path(item['image']).name}.json").read_text())  # outputs: full file name
        np.testing.assert_allclose(_points(result), _points(bundle), atol=1e-3)  # the same pipeline, same numbers
        errors.append(np.linalg.norm(_points(result) - item["landmarks"][0], axis=1))
    mre = float(np.mean(errors))
    print(f"\nHTTP inference MRE over {len(errors)} phantoms: {mre:.2f} px (trained {served['train_s']:.0f} s)")
    assert mre < MRE_TOLERANCE_PX


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(served):
    url = served["url"]
    r = requests.post(f"{url}/infer/no_such_model", params={"image": _image_id(served["test"][0])}, timeout=60)
    assert r.status_code == 404 and "unknown model 'no_such_model'" in r.json()["detail"]
    assert MODEL in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"output": "json"},
                      files={"file": ("scan.png", b"this is not a PNG")}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "cannot be read as an image" in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": "no_such_image"}, timeout=60)
    assert r.status_code == 404 and "not in the datastore" in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": _image_id(served["test"][0]), "output": "json"},
                      files={"params": (None, json.dumps({"spacing_mm": -1}))}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "spacing_mm" in r.json()["detail"]
    image = _image_id(served["test"][0])
    for body, expected in [
        (b"{not json", "not a landmarks JSON file"),
        (b'{"landmarks": [{"name": "sella", "x": "left", "y": 3}]}', "finite numbers"),
        (b'{"landmarks": [{"name": "chin", "x": 1, "y": 3}]}', "unknown landmark name 'chin'"),
        (b'{"points": []}', "'landmarks' must be a non-empty list"),
    ]:
        r = requests.put(f"{url}/datastore/label", params={"image": image, "tag": "final"},
                         files={"label": ("label.json", body)}, timeout=60)  # fmt: skip
        assert r.status_code == 400 and expected in r.json()["detail"], r.text
    r = requests.put(f"{url}/datastore/label", params={"image": image, "tag": "final"},
                     files={"label": ("label.nii.gz", b"\x00")}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "cannot be read as a label map" in r.json()["detail"]
    r = requests.put(f"{url}/datastore/label", params={"image": image, "tag": "final"},
                     files={"label": ("label.txt", b"sella 1 2")}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "Send a landmarks JSON file" in r.json()["detail"]
    assert requests.get(f"{url}/datastore/", params={"output": "all"}, timeout=60).json()  # still serving
    assert len(_infer(url, image)["centroids"]) == 19


def test_fifty_concurrent_inference_requests(served):
    url, ids = served["url"], [_image_id(t) for t in served["test"]]
    expected = {i: _points(_infer(url, i)) for i in ids}
    start = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: (ids[n % len(ids)], _infer(url, ids[n % len(ids)])), range(50)))
    seconds = time.time() - start
    print(f"\n50 concurrent inference requests (8 client threads): {seconds:.1f} s, {50 / seconds:.1f} requests/s")
    assert len(results) == 50
    for image_id, result in results:
        np.testing.assert_allclose(_points(result), expected[image_id], atol=1e-4)


def test_labels_train_the_model(served):
    url, bundle = served["url"], served["bundle"]
    for item in served["test"][:3]:
        points = enumerate(item["landmarks"][0].tolist())
        label = {"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in points], "spacing_mm": [1.0, 1.0]}
        r = requests.put(f"{url}/datastore/label", params={"image": _image_id(item), "tag": "final"},
                         files={"label": ("label.json", json.dumps(label).encode())}, timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
    weights = bundle / "models" / "model.pt"
    before = weights.stat().st_mtime_ns
    start = time.time()
    r = requests.post(f"{url}/train/{MODEL}", json={"max_epochs": 1, "val_split": 0.34, "device": "cpu"}, timeout=60)
    assert r.status_code == 200, r.text
    status = {}
    while time.time() - start < 600:
        status = requests.get(f"{url}/train/", timeout=60).json()
        if status.get("status") in ("DONE", "ERROR"):
            break
        time.sleep(2)
    print(f"\ntraining request: {status.get('status')} after {time.time() - start:.0f} s")
    assert status.get("status") == "DONE", status
    assert weights.stat().st_mtime_ns != before  # validation wrote new best weights
    assert len(_infer(url, _image_id(served["test"][0]))["centroids"]) == 19  # and inference reloads them


def _markups_of(points, names, system="RAS"):
    sign = -1.0 if system == "RAS" else 1.0  # a PNG's LPS position is (x, y, 0)
    control = [{"label": n, "position": [sign * x, sign * y, 0.0], "positionStatus": "defined"}
               for n, (x, y) in zip(names, points, strict=True)]  # fmt: skip
    return {"markups": [{"type": "Fiducial", "coordinateSystem": system, "controlPoints": control}]}


def test_client_point_list_labelmap_markups_label_training_and_least_confident(served):
    import SimpleITK as sitk
    from monailabel.client import MONAILabelClient

    from monai_landmarks.apps.monailabel.markups import points_from_markups

    url, tmp, test = served["url"], served["tmp"], served["test"]
    client = MONAILabelClient(url, tmpdir=str(tmp / "client"))
    names = client.info()["models"][MODEL]["landmarks"]

    # the 3D Slicer plugin's request: the result file is a markups point list at the JSON's landmarks
    means = {}
    for item in test:
        result_file, params = client.infer(MODEL, _image_id(item), {"result_extension": ".nrrd"})
        assert result_file.endswith(".json")  # Slicer loads *.json results with loadMarkups
        markups = json.loads(Path(result_file).read_text())
        np.testing.assert_allclose(points_from_markups(markups, item["image"], names), _points(params), atol=1e-4)
        means[_image_id(item)] = float(np.mean([p["confidence"] for p in params["landmarks"]]))

    # the OHIF v3 plugin's request (output=image, restore_label_idx): a uint8 NRRD label map with discs at landmarks
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": _image_id(test[0]), "output": "image"},
                      files={"params": (None, json.dumps({"result_extension": ".nrrd", "result_dtype": "uint8",
                                                          "result_compress": False, "restore_label_idx": False}))},
                      timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    (tmp / "ohif.nrrd").write_bytes(r.content)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp / "ohif.nrrd")))  # (H, W)
    pixels = np.rint(_points(_infer(url, _image_id(test[0])))).astype(int)
    hits = sum(int(label[y, x] == k + 1) for k, (x, y) in enumerate(pixels))
    assert label.dtype == np.uint8 and hits >= 15  # discs of nearby landmarks may cover each other

    # a 3D Slicer markups label (RAS) is stored in the app's format, in pixels
    item = test[4]
    markups_file = tmp / f"{_image_id(item)}.mrk.json"
    markups_file.write_text(json.dumps(_markups_of(item["landmarks"][0].tolist(), names)))
    client.save_label(_image_id(item), str(markups_file), tag="final")
    stored = requests.get(f"{url}/datastore/label", params={"label": _image_id(item), "tag": "final"}, timeout=60)
    assert stored.status_code == 200, stored.text
    np.testing.assert_allclose(_points(stored.json()), item["landmarks"][0], atol=1e-4)

    # train on the labels (3 from the earlier test, this one), then ask for the least confident unlabelled image
    client.train_start(MODEL, {"max_epochs": 1, "val_split": 0.25, "device": "cpu"})
    start, status = time.time(), {}
    while time.time() - start < 600:
        status = client.train_status()
        if status.get("status") in ("DONE", "ERROR"):
            break
        time.sleep(2)
    assert status.get("status") == "DONE", status
    labelled = {_image_id(t) for t in test[:3]} | {_image_id(item)}
    unlabelled = {i: m for i, m in means.items() if i not in labelled}
    sample = client.next_sample("least_confident", {})
    assert sample["id"] == min(unlabelled, key=unlabelled.get), (sample, unlabelled)
    assert sample["confidence"] == pytest.approx(unlabelled[sample["id"]])


# --- round 3 (issue 22): pinned weights, the app's own folder, what is an image, Slicer's Submit Label, DICOMweb


def _infer_params(url, image_id, params):
    return requests.post(f"{url}/infer/{MODEL}", params={"image": image_id, "output": "json"},
                         files={"params": (None, json.dumps(params))}, timeout=120)  # fmt: skip


def test_only_model_pt_is_offered_and_other_weights_files_are_refused(served):
    url, models = served["url"], served["bundle"] / "models"
    checkpoints = sorted(p.name for p in models.glob("checkpoint_epoch=*.pt"))
    assert checkpoints  # training left them beside model.pt: MONAI's BundleInferTask would offer them
    assert requests.get(f"{url}/info/", timeout=30).json()["models"][MODEL]["config"]["model_filename"] == ["model.pt"]
    image = _image_id(served["test"][0])
    expected = _points(_infer(url, image))
    for name in [checkpoints[0], "refiner.pt", "../models/model.pt"]:
        r = _infer_params(url, image, {"spacing_mm": 1.0, "model_filename": name})
        assert r.status_code == 400, r.text
        assert (
            f"model_filename {name!r} is not served" in r.json()["detail"] and "models/model.pt" in r.json()["detail"]
        )
    for chosen in ["model.pt", ["model.pt"]]:  # what the Slicer plugin sends (the option's one value), and the list
        r = _infer_params(url, image, {"spacing_mm": 1.0, "model_filename": chosen})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(_points(r.json()), expected, atol=1e-4)


def test_the_app_writes_into_its_own_folder_and_never_into_the_package(served):
    assert len(_infer(served["url"], _image_id(served["test"][1]))["landmarks"]) == 19  # a server start and an infer
    assert _tree(PACKAGE) == served["package_before"]
    assert not any((PACKAGE / d).exists() for d in ("bin", "lib", "logs", "model"))
    app = served["app"]
    assert {"bin", "lib", "logs", "model", "main.py"} <= {p.name for p in app.iterdir()}
    assert (app / "logs" / "app.log").is_file()


def test_only_image_files_are_datastore_images_and_no_other_path_is_an_input(served):
    url, studies = served["url"], served["studies"]
    objects = requests.get(f"{url}/datastore/", params={"output": "all"}, timeout=60).json()["objects"]
    assert set(objects) == {_image_id(t) for t in served["test"]} | {"ceph_dicom"}  # no notes.xml, README.txt
    assert (studies / "datastore_v2.json").is_file() and (studies / "labels" / "final").is_dir()
    label = next((studies / "labels" / "final").glob("*.json"), None)
    for path in [studies / "datastore_v2.json", studies / "notes.xml", label, ROOT / "README.md"]:
        if path is None:
            continue
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": str(path), "output": "json"}, timeout=60)
        assert r.status_code == 404 and "is not in the datastore" in r.json()["detail"], (path, r.text)
    # the DICOM file is an image, with the header's spacing (1 mm) and the same landmarks as its PNG
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": "ceph_dicom", "output": "json"}, timeout=120)
    assert r.status_code == 200, r.text
    dicom = r.json()
    assert dicom["image_id"] == "ceph_dicom" and dicom["spacing_mm"] == [1.0, 1.0]
    np.testing.assert_allclose(_points(dicom), _points(_infer(url, _image_id(served["test"][0]))), atol=1e-3)


def _slicer_labelmap(path, item, centres, values):
    """What the Slicer plugin's Submit Label writes: the segments exported as one label map on the image's grid
    (a one-slice volume, ``.nii.gz``), here a disc of radius 3 per segment."""
    import SimpleITK as sitk

    h, w = _pixels(item).shape
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
    client.save_label(_image_id(item), path, params={"label_info": label_info})
    stored = requests.get(f"{url}/datastore/label", params={"label": _image_id(item), "tag": "final"}, timeout=60)
    assert stored.status_code == 200, stored.text
    record = stored.json()
    got = {p["name"]: (p["x"], p["y"]) for p in record["landmarks"]}
    assert list(got) == names[:4]
    np.testing.assert_allclose([got[n] for n in names[:4]], centres, atol=1e-4)
    # a landmark painted twice is refused with what to do
    bad = _slicer_labelmap(tmp / "two_blobs.nii.gz", item, [centres[0], [5.0, 5.0]], [1, 1])
    with pytest.raises(MONAILabelClientException, match="separate blobs; paint one blob per landmark"):
        client.save_label(_image_id(item), bad, params={"label_info": [{"name": names[0], "idx": 1}]})


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
    port = _free_port()
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
        deadline = time.time() + 60
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
            path = write_dicom(tmp / f"ceph{n}.dcm", _pixels(item), tags)
            assert requests.post(f"{url}/instances", data=path.read_bytes(), timeout=60).ok
            series[uid] = item
        ct = {"PatientID": "P9", "StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid(),
              "Modality": "CT", "PixelSpacing": [1.0, 1.0]}  # fmt: skip
        ct_path = write_dicom(tmp / "ct.dcm", np.zeros((16, 16), dtype=np.uint16), ct)
        assert requests.post(f"{url}/instances", data=ct_path.read_bytes(), timeout=60).ok
        yield {"dicomweb": f"{url}/dicom-web", "series": series, "ct": ct["SeriesInstanceUID"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def dicomweb_served(served, orthanc):
    """The same bundle served with ``--studies <Orthanc's DICOMweb root>``."""
    tmp = served["tmp"]
    app = make_app_dir(tmp / "app-dicomweb")
    server, url, log = _start_server(tmp, "server-dicomweb", app, orthanc["dicomweb"], served["bundle"],
                                     served["overrides"], served["env"])  # fmt: skip
    try:
        _wait_for(url, server, log, timeout=240)
        yield {"url": url, "app": app, "log": log}
    finally:
        _stop(server)


def test_dicomweb_studies_are_served_from_orthanc(served, orthanc, dicomweb_served):
    url, series = dicomweb_served["url"], orthanc["series"]
    assert requests.get(f"{url}/datastore/", timeout=60).json()["total"] == 2  # the DX series, not the CT slice
    for uid, item in series.items():
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": uid, "output": "json"}, timeout=120)
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["image_id"] == uid and result["spacing_mm"] == [1.0, 1.0]  # the DICOM header's Pixel Spacing
        np.testing.assert_allclose(_points(result), _points(_infer(served["url"], _image_id(item))), atol=1e-3)
    uid, item = next(iter(series.items()))
    # OHIF v3's request: the label map result on the DICOM's grid
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": uid, "output": "image"},
                      files={"params": (None, json.dumps({"result_extension": ".nrrd", "restore_label_idx": False}))},
                      timeout=120)  # fmt: skip
    assert r.status_code == 200 and r.content[:4] == b"NRRD", r.text[:300]
    # a corrected result saved back as the series' label, kept in the app's cache (not on the DICOM server)
    label = {"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in enumerate(item["landmarks"][0].tolist())]}
    r = requests.put(f"{url}/datastore/label", params={"image": uid, "tag": "final"},
                     files={"label": ("label.json", json.dumps(label).encode())}, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    stored = requests.get(f"{url}/datastore/label", params={"label": uid, "tag": "final"}, timeout=60)
    np.testing.assert_allclose(_points(stored.json()), item["landmarks"][0], atol=1e-4)
    assert requests.get(f"{url}/datastore/", timeout=60).json()["completed"] == 1
    assert list((dicomweb_served["app"] / "dicomweb").rglob(f"{uid}.json"))  # the cache is in the app folder
    for missing in [orthanc["ct"], "1.2.3.4"]:  # filtered out, or not on the server
        r = requests.post(f"{url}/infer/{MODEL}", params={"image": missing, "output": "json"}, timeout=60)
        assert r.status_code == 404 and "not in the datastore" in r.json()["detail"]
