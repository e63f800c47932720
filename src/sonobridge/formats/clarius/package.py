"""Finding Clarius captures: loose folders, ``.tar`` packages, single files.

Files are named ``<prefix>_<suffix>.<ext>``: ``<prefix>`` is usually a UTC time
(``2019-11-18T23-25-15+0000``), ``<suffix>`` pairs a stream's ``.raw`` / ``.raw.lzo`` with its
``.yml`` and ``.tgc`` / ``.tgc.yml`` (the suffix does *not* decide the stream type: the header and
yml do), and ``<prefix>_imu.yml`` holds IMU data. Dot-files (``._*`` AppleDouble) are ignored.

Tar packages are read in place (members are byte ranges of the tar, never extracted). Members with
absolute paths, ``..`` components, links or device entries, and members past the end of the file
are refused.
"""
from __future__ import annotations

import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...errors import FormatError, TruncatedFileError, UnsafeArchiveError
from ..byteregion import ByteRegion

_NAME = re.compile(r"^(?P<prefix>.+)_(?P<suffix>[A-Za-z0-9]+)\.(?P<ext>raw\.lzo|raw|tgc\.yml|tgc|yml)$",
                   re.IGNORECASE)
MAX_TAR_MEMBERS = 100_000


@dataclass
class CaptureFiles:
    """The files of one capture, each a :class:`ByteRegion`, keyed by stream suffix."""

    prefix: str
    container: str
    raws: dict[str, ByteRegion] = field(default_factory=dict)
    ymls: dict[str, ByteRegion] = field(default_factory=dict)
    tgcs: dict[str, ByteRegion] = field(default_factory=dict)
    imu: ByteRegion | None = None
    single_file: bool = False  # one stream file named by the user: labelled by its path
    folder: str = ""           # the capture's folder inside a tar package ("" at its top level)

    @property
    def label(self) -> str:
        """``container:prefix`` (``container:folder/prefix`` for a capture in a folder of a tar
        package, so that same-named captures in different folders stay apart), or the file's
        path for a single stream file."""
        if self.single_file:
            return self.container
        return f"{self.container}:{self.folder}/{self.prefix}" if self.folder else f"{self.container}:{self.prefix}"

    @property
    def suffixes(self) -> list[str]:
        return sorted({*self.raws, *self.ymls})

    def add(self, region: ByteRegion, suffix: str, ext: str) -> None:
        ext = ext.lower()
        if suffix.lower() == "imu" and ext == "yml":
            self.imu = region
        elif ext in ("raw", "raw.lzo"):
            self.raws[suffix] = region
        elif ext == "yml":
            self.ymls[suffix] = region
        else:
            self.tgcs[suffix] = region

    def only(self, suffix: str) -> "CaptureFiles":
        """The same capture restricted to one stream (and no IMU)."""
        pick = lambda table: {k: v for k, v in table.items() if k == suffix}  # noqa: E731
        return CaptureFiles(self.prefix, self.container, pick(self.raws), pick(self.ymls), pick(self.tgcs),
                            folder=self.folder)


def split_name(name: str) -> tuple[str, str, str] | None:
    """``(prefix, suffix, ext)`` of a Clarius file name, or None."""
    base = PurePosixPath(name).name
    match = _NAME.match(base)
    if base.startswith(".") or match is None:
        return None
    return match.group("prefix"), match.group("suffix"), match.group("ext")


def _group(regions: list[ByteRegion], container: str | None) -> list[CaptureFiles]:
    """Captures by (folder, prefix); ``container`` is the archive (then the member folder is part
    of the label), or None for loose files (then each capture's folder is its container)."""
    captures: dict[tuple[str, str], CaptureFiles] = {}
    for region in sorted(regions, key=lambda r: r.name):
        parts = split_name(region.name)
        if parts is None:
            continue
        prefix, suffix, ext = parts
        folder = str(PurePosixPath(region.name).parent)
        where = container or os.path.dirname(region.path)
        inside = folder if container and folder != "." else ""
        capture = captures.setdefault((folder, prefix), CaptureFiles(prefix, where, folder=inside))
        capture.add(region, suffix, ext)
    return [c for c in captures.values() if c.raws or c.ymls]


def captures_in_folder(folder: str | os.PathLike) -> list[CaptureFiles]:
    """Every capture in ``folder`` and its subfolders (tar packages inside are not opened)."""
    regions = [ByteRegion.whole_file(path) for path in sorted(Path(folder).rglob("*"))
               if path.is_file() and split_name(path.name)]
    return _group(regions, None)


def _check_member(member: tarfile.TarInfo, archive: str, archive_size: int) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise UnsafeArchiveError(archive, f"member {name!r} would land outside the target folder")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(archive, f"member {name!r} is a link or special file; refused")
    if member.isfile() and member.offset_data + member.size > archive_size:
        raise TruncatedFileError(archive, f"member {name!r} ({member.size} bytes) extends past the "
                                          f"end of the archive ({archive_size} bytes)")


def tar_regions(archive: str | os.PathLike) -> list[ByteRegion]:
    """Byte ranges of the regular files of an uncompressed tar, after safety checks."""
    archive = os.fspath(archive)
    size = os.path.getsize(archive)
    regions = []
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_TAR_MEMBERS:
                    raise UnsafeArchiveError(archive, f"more than {MAX_TAR_MEMBERS} members")
                _check_member(member, archive, size)
                if member.isfile():
                    regions.append(ByteRegion(archive, member.offset_data, member.size, member.name))
    except tarfile.ReadError as exc:
        raise FormatError(archive, f"not a readable uncompressed tar package ({exc})") from None
    except (tarfile.TarError, EOFError) as exc:
        raise TruncatedFileError(archive, f"tar package is damaged or cut short ({exc})") from None
    return regions


def captures_in_tar(archive: str | os.PathLike) -> list[CaptureFiles]:
    return _group(tar_regions(archive), os.fspath(archive))


def capture_of_file(path: str | os.PathLike) -> CaptureFiles:
    """The single stream a ``.raw`` / ``.raw.lzo`` / ``.yml`` / ``.tgc`` file belongs to."""
    path = Path(path)
    parts = split_name(path.name)
    if parts is None:
        if not path.name.lower().endswith((".raw", ".lzo")):
            raise FormatError(path, "not named like a Clarius file (<prefix>_<stream>.raw / .yml)")
        capture = CaptureFiles(path.name.split(".")[0], os.fspath(path), single_file=True)
        capture.raws["data"] = ByteRegion.whole_file(path)
        return capture
    prefix, suffix, _ = parts
    for capture in _group([ByteRegion.whole_file(p) for p in path.parent.glob(f"{glob_escape(prefix)}_*")
                           if p.is_file()], None):
        if capture.prefix == prefix:
            single = capture.only(suffix)
            single.container, single.single_file = os.fspath(path), True
            return single
    raise FormatError(path, "no Clarius stream found")  # unreachable for a well-named file


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
