"""Worker processes that end with the process that started them.

A ``concurrent.futures`` worker whose parent is killed (SIGKILL, out of memory) would otherwise
keep converting and writing with nobody to collect its results. :func:`end_with_parent`, run as a
pool's ``initializer``, asks Linux to kill the worker when its parent dies (elsewhere it does
nothing: the platform has no such request).

>>> import os
>>> end_with_parent(os.getppid()) is None
True
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1        #: prctl option: the signal this process gets when its parent ends


def end_with_parent(parent_pid: int) -> None:
    """In a worker process: be killed when the process ``parent_pid`` (the one that started the
    pool) ends; exit at once if it has ended already."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):       # no libc prctl: nothing to ask for
        return
    if os.getppid() != parent_pid:          # the parent died before the request was made
        os._exit(1)
