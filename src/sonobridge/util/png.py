"""PNG files: images written atomically, with their physical pixel size when known."""
from __future__ import annotations

import os

import numpy as np

METRES_PER_INCH = 0.0254


def save_png(image: np.ndarray, path: str | os.PathLike, *, pixel_size_m: float | None = None) -> None:
    """Write ``image`` to ``path`` as PNG, under a temporary name renamed when complete.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 grey ``(height, width)`` or RGB ``(height, width, 3)``.
    path : str or os.PathLike
        The ``.png`` to write (replaced if present).
    pixel_size_m : float, optional
        Square pixel size in metres: written as the ``pHYs`` chunk (pixels per metre), so viewers
        show the image at its physical scale. None: no ``pHYs``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
    >>> save_png(np.zeros((4, 6), np.uint8), target, pixel_size_m=1e-4)
    >>> Image.open(target).size, round(Image.open(target).info["dpi"][0])
    ((6, 4), 254)
    """
    from PIL import Image

    from .atomic import atomic_path

    options = {} if pixel_size_m is None else {"dpi": (METRES_PER_INCH / pixel_size_m,) * 2}
    with atomic_path(path) as temporary:
        Image.fromarray(np.asarray(image)).save(temporary, format="PNG", **options)
