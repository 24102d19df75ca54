"""One long-lived thread that starts child processes which must die with this process.

Linux sends a parent-death signal (prctl PR_SET_PDEATHSIG, and bwrap's --die-with-parent) when the *thread* that
forked the child ends, not the process. Children started from short-lived threads (a ThreadPoolExecutor batch,
`eval run`'s grading thread) would be killed as soon as that thread finished; started from this thread, they are
killed when the process dies, even by SIGKILL.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_thread: ThreadPoolExecutor | None = None


def spawner() -> ThreadPoolExecutor:
    """The process-wide spawning thread (started on first use)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="child-spawner")
        return _thread


def _forget_in_child() -> None:
    # A forked copy of this process does not have the thread: it starts its own.
    global _lock, _thread
    _lock, _thread = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_in_child)
