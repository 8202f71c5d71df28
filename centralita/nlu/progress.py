"""Training progress: a bar on standard error when asked for (the CLI), and reports to a
callback (the trainer stores them for the admin page's bar)."""

from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

# (step, done, total), called from the training thread.
Report = Callable[[str, int, int], None]


class Steps:
    """Named steps, each with a total; shown as a bar if ``shown``, told to ``report`` if given."""

    def __init__(self, shown: bool, report: Report | None = None) -> None:
        self._report = report
        self._name = ""
        self._done = 0
        self._total = 0
        self._progress = (
            Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            if shown
            else None
        )
        self._task: TaskID | None = None

    def __enter__(self) -> "Steps":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, name: str, total: int) -> None:
        self._name, self._done, self._total = name, 0, total
        if self._report is not None:
            self._report(name, 0, total)
        if self._progress is not None:
            self._task = self._progress.add_task(name, total=total)

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        if self._report is not None:
            self._report(self._name, self._done, self._total)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)
