"""One unit of dataset conversion: the input files one output is built from, and that output.

A dataset module's ``plan(source, destination, options)`` returns a list of :class:`DatasetJob`;
its ``convert(job)`` writes ``job.output``. The driver (:mod:`.driver`) hands ``convert`` a copy of
the job whose ``output`` is a temporary path and renames it when ``convert`` returns.

Examples
--------
>>> from pathlib import Path
>>> from sonobridge.formats.zea.datasets.job import DatasetJob
>>> job = DatasetJob("echonet", (Path("raw/Videos/a.avi"),), Path("out/train/a.hdf5"), (("split", "train"),))
>>> job.option("split"), job.option("missing", 0)
('train', 0)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetJob:
    """Convert ``sources`` into the one file ``output``.

    Parameters
    ----------
    dataset : str
        The dataset name (a key of :data:`sonobridge.formats.zea.datasets.DATASETS`).
    sources : tuple of Path
        Every input file the output is built from (their digest tells whether the output is
        up to date).
    output : Path
        The output path, laid out as zea's own converter lays it out.
    options : tuple of (str, object) pairs
        Per-job extras (hashable), e.g. ``(("split", "train"),)``.
    """

    dataset: str
    sources: tuple[Path, ...]
    output: Path
    options: tuple[tuple[str, object], ...] = ()

    def option(self, key: str, default: object = None) -> object:
        """The value of the per-job option ``key`` (``default`` when absent)."""
        return dict(self.options).get(key, default)


def write_zea(output: Path, data: dict, **fields: object) -> None:
    """Write one single-track zea file at ``output`` with sonobridge's writer.

    Parameters
    ----------
    output : Path
        Where to write (the driver's temporary path; replaced if present).
    data : dict
        The track's data products (``{"image": {"values": ...}, ...}``); values may be lazy
        frame arrays (:class:`~sonobridge.core.frames.LazyFrames`), read block by block.
    **fields
        ``probe``, ``metadata``, ``description``, ``us_machine``, ... as
        :func:`~sonobridge.formats.zea.tree.file_tree` takes them.
    """
    from ..tree import file_tree, write_tree

    tree = file_tree(tracks=[{"data": data}], **fields)
    write_tree(tree, output, compression="fast", overwrite=True)


def write_text_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    from ....util.atomic import write_bytes_atomic

    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_bytes_atomic(path, text.encode("utf-8"))


def dataset_card(repo_id: str, title: str, layout: str) -> str:
    """A short dataset card (``README.md``) whose front matter names ``repo_id`` as zea's
    converters do (``zea_repo_id: <repo_id>``, which zea checks before converting into a folder)."""
    return (f"---\nzea_repo_id: {repo_id}\n---\n\n# {title}\n\nConverted to the zea format by "
            f"`sonobridge convert --dataset`.\n\n```\n{layout.strip()}\n```\n")


class SequentialFrames:
    """A lazy frame array ``shape``/``dtype`` read from an iterator of frame blocks, for writers
    that read frames in order (as :func:`write_zea` does): each block is made once and the last
    one is kept (a validator peeking at frame 0 before the writer reads from frame 0 costs
    nothing); reading before the kept block starts the iterator again.

    Parameters
    ----------
    shape : tuple of int
        ``(n_frames, *frame_shape)``.
    dtype : numpy dtype
    blocks : callable
        Returns a fresh iterator of arrays ``(k, *frame_shape)`` whose frames, concatenated, are
        the ``n_frames`` frames.

    Examples
    --------
    >>> import numpy as np
    >>> made = []
    >>> def blocks():
    ...     for i in range(3):
    ...         made.append(i)
    ...         yield np.full((2, 2), i)
    >>> frames = SequentialFrames((6, 2), np.int64, blocks)
    >>> int(frames[0][0]), frames[1:4][:, 0].tolist(), np.asarray(frames).shape, made
    (0, [0, 1, 1], (6, 2), [0, 1, 0, 1, 2])
    """

    def __init__(self, shape: tuple[int, ...], dtype: object, blocks: object):
        import numpy as np

        self.shape, self.dtype, self._blocks = tuple(shape), np.dtype(dtype), blocks
        self.ndim = len(self.shape)
        self._iterator = None
        self._kept_start, self._kept = 0, None      # the last block made and its first frame

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: object = None, copy: object = None):
        frames = self[0:self.shape[0]]
        return frames if dtype is None else frames.astype(dtype)

    def __getitem__(self, key: object):
        import numpy as np

        if isinstance(key, tuple):
            return self[key[0]][(slice(None), *key[1:]) if isinstance(key[0], slice) else key[1:]]
        if not isinstance(key, slice):
            index = int(key) + self.shape[0] if int(key) < 0 else int(key)
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"frame {key} out of range for {self.shape[0]} frames")
            return self[index:index + 1][0]
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            return self[start:stop][::step]
        if self._iterator is None or start < self._kept_start:
            self._iterator, self._kept_start, self._kept = iter(self._blocks()), 0, None
        parts = []
        while start < stop:
            if self._kept is not None and start < self._kept_start + len(self._kept):
                end = min(stop, self._kept_start + len(self._kept))
                parts.append(self._kept[start - self._kept_start:end - self._kept_start])
                start = end
                continue
            block = next(self._iterator, None)
            if block is None:
                break
            self._kept_start += 0 if self._kept is None else len(self._kept)
            self._kept = block
        if not parts:
            return np.empty((0, *self.shape[1:]), self.dtype)
        return np.concatenate(parts).astype(self.dtype, copy=False)
