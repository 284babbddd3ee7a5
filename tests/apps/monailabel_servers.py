"""Start, query and stop ``monailabel start_server`` (and Orthanc) for the server tests of the MONAI Label app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp, name, app, studies, bundle, overrides, env):
    """``monailabel start_server`` on a free loopback port; ``(process, url, log path)``."""
    port = free_port()
    log_path = Path(tmp) / f"{name}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(BIN / "monailabel"), "start_server", "--app", str(app), "--studies", str(studies),
             "--host", "127.0.0.1", "--port", str(port), "--conf", "bundles", str(bundle),
             "--conf", "overrides", str(overrides)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True,
        )  # fmt: skip
    return server, f"http://127.0.0.1:{port}", log_path


def wait_for(url, server, log, timeout, path="/info/"):
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"server exited with {server.returncode}:\n{Path(log).read_text()[-3000:]}")
        try:
            if requests.get(f"{url}{path}", timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"server did not answer {path} within {timeout} s:\n{Path(log).read_text()[-3000:]}")


def stop(server) -> None:
    """Stop a server started in its own session (its whole process group)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def tree(folder: Path) -> dict:
    """``{path: (size, mtime)}`` of everything under ``folder`` but Python's byte-code caches."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else "dir"
        for p in sorted(Path(folder).rglob("*"))
        if "__pycache__" not in p.parts
    }


def pixels(image) -> np.ndarray:
    """A phantom PNG's pixels as ``uint16`` (for DICOM files of the same image)."""
    from PIL import Image

    return np.asarray(Image.open(image), dtype=np.uint16)


def infer_json(url, model, image_id, spacing=1.0, timeout=120) -> dict:
    """A JSON inference of ``image_id`` by ``model`` at ``spacing_mm``, which must answer 200."""
    import json

    import requests

    r = requests.post(f"{url}/infer/{model}", params={"image": image_id, "output": "json"},
                      files={"params": (None, json.dumps({"spacing_mm": spacing}))}, timeout=timeout)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def result_points(result) -> np.ndarray:
    """The ``(K, 2)`` landmarks of a JSON result."""
    return np.array([[p["x"], p["y"]] for p in result["landmarks"]])


def image_id_of(item) -> str:
    """The datastore id of a phantom datalist item (its PNG file name without the suffix)."""
    return Path(item["image"]).name[: -len(".png")]
