"""Wall time and peak memory of one child process, measured by the kernel (wait4's rusage).

A child forked straight from the bench inherits its memory until it execs, and Linux folds
that image's high-water mark into the child's peak RSS: after the 20,000-item feed bench every
child "peaked" at the bench's 217 MiB. So the command is started by a small launcher, a fresh
interpreter that forks it from its own small image and reports what wait4 says of it alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence

_LAUNCH = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "seconds": seconds, "kib": usage.ru_maxrss}))
"""


def run_measured(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of `command`, which must succeed: this child's own, started
    from a small launcher (see above), not every child the bench ever started."""
    launched = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCH, *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = launched.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"code": launched.returncode}
    if launched.returncode != 0 or result["code"] != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {launched.stderr}")
    return float(result["seconds"]), float(result["kib"]) / 1024
