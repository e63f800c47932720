"""Progress bars show on a terminal only: a redirected stderr (a CI log) gets no carriage returns."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import subprocess
import sys

SCRIPT = ("from sonobridge.util.progress import progress_bar\n"
          "import time\n"
          "for _ in progress_bar(range(3), progress={progress}, mininterval=0):\n"
          "    time.sleep(0.01)\n")


def _stderr_of(progress: bool, terminal: bool) -> bytes:
    command = [sys.executable, "-c", SCRIPT.format(progress=progress)]
    if not terminal:
        return subprocess.run(command, capture_output=True, timeout=60, check=True).stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))   # a real terminal's size
    try:
        subprocess.run(command, stderr=follower, stdout=subprocess.DEVNULL, timeout=60, check=True)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:       # the follower side is closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(leader)


def test_redirected_stderr_gets_no_bar():
    assert _stderr_of(progress=True, terminal=False) == b""


def test_a_terminal_gets_the_bar():
    assert b"3/3" in _stderr_of(progress=True, terminal=True)


def test_progress_false_silences_the_terminal_too():
    assert b"3/3" not in _stderr_of(progress=False, terminal=True)
