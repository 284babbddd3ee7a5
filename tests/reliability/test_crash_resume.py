"""Crash safety and determinism of bundle training (htc_ceph, tiny settings, CPU, one thread).

A run that dies mid-epoch (an exception in this process, or SIGKILL of a subprocess) and is started again
resumes from its last epoch checkpoint and ends with the same weights, best model and validation metrics as
a run that never stopped. The same seed gives the same data order, augmentations and weights; another seed
does not.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _training import outcome, train

from monai_landmarks.data import generate_phantom_dataset

EPOCHS = 3
CRASH_AT = (2, 2)  # epoch 2, its 2nd of 4 iterations: the epoch 1 checkpoint exists, epoch 2 is half done


class Crash(Exception):
    pass


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    return generate_phantom_dataset(tmp_path_factory.mktemp("data") / "head", "head", 8, 2, 2, size=(64, 80))


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the subprocess runs use one thread too: same floating-point reductions
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def straight(phantoms, one_thread, tmp_path_factory):
    """An uninterrupted run with seed 0: what every interrupted run must end with."""
    root = tmp_path_factory.mktemp("straight")
    run = train(root, phantoms, EPOCHS, seed=0)
    return run, outcome(root)


def _epochs(batches, first):
    return [b for b in batches if b["epoch"] >= first]


def _crash(engine):
    in_epoch = (engine.state.iteration - 1) % engine.state.epoch_length + 1
    if (engine.state.epoch, in_epoch) == CRASH_AT:
        raise Crash("simulated crash mid-epoch")


def test_exception_mid_epoch_then_restart_matches_an_uninterrupted_run(phantoms, straight, tmp_path):
    with pytest.raises(Exception) as info:
        train(tmp_path, phantoms, EPOCHS, seed=0, hook=_crash)
    assert "simulated crash" in "".join(str(e) for e in (info.value, info.value.__cause__))
    assert [p.name for p in (tmp_path / "models").glob("checkpoint_*.pt")] == ["checkpoint_epoch=1.pt"]
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"

    resumed = train(tmp_path, phantoms, EPOCHS, seed=0)
    assert resumed["resumed_from"] == "checkpoint_epoch=1.pt"
    assert resumed["batches"] == _epochs(straight[0]["batches"], 2)  # same data order and augmentations
    assert outcome(tmp_path) == straight[1]


def test_sigkill_mid_epoch_then_restart_matches_an_uninterrupted_run(phantoms, straight, tmp_path):
    script = Path(__file__).with_name("_training.py")
    settings = json.dumps({"bundle_root": str(tmp_path / "run"), "data_root": str(phantoms), "epochs": EPOCHS})
    out = tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(out), settings]
    killed = subprocess.Popen([*cmd, *map(str, CRASH_AT)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    paused = Path(f"{out}.paused")
    deadline = time.monotonic() + 240
    while not paused.is_file() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert paused.is_file(), f"the run never reached its pause point: {killed.stderr.read().decode()[-2000:]}"
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(60) == -signal.SIGKILL
    killed.stderr.close()
    models = tmp_path / "run" / "models"
    assert [p.name for p in models.glob("checkpoint_*.pt")] == ["checkpoint_epoch=1.pt"]

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads(out.read_text())
    assert resumed["resumed_from"] == "checkpoint_epoch=1.pt"
    assert resumed["batches"] == _epochs(straight[0]["batches"], 2)
    assert outcome(tmp_path / "run") == straight[1]
    assert not list((tmp_path / "run").rglob("*.tmp")), "a temporary file was left behind"


def test_same_seed_same_run_other_seed_differs(phantoms, straight, one_thread, tmp_path):
    again = train(tmp_path / "again", phantoms, EPOCHS, seed=0)
    assert again["batches"] == straight[0]["batches"]  # data order and augmentation draws
    assert outcome(tmp_path / "again") == straight[1]  # weights and metrics, bit for bit on CPU

    other = train(tmp_path / "other", phantoms, EPOCHS, seed=1)
    orders = [[b["ids"] for b in run["batches"]] for run in (straight[0], other)]
    assert orders[0] != orders[1]
    assert {b["image"] for b in straight[0]["batches"]}.isdisjoint(b["image"] for b in other["batches"])
    assert outcome(tmp_path / "other")["final"] != straight[1]["final"]
    # within a run, epochs are shuffled differently too
    epochs = [[tuple(b["ids"]) for b in straight[0]["batches"] if b["epoch"] == e] for e in (1, 2, 3)]
    assert len({tuple(e) for e in epochs}) == 3


def test_checkpoint_saver_never_leaves_half_a_file(tmp_path, monkeypatch):
    from ignite.engine import Engine

    from monai_landmarks.handlers.checkpoint_saver import AtomicCheckpointSaver

    engine = Engine(lambda engine, batch: None)
    net = torch.nn.Linear(2, 1)
    save = {"network": net, "optimizer": torch.optim.SGD(net.parameters(), lr=0.1)}
    AtomicCheckpointSaver(str(tmp_path), save, save_interval=1, n_saved=1).attach(engine)
    engine.run([0], max_epochs=1)
    good = (tmp_path / "checkpoint_epoch=1.pt").read_bytes()

    def killed_while_saving(obj, f, *args, **kwargs):
        Path(f).write_bytes(good[:10])
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(torch, "save", killed_while_saving)
    with pytest.raises(KeyboardInterrupt):
        engine.run([0], max_epochs=2)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_epoch=1.pt"]
    assert (tmp_path / "checkpoint_epoch=1.pt").read_bytes() == good
