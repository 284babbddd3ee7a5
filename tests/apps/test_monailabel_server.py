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
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("monailabel")
requests = pytest.importorskip("requests")

from monai_landmarks.apps.monailabel import make_app_dir  # noqa: E402
from monai_landmarks.data.dataset_format import load_datalist  # noqa: E402
from monai_landmarks.data.synthetic import generate_phantom_dataset  # noqa: E402
from tests.apps.monailabel_servers import BIN, image_id_of, infer_json, result_points, start_server, stop, wait_for  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gu2net_ceph"
# the synthetic profile's network and input (train.json picks them when no dataset_dir is set)
SETTINGS = {"image_size": [96, 128], "channels": [16, 32, 64, 128, 128]}
EPOCHS = 6
#: truth tolerance: mean radial error in pixels (1 mm per pixel) of the HTTP result over the 4 served phantoms.
#: A 6-epoch CPU GU2Net on 32 phantoms lands near 5 px (4 epochs on 16 phantoms gave 61 px, so the check bites);
#: the mean-shape baseline of the phantoms is about 6.5 mm.
MRE_TOLERANCE_PX = 12.0


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
    overrides = tmp / "overrides.json"
    overrides.write_text(json.dumps({MODEL: SETTINGS}))
    server, url, log = start_server(tmp, "server", make_app_dir(tmp / "app"), studies, bundle, overrides, env)
    try:
        wait_for(url, server, log, timeout=240)
        yield {"url": url, "bundle": bundle, "data": data, "test": test, "tmp": tmp, "env": env, "train_s": train_s}
    finally:
        stop(server)


def _infer(url, image_id, spacing=1.0):
    return infer_json(url, MODEL, image_id, spacing, timeout=120)


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
        result = _infer(served["url"], image_id_of(item))
        names = [p["name"] for p in result["landmarks"]]
        # centroids as the radiology app's localization models give them: {name: [label value, x, y, 0]}
        assert list(result["centroids"]) == names and len(names) == 19
        assert [int(result["centroids"][n][0]) for n in names] == list(range(1, 20))
        centroids = np.array([[float(v) for v in result["centroids"][n][1:3]] for n in names])
        np.testing.assert_allclose(centroids, result_points(result), atol=1e-4)
        assert [p["x_mm"] for p in result["landmarks"]] == [p["x"] for p in result["landmarks"]]  # 1 mm/px given
        assert all(0.0 <= p["confidence"] for p in result["landmarks"])
        bundle = json.loads((out / f"{Path(item['image']).name}.json").read_text())  # outputs: full file name
        np.testing.assert_allclose(
            result_points(result), result_points(bundle), atol=1e-3
        )  # the same pipeline, same numbers
        errors.append(np.linalg.norm(result_points(result) - item["landmarks"][0], axis=1))
    mre = float(np.mean(errors))
    print(f"\nHTTP inference MRE over {len(errors)} phantoms: {mre:.2f} px (trained {served['train_s']:.0f} s)")
    assert mre < MRE_TOLERANCE_PX


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(served):
    url = served["url"]
    r = requests.post(f"{url}/infer/no_such_model", params={"image": image_id_of(served["test"][0])}, timeout=60)
    assert r.status_code == 404 and "unknown model 'no_such_model'" in r.json()["detail"]
    assert MODEL in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"output": "json"},
                      files={"file": ("scan.png", b"this is not a PNG")}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "cannot be read as an image" in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": "no_such_image"}, timeout=60)
    assert r.status_code == 404 and "not in the datastore" in r.json()["detail"]
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": image_id_of(served["test"][0]), "output": "json"},
                      files={"params": (None, json.dumps({"spacing_mm": -1}))}, timeout=60)  # fmt: skip
    assert r.status_code == 400 and "spacing_mm" in r.json()["detail"]
    image = image_id_of(served["test"][0])
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
    url, ids = served["url"], [image_id_of(t) for t in served["test"]]
    expected = {i: result_points(_infer(url, i)) for i in ids}
    start = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: (ids[n % len(ids)], _infer(url, ids[n % len(ids)])), range(50)))
    seconds = time.time() - start
    print(f"\n50 concurrent inference requests (8 client threads): {seconds:.1f} s, {50 / seconds:.1f} requests/s")
    assert len(results) == 50
    for image_id, result in results:
        np.testing.assert_allclose(result_points(result), expected[image_id], atol=1e-4)


def test_labels_train_the_model(served):
    url, bundle = served["url"], served["bundle"]
    for item in served["test"][:3]:
        points = enumerate(item["landmarks"][0].tolist())
        label = {"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in points], "spacing_mm": [1.0, 1.0]}
        r = requests.put(f"{url}/datastore/label", params={"image": image_id_of(item), "tag": "final"},
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
    assert len(_infer(url, image_id_of(served["test"][0]))["centroids"]) == 19  # and inference reloads them


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
        result_file, params = client.infer(MODEL, image_id_of(item), {"result_extension": ".nrrd"})
        assert result_file.endswith(".json")  # Slicer loads *.json results with loadMarkups
        markups = json.loads(Path(result_file).read_text())
        np.testing.assert_allclose(points_from_markups(markups, item["image"], names), result_points(params), atol=1e-4)
        means[image_id_of(item)] = float(np.mean([p["confidence"] for p in params["landmarks"]]))

    # the OHIF v3 plugin's request (output=image, restore_label_idx): a uint8 NRRD label map with discs at landmarks
    r = requests.post(f"{url}/infer/{MODEL}", params={"image": image_id_of(test[0]), "output": "image"},
                      files={"params": (None, json.dumps({"result_extension": ".nrrd", "result_dtype": "uint8",
                                                          "result_compress": False, "restore_label_idx": False}))},
                      timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    (tmp / "ohif.nrrd").write_bytes(r.content)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp / "ohif.nrrd")))  # (H, W)
    pixels = np.rint(result_points(_infer(url, image_id_of(test[0])))).astype(int)
    hits = sum(int(label[y, x] == k + 1) for k, (x, y) in enumerate(pixels))
    assert label.dtype == np.uint8 and hits >= 15  # discs of nearby landmarks may cover each other

    # a 3D Slicer markups label (RAS) is stored in the app's format, in pixels
    item = test[4]
    markups_file = tmp / f"{image_id_of(item)}.mrk.json"
    markups_file.write_text(json.dumps(_markups_of(item["landmarks"][0].tolist(), names)))
    client.save_label(image_id_of(item), str(markups_file), tag="final")
    stored = requests.get(f"{url}/datastore/label", params={"label": image_id_of(item), "tag": "final"}, timeout=60)
    assert stored.status_code == 200, stored.text
    np.testing.assert_allclose(result_points(stored.json()), item["landmarks"][0], atol=1e-4)

    # train on the labels (3 from the earlier test, this one), then ask for the least confident unlabelled image
    client.train_start(MODEL, {"max_epochs": 1, "val_split": 0.25, "device": "cpu"})
    start, status = time.time(), {}
    while time.time() - start < 600:
        status = client.train_status()
        if status.get("status") in ("DONE", "ERROR"):
            break
        time.sleep(2)
    assert status.get("status") == "DONE", status
    labelled = {image_id_of(t) for t in test[:3]} | {image_id_of(item)}
    unlabelled = {i: m for i, m in means.items() if i not in labelled}
    sample = client.next_sample("least_confident", {})
    assert sample["id"] == min(unlabelled, key=unlabelled.get), (sample, unlabelled)
    assert sample["confidence"] == pytest.approx(unlabelled[sample["id"]])
