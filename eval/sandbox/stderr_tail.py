"""The last bytes a long-lived sandboxed process wrote to stderr, read by a thread so the process never blocks."""

from __future__ import annotations

import os
import threading


class StderrTail:
    """Drain `fd` until EOF, keeping only its last `keep` bytes; `text()` decodes them."""

    def __init__(self, fd: int, keep: int):
        self.fd, self.keep = fd, keep
        self._buf = bytearray()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self._buf += chunk
            if len(self._buf) > 2 * self.keep:  # trim in bulk, not on every chunk
                del self._buf[: len(self._buf) - self.keep]

    def text(self) -> str:
        return bytes(self._buf[-self.keep:]).decode("utf-8", errors="replace")

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)
