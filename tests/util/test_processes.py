"""Pool workers end with the process that started them, even when it is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sonobridge.util.processes import end_with_parent

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from sonobridge.util.processes import end_with_parent

    def work(path):
        open(path, "w").write(str(os.getpid()))
        time.sleep(600)

    if __name__ == "__main__":
        with ProcessPoolExecutor(1, initializer=end_with_parent, initargs=(os.getpid(),)) as pool:
            pool.submit(work, sys.argv[1])
            time.sleep(600)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the request to die with the parent is Linux's")
def test_a_killed_parent_takes_its_workers_along(tmp_path):
    (tmp_path / "pool.py").write_text(SCRIPT)
    marker = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(tmp_path / "pool.py"), str(marker)])
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(marker.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its killed parent")


def test_in_the_current_process_it_only_asks():
    assert end_with_parent(os.getppid()) is None
