"""Wall time and peak memory of one child process, measured by the kernel (wait4's rusage)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence


def run_measured(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of `command`, which must succeed. Only this child is counted,
    not every child the bench ever started (as RUSAGE_CHILDREN would)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"{' '.join(command)} failed: {error}")
    return elapsed, usage.ru_maxrss / 1024
