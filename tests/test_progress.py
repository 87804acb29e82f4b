"""The one progress-bar factory: on or off by IEM_PROGRESS and the caller's flag."""

from implicit_em import progress


def test_bar_follows_the_setting_and_the_flag(monkeypatch):
    monkeypatch.setenv("IEM_PROGRESS", "0")
    assert progress.bar("fit", 10) is None
    assert list(progress.track([1, 2], "t")) == [1, 2]
    monkeypatch.setenv("IEM_PROGRESS", "1")
    assert progress.bar("fit", 10, show=False) is None
    bar = progress.bar("fit", 10)
    try:
        (task,) = bar.tasks
        assert task.description == "fit" and task.total == 10 and task.fields == {"info": ""}
        bar.update(bar.task_ids[0], advance=3, info="loss 1")
        assert bar.tasks[0].completed == 3
    finally:
        bar.stop()
