"""PNG files: images written atomically, with their physical pixel size when known."""
from __future__ import annotations

import os

import numpy as np

METRES_PER_INCH = 0.0254


def save_png(image: np.ndarray, path: str | os.PathLike, *,
             pixel_size_m: float | tuple[float, float] | None = None) -> None:
    """Write ``image`` to ``path`` as PNG, under a temporary name renamed when complete.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 grey ``(height, width)`` or RGB ``(height, width, 3)``.
    path : str or os.PathLike
        The ``.png`` to write (replaced if present).
    pixel_size_m : float or (float, float), optional
        Pixel size in metres, square or ``(x, y)``: written as the ``pHYs`` chunk (pixels per
        metre, rounded), so viewers (ImageJ/Fiji included) show the image at its physical scale.
        None: no ``pHYs``.

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

    sizes = None if pixel_size_m is None else np.broadcast_to(np.asarray(pixel_size_m, np.float64), (2,))
    options = {} if sizes is None else {"dpi": tuple(float(METRES_PER_INCH / s) for s in sizes)}
    with atomic_path(path) as temporary:
        Image.fromarray(np.asarray(image)).save(temporary, format="PNG", **options)


def pixels_per_metre(path: str | os.PathLike) -> tuple[int, int] | None:
    """The ``pHYs`` chunk of the PNG at ``path``: ``(x, y)`` pixels per metre, None if it has none
    (or states only an aspect ratio). ImageJ/Fiji and most viewers take their scale from it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
    >>> save_png(np.zeros((4, 6), np.uint8), target, pixel_size_m=0.5e-3)
    >>> pixels_per_metre(target)
    (2000, 2000)
    """
    import struct

    with open(path, "rb") as file:
        data = file.read()
    position = 8                                   # after the signature
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"pHYs" and length == 9:
            x, y, unit = struct.unpack(">IIB", data[position + 8:position + 17])
            return (x, y) if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):             # pHYs precedes the image data
            return None
        position += 12 + length
    return None
