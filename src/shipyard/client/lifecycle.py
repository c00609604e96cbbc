"""Process exit: runs still open are flushed and ended, FINISHED after a normal exit or FAILED
after an uncaught exception, so no buffered metric point is lost either way."""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from shipyard.tracking.model import RunStatus

if TYPE_CHECKING:
    from shipyard.client.run import ActiveRun

log = logging.getLogger(__name__)
_open: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_crashed = False


def track(run: ActiveRun) -> None:
    global _installed
    with _lock:
        _open.add(run)
        if not _installed:
            _installed = True
            atexit.register(_finish_open_runs)
            previous = sys.excepthook

            def _hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
                global _crashed
                _crashed = True
                previous(kind, value, tb)

            sys.excepthook = _hook


def forget(run: ActiveRun) -> None:
    with _lock:
        _open.discard(run)


def _finish_open_runs() -> None:
    status = RunStatus.FAILED if _crashed else RunStatus.FINISHED
    for run in list(_open):
        try:
            run.end(status)
        except Exception as exc:  # exit must go on; say what could not be saved
            log.error("shipyard: could not end run %s at exit: %s", run.id, exc)
