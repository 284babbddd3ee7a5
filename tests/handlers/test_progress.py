"""RunProgress: the bundles' progress bar, off when a run is quiet."""

from __future__ import annotations

from ignite.engine import Engine

from monai_landmarks.handlers import RunProgress


def _run(handler):
    engine = Engine(lambda engine, batch: batch)
    handler.attach(engine)
    engine.run(list(range(7)), max_epochs=1)


def test_bar_counts_the_iterations(capsys):
    _run(RunProgress("evaluate"))
    err = capsys.readouterr().err
    assert "evaluate" in err and "7/7" in err


def test_disabled_attaches_nothing(capsys):
    handler = RunProgress("evaluate", enabled=False)
    _run(handler)
    assert handler.bar is None and "evaluate" not in capsys.readouterr().err


def test_text_false_from_a_command_line_is_off():
    assert not RunProgress("x", enabled="false").enabled and RunProgress("x", enabled="True").enabled
