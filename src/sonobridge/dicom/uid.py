"""DICOM UIDs (pydcm/pydicom-compatible :func:`generate_uid`).

``generate_uid()`` gives a random UID under the ``2.25.`` root (UUID-derived, as pydcm does with
``prefix=None``); ``generate_uid(prefix)`` one under ``prefix`` (at most 64 characters);
``entropy_srcs`` makes the result deterministic for that input. :data:`IMPLEMENTATION_UID_PREFIX`
is the root sonobridge's writers use for the UIDs they create.

Every other name of ``pydicom.uid`` is answered here too (:class:`~pydicom.uid.UID`, the transfer
syntax constants such as ``ExplicitVRLittleEndian``, ``PYDICOM_ROOT_UID`` ...), imported on first use,
so ``sonobridge.dicom.uid`` serves code written for ``pydicom.uid``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

#: root of the UIDs sonobridge writes (pydicom's root for generated UIDs)
IMPLEMENTATION_UID_PREFIX = "1.2.826.0.1.3680043.8.498."


def generate_uid(prefix: str | None = None, entropy_srcs: Sequence[str] | None = None) -> str:
    """A unique DICOM UID.

    Parameters
    ----------
    prefix : str or None
        Root ending in ``"."`` (e.g. :data:`IMPLEMENTATION_UID_PREFIX`); None: a ``2.25.`` UID
        derived from a UUID.
    entropy_srcs : sequence of str or None
        When given, the UID is derived from these strings (SHA-512) and is the same for the same
        input; None: random.

    Returns
    -------
    pydicom.uid.UID
        A ``str`` subclass, at most 64 characters.

    Examples
    --------
    >>> generate_uid(entropy_srcs=["a", "b"]) == generate_uid(entropy_srcs=["a", "b"])
    True
    >>> generate_uid(IMPLEMENTATION_UID_PREFIX).startswith("1.2.826.0.1.3680043.8.498.")
    True
    >>> generate_uid().startswith("2.25.")
    True
    """
    from pydicom.uid import UID
    from pydicom.uid import generate_uid as pydicom_generate_uid

    if prefix is None and entropy_srcs is not None:     # pydicom ignores entropy_srcs under 2.25
        digest = hashlib.sha512("".join(entropy_srcs).encode("utf8")).digest()
        return UID(f"2.25.{int.from_bytes(digest[:16], 'big')}")    # 128 bits: at most 39 digits
    return pydicom_generate_uid(prefix=prefix, entropy_srcs=list(entropy_srcs) if entropy_srcs is not None else None)


def __getattr__(name: str) -> Any:
    import pydicom.uid

    try:
        return getattr(pydicom.uid, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
