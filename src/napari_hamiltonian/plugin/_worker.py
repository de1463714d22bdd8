"""One lifecycle for the widgets' background work: a generator run with a progress bar.

Both dock widgets run a generator (progress messages, then a result) through
:class:`GeneratorRun`: in a napari ``thread_worker`` by default, or in the calling
thread when the environment variable ``NAPARI_HAMILTONIAN_NOTHREADS`` is set to a
non-empty value other than ``0`` (deterministic widget tests, debugging). Either way
:meth:`GeneratorRun.quit` stops the generator at its next ``yield``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from napari.qt.threading import create_worker
from napari.utils import progress

from ..tuning import hold_full_collections, release_full_collections

#: Environment variable that runs widget work without threads.
NOTHREADS = "NAPARI_HAMILTONIAN_NOTHREADS"


def threads_off() -> bool:
    """True when :data:`NOTHREADS` asks for synchronous runs."""
    return os.environ.get(NOTHREADS, "") not in ("", "0")


class GeneratorRun:
    """Run ``function(*args)``, a generator, with a napari progress bar.

    Parameters
    ----------
    function, args
        The generator function and its arguments.
    total : int
        Steps of the progress bar.
    desc : str
        Its first description.
    on_yield, on_return, on_error : callable
        Called with each yielded message, the generator's return value and an
        exception raised by it.
    on_finish : callable
        Called with no argument once the run has ended (normally, by error or by
        :meth:`quit`), after the progress bar is closed.
    """

    def __init__(self, function: Callable, args: tuple, *, total: int, desc: str,
                 on_yield: Callable, on_return: Callable | None = None,
                 on_error: Callable | None = None, on_finish: Callable | None = None):
        self._function, self._args = function, args
        self._on_yield, self._on_return = self._orphan_safe(on_yield), \
            self._orphan_safe(on_return)
        self._on_error, self._on_finish = self._orphan_safe(on_error), \
            self._orphan_safe(on_finish)
        self.progress = progress(total=total, desc=desc)
        self._quit = False
        self._worker = None
        self._release = False  # whether this run holds full collections (threaded)

    def _orphan_safe(self, callback: Callable | None) -> Callable | None:
        """``callback``, except that once the dock or viewer it updates has been closed
        (Qt deleted its widgets: RuntimeError "... has been deleted") the run stops at
        its next ``yield`` and what it would have shown is dropped. Raised from a
        worker's signal, that error would abort the whole Python process (a Jupyter
        kernel with it)."""
        if callback is None:
            return None

        def call(*args):
            try:
                return callback(*args)
            except RuntimeError as err:
                if "has been deleted" not in str(err):
                    raise
                self.quit()
                return None
        return call

    def start(self) -> None:
        """Start the run (in a thread unless :func:`threads_off`)."""
        if threads_off():
            self._run_here()
            return
        self._worker = create_worker(self._function, *self._args, _start_thread=False)
        self._worker.yielded.connect(self._on_yield)
        if self._on_return is not None:
            self._worker.returned.connect(self._on_return)
        if self._on_error is not None:
            self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self._finish)
        hold_full_collections()
        self._release = True
        self._worker.start()

    def _run_here(self) -> None:
        gen = self._function(*self._args)
        try:
            while not self._quit:
                try:
                    message = next(gen)
                except StopIteration as stop:
                    if self._on_return is not None:
                        self._on_return(stop.value)
                    break
                self._on_yield(message)
        except Exception as err:  # noqa: BLE001 - reported like the worker's errored
            if self._on_error is None:
                raise
            self._on_error(err)
        finally:
            gen.close()
            self._finish()

    def quit(self) -> None:
        """Stop at the generator's next ``yield``."""
        self._quit = True
        if self._worker is not None:
            self._worker.quit()

    def _finish(self) -> None:
        if self._release:
            self._release = False
            release_full_collections()
        self.progress.close()
        if self._on_finish is not None:
            self._on_finish()
