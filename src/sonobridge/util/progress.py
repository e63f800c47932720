"""Progress bars that appear only where a person is watching.

Long work shows a tqdm bar on stderr when stderr is a terminal (or a widget in a Jupyter notebook);
redirected to a file or a CI log it is silent (no carriage-return lines), and ``progress=False``
always silences it.

>>> from sonobridge.util.progress import progress_bar
>>> sum(progress_bar(range(4), progress=False))
6
"""
from __future__ import annotations

import sys
from typing import Any


def progress_bar(iterable: Any = None, *, progress: bool = True, **options: Any):
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total=``), shown only when
    ``progress`` is true and someone can see it (stderr a terminal, or a notebook); ``options``
    (``total``, ``unit``, ``desc``, ``leave``...) go to ``tqdm``."""
    from tqdm.auto import tqdm

    in_notebook = any(base.__module__ == "tqdm.notebook" for base in tqdm.__mro__)
    visible = progress and (in_notebook or sys.stderr.isatty())
    return tqdm(iterable, disable=not visible, **options)
