"""Mistakes a user can fix (a wrong path, an unknown flag, a corpus with no usable row) end as one line, not a traceback.

`UserError` carries a message that names the file, flag or row and what was expected. `run_cli` prints it as
`<prog>: error: <message>` and exits 2. Everything else is a bug and keeps its traceback. Set `DISTILLERY_DEBUG=1`
(or pass `--traceback`) to get the traceback of a UserError too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence

DEBUG_ENV = "DISTILLERY_DEBUG"
DEBUG_FLAG = "--traceback"
EXIT_USER_ERROR = 2


class UserError(Exception):
    """A mistake in the command line, the recipe or the data; the message says where and what was expected."""


def one_line(text: object) -> str:
    """`text` with its line breaks and runs of spaces folded, so the error stays on one line."""
    return " ".join(str(text).split())


def debug_enabled(argv: Sequence[str]) -> bool:
    """True when tracebacks of user errors were asked for (`DISTILLERY_DEBUG=1` or `--traceback`)."""
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "").lower() not in ("", "0", "false", "no")


def run_cli(prog: str, main: Callable[[list[str]], object], argv: Sequence[str]) -> int:
    """Run `main(argv)`; a UserError becomes one line on stderr and exit status 2 (traceback only in debug mode).

    Under a launcher every rank meets the same mistake; only local rank 0 prints it, so a node shows it once. Under
    torchrun (`accelerate launch` with several processes) the message also goes into the elastic error file, so the
    launcher's failure summary names it as the root cause instead of "To enable traceback see ...".
    """
    debug = debug_enabled(argv)
    args = [a for a in argv if a != DEBUG_FLAG]
    try:
        main(args)
    except UserError as err:
        if debug:
            raise
        message = f"{prog}: error: {one_line(err)}"
        if os.environ.get("LOCAL_RANK", "0") == "0":
            print(message, file=sys.stderr, flush=True)
        _record_for_torchrun(message)
        return EXIT_USER_ERROR
    return 0


def _record_for_torchrun(message: str) -> None:
    """Write `message` where torchelastic reads a failed worker's error (its error-file format, no traceback)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "w") as f:
            json.dump({"message": {"message": message, "extraInfo": {"timestamp": str(int(time.time()))}}}, f)
    except OSError:
        pass  # the message is already on stderr
