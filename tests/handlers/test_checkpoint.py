import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from monai.handlers import CheckpointSaver

from monai_landmarks.handlers import ResumeFromLatest, SaveBestModel, latest_checkpoint


def _trainer(ckpt_dir, max_epochs, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    data = [{"image": torch.full((2, 3), float(i)), "label": torch.full((2, 1), float(i) / 2)} for i in range(4)]
    trainer = SupervisedTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=data,
        network=net,
        optimizer=opt,
        loss_function=torch.nn.MSELoss(),
    )
    save = {"network": net, "optimizer": opt, "trainer": trainer}
    ResumeFromLatest(ckpt_dir, save).attach(trainer)
    CheckpointSaver(str(ckpt_dir), save, save_interval=1, n_saved=1).attach(trainer)
    return trainer, net


def test_restart_resumes_and_matches_an_uninterrupted_run(tmp_path):
    first, _ = _trainer(tmp_path / "a", max_epochs=2)
    first.run()
    assert latest_checkpoint(tmp_path / "a").name == "checkpoint_epoch=2.pt"
    epochs_run = []
    resumed, net = _trainer(tmp_path / "a", max_epochs=4, seed=123)  # other init: must be overwritten
    resumed.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs_run.append(e.state.epoch))
    resumed.run()
    assert epochs_run == [3, 4]
    straight, net_straight = _trainer(tmp_path / "b", max_epochs=4)
    straight.run()
    for a, b in zip(net.parameters(), net_straight.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [p.name for p in (tmp_path / "a").glob("*.pt")] == ["checkpoint_epoch=4.pt"]


def test_no_checkpoint_starts_fresh(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None
    trainer, _ = _trainer(tmp_path, max_epochs=1)
    trainer.run()
    assert trainer.state.epoch == 1


def _evaluator(values):
    engine = Engine(lambda e, b: None)

    @engine.on(Events.COMPLETED)
    def _metric(e):
        e.state.metrics["val_mre"] = values[e.state.epoch - 1]

    return engine


def test_save_best_model_keeps_the_lowest_and_survives_restart(tmp_path):
    net = torch.nn.Linear(2, 1)
    saver = SaveBestModel(tmp_path / "model.pt", net, "val_mre")
    values = [3.0, 2.0, 2.5]
    evaluator = Engine(lambda e, b: None)
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(val_mre=values.pop(0)))
    saver.attach(evaluator)
    for _ in range(3):
        with torch.no_grad():
            net.weight.add_(1.0)
        evaluator.run([0])
    assert saver.best == 2.0
    saved = torch.load(tmp_path / "model.pt")
    assert torch.equal(saved["weight"], net.weight - 1.0)  # the weights of the second evaluation
    again = SaveBestModel(tmp_path / "model.pt", net, "val_mre")
    again.load_state_dict(saver.state_dict())
    evaluator2 = Engine(lambda e, b: None)
    evaluator2.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(val_mre=2.2))
    again.attach(evaluator2)
    evaluator2.run([0])
    assert again.best == 2.0 and torch.equal(torch.load(tmp_path / "model.pt")["weight"], saved["weight"])


def test_save_best_model_names_missing_metric(tmp_path):
    import pytest

    saver = SaveBestModel(tmp_path / "m.pt", torch.nn.Linear(1, 1), "val_mre")
    engine = Engine(lambda e, b: None)
    saver.attach(engine)
    with pytest.raises(KeyError, match="val_mre"):
        engine.run([0])
    with pytest.raises(ValueError, match="mode"):
        SaveBestModel(tmp_path / "m.pt", torch.nn.Linear(1, 1), "x", mode="lowest")
