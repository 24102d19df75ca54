"""Build a model folder once, atomically, even when several processes (pytest workers, ranks) race to build it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def build_once(out_dir: Path, marker: str, write: Callable[[Path], None]) -> Path:
    """Return `out_dir`, first calling `write(tmp)` and renaming tmp into place unless `out_dir/marker` exists.

    `write` must create `marker` last. Readers see either nothing or a complete folder.
    """
    out_dir = Path(out_dir)
    if (out_dir / marker).exists():
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
        write(tmp)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if not (out_dir / marker).exists():
                raise  # out_dir exists but is neither ours nor complete: do not clobber it
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
