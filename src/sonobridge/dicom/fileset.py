"""DICOM File-sets: a DICOMDIR and the instances it indexes (pydcm.fileset), on :mod:`pydicom.fileset`.

>>> fs = FileSet()                       # a new, empty File-set
>>> len(fs), fs.find(PatientID="1")
(0, [])

Reading: ``FileSet("/media/DICOMDIR")`` (or the media folder, or a DICOMDIR already read);
iterating gives one :class:`FileInstance` per leaf record (IMAGE, RT DOSE, SR ...), whose
attributes fall back through the record hierarchy (instance, SERIES, STUDY, PATIENT) so
``inst.PatientID`` works without reading the file; ``inst.load()`` reads it. Writing: stage
instances with :meth:`FileSet.add` and :meth:`FileSet.write` them under a folder with a DICOMDIR
(pydicom's media layout ``PTxxxxxx/STxxxxxx/SExxxxxx/IMxxxxxx``, Explicit VR Little Endian);
instances staged from a file are copied byte for byte.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import FormatError, OutputError, SonobridgeError
from .io import read_dataset

#: pydcm's default File-set ID (CS, at most 16 characters)
DEFAULT_ID = "PYDCM_FILESET"


class FileInstance:
    """One instance referenced by a File-set (a leaf directory record).

    Attributes are looked up in the instance's record first, then in its SERIES, STUDY and
    PATIENT records (``inst.PatientID``, ``inst.StudyInstanceUID`` without reading the file).

    Attributes
    ----------
    path : str
        The referenced file.
    """

    __slots__ = ("_instance", "path")

    def __init__(self, instance: Any) -> None:
        self._instance = instance
        self.path = os.fspath(instance.path)

    def load(self):
        """The referenced file as a :class:`pydicom.dataset.FileDataset` (package errors on bad files)."""
        return read_dataset(self.path)

    @property
    def SOPInstanceUID(self) -> str | None:  # noqa: N802 - DICOM keyword
        """Referenced SOP Instance UID in File."""
        return self._record_value("ReferencedSOPInstanceUIDInFile")

    @property
    def SOPClassUID(self) -> str | None:  # noqa: N802 - DICOM keyword
        """Referenced SOP Class UID in File."""
        return self._record_value("ReferencedSOPClassUIDInFile")

    @property
    def TransferSyntaxUID(self) -> str | None:  # noqa: N802 - DICOM keyword
        """Referenced Transfer Syntax UID in File."""
        return self._record_value("ReferencedTransferSyntaxUIDInFile")

    @property
    def FileID(self) -> list[str]:  # noqa: N802 - DICOM keyword
        """Referenced File ID: the path components under the File-set root."""
        value = self._record_value("ReferencedFileID")
        if value is None:
            return []
        return [str(value)] if isinstance(value, str) else [str(part) for part in value]

    def _record_value(self, keyword: str) -> Any:
        record = self._instance.node._record
        return record.get(keyword)

    def __getattr__(self, name: str) -> Any:
        from pydicom.datadict import tag_for_keyword

        if tag_for_keyword(name) is not None:
            for node in self._instance.node.reverse():
                if name in node._record:
                    return node._record.get(name)
        raise AttributeError(f"{type(self).__name__} (and its directory records) has no {name!r}")

    def __repr__(self) -> str:
        return f"<FileInstance {self.SOPInstanceUID} @ {os.path.basename(self.path)}>"


class FileSet:
    """A DICOM File-set: iterate its :class:`FileInstance`s, ``find`` them, ``add`` and ``write``.

    Parameters
    ----------
    ds_or_path : str, os.PathLike, pydicom Dataset, optional
        A DICOMDIR file, the folder holding one, or a DICOMDIR already read; None: a new,
        empty File-set.

    Raises
    ------
    UnsupportedInputError
        No DICOMDIR there, or not a DICOMDIR.
    FormatError
        A damaged DICOMDIR (records that do not add up).
    """

    def __init__(self, ds_or_path: Any = None) -> None:
        from pydicom.dataset import Dataset
        from pydicom.fileset import FileSet as PydicomFileSet

        self._staged: list[tuple[Any, str | None]] = []          # (dataset, source file or None)
        label = getattr(ds_or_path, "filename", None) if isinstance(ds_or_path, Dataset) else ds_or_path
        if ds_or_path is not None and not isinstance(ds_or_path, Dataset):
            path = Path(ds_or_path)
            if path.is_dir():
                path = path / "DICOMDIR"
            ds_or_path = read_dataset(path)
            label = path
        try:
            self._fs = PydicomFileSet(ds_or_path)
        except (ValueError, KeyError, AttributeError, TypeError, IndexError, NotImplementedError) as error:
            raise FormatError(label, f"not a usable DICOMDIR ({error})") from None
        self._instances = [FileInstance(instance) for instance in self._fs]

    @property
    def path(self) -> str | None:
        """The File-set's root folder (None for a new set not yet written)."""
        return self._fs.path

    @property
    def ID(self) -> str | None:  # noqa: N802 - DICOM keyword
        """File-set ID."""
        return self._fs.ID

    def __iter__(self) -> Iterator[FileInstance]:
        return iter(self._instances)

    def __len__(self) -> int:
        return len(self._instances)

    def __repr__(self) -> str:
        return f"<FileSet: {len(self._instances)} instances under {self.path}>"

    def find(self, load: bool = False, **filters: Any) -> list[FileInstance]:
        """The instances whose attributes equal ``filters`` (compared as text).

        Parameters
        ----------
        load : bool
            Read each referenced file and match its values (attributes the directory records
            do not carry); default: the records only.
        **filters
            DICOM keyword -> wanted value, e.g. ``PatientID="1"``, ``Modality="CT"``.
        """
        found = []
        for instance in self._instances:
            source = instance.load() if load else instance
            if all(str(_value(source, keyword)) == str(wanted) for keyword, wanted in filters.items()):
                found.append(instance)
        return found

    def find_values(self, element: str, instances: list[FileInstance] | None = None) -> list[Any]:
        """The distinct values of ``element`` (a keyword) over ``instances`` (default: all), in
        order of first appearance; instances without it are left out."""
        values: list[Any] = []
        for instance in self._instances if instances is None else instances:
            value = getattr(instance, element, None)
            if value is not None and value not in values:
                values.append(value)
        return values

    def add(self, ds_or_path: Any) -> None:
        """Stage an instance (a dataset, or a DICOM file) for :meth:`write`.

        Raises UnsupportedInputError / FormatError for a file that is not readable DICOM."""
        from pydicom.dataset import Dataset

        if isinstance(ds_or_path, Dataset):
            self._staged.append((ds_or_path, None))
        else:
            self._staged.append((read_dataset(ds_or_path), os.fspath(ds_or_path)))

    def write(self, path: str | os.PathLike, file_set_id: str = DEFAULT_ID) -> str:
        """Write this File-set's instances and the staged ones, with a conformant DICOMDIR, under ``path``.

        Instances staged from a file (and those of a File-set read from media) are copied byte
        for byte; staged datasets are written as DICOM files. Afterwards this object describes
        the written File-set.

        Parameters
        ----------
        path : str or os.PathLike
            The root folder of the new File-set (created; must not hold a DICOMDIR yet).
        file_set_id : str
            File-set ID (0004,1130), at most 16 characters.

        Returns
        -------
        str
            The DICOMDIR's path.

        Raises
        ------
        FormatError
            An instance lacks what its directory records need (e.g. no PatientID / StudyDate).
        OutputError
            The folder cannot be written, or already holds a DICOMDIR.
        """
        from pydicom.fileset import FileSet as PydicomFileSet

        root = Path(path)
        if (root / "DICOMDIR").exists():
            raise OutputError(root / "DICOMDIR", "a File-set is already there")
        sources = [(None, instance.path) for instance in self._instances] + self._staged
        target = PydicomFileSet()
        target.ID = file_set_id
        verbatim: dict[str, str] = {}
        for dataset, source in sources:
            label = source or getattr(dataset, "SOPInstanceUID", "dataset")
            try:
                target.add(source if dataset is None else dataset)
            except (ValueError, KeyError, AttributeError, TypeError) as error:
                raise FormatError(label, f"cannot be indexed in a DICOMDIR ({error})") from None
            if source is not None:
                uid = (dataset if dataset is not None else read_dataset(source)).SOPInstanceUID
                verbatim[str(uid)] = source
        try:
            root.mkdir(parents=True, exist_ok=True)
            target.write(os.fspath(root.resolve()))
            for instance in target:
                if str(instance.SOPInstanceUID) in verbatim:
                    shutil.copyfile(verbatim[str(instance.SOPInstanceUID)], instance.path)
        except OSError as error:
            raise OutputError(root, f"cannot write the File-set ({error.strerror or error})") from None
        except (ValueError, KeyError, AttributeError, TypeError) as error:
            raise FormatError(root, f"cannot write the File-set ({error})") from None
        self.__init__(root / "DICOMDIR")
        return os.fspath(root / "DICOMDIR")


def _value(source: Any, keyword: str) -> Any:
    """``keyword``'s value on a FileInstance (record hierarchy) or a Dataset; None when absent."""
    try:
        return source.get(keyword) if hasattr(source, "get") and not isinstance(source, FileInstance) \
            else getattr(source, keyword, None)
    except SonobridgeError:
        raise
    except Exception:  # noqa: BLE001 - a value pydicom keeps but cannot convert
        return None


__all__ = ["FileSet", "FileInstance"]
