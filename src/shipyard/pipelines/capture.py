"""Capturing a step's stdout and stderr per thread, so steps running in threads side by side (and
the driver printing progress) do not mix their output."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_local = threading.local()
_install_lock = threading.Lock()

#: Kept per stream: beyond this the captured text is cut (the tail is kept).
MAX_CAPTURE = 1024 * 1024


class _Router(io.TextIOBase):
    def __init__(self, name: str, fallback: TextIO) -> None:
        self.name_ = name
        self.fallback = fallback

    def write(self, text: str) -> int:
        buffer = getattr(_local, self.name_, None)
        if buffer is None:
            return self.fallback.write(text)
        return int(buffer.write(text))

    def flush(self) -> None:
        if getattr(_local, self.name_, None) is None:
            self.fallback.flush()

    def isatty(self) -> bool:
        return False if getattr(_local, self.name_, None) is not None else self.fallback.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def _install() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router("stdout", sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router("stderr", sys.stderr)


@contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Route this thread's ``print`` and ``sys.stderr`` writes into two buffers."""
    _install()
    out, err = io.StringIO(), io.StringIO()
    _local.stdout, _local.stderr = out, err
    try:
        yield out, err
    finally:
        _local.stdout = _local.stderr = None


def text_of(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    return text if len(text) <= MAX_CAPTURE else "[cut]\n" + text[-MAX_CAPTURE:]
