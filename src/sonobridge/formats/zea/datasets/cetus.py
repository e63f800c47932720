"""CETUS (MICCAI 2014, 3-D echocardiographic volumes at end-diastole and end-systole, NIfTI) to
zea files, as zea's ``zea convert cetus``.

Source layout: ``patientNN/patientNN_{ED,ES}.nii.gz`` (B-mode volume, grey levels 0-255) and
``patientNN/patientNN_{ED,ES}_gt.nii.gz`` (left-ventricle mask). Output:
``<dst>/{train,val,test}/patientNN/patientNN_{ED,ES}.hdf5`` (patients 1-30 train, 31-38 val,
39-45 test) and ``README.md`` (dataset card naming ``zea_repo_id: zeahub/cetus-miccai-2014``).

Each file holds ``image`` ``(1, D, H, W)`` float32 dB (grey level g -> g / 255 * 60 - 60; the
padding outside the scan cone, the volume's most frequent integer grey level, is set to -60 dB)
with per-voxel ``coordinates`` ``(D, H, W, 3)`` (voxel index times the NIfTI voxel sizes, taken
in the order SimpleITK lists them, as zea does); ``segmentation`` ``(1, D, H, W, 1)`` bool
(``endocardium``) when the ``_gt`` file exists; metadata (subject id, credit, the ED/ES label).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ....errors import FormatError, UnsupportedInputError
from .camus import load_nifti, split_of
from .job import DatasetJob, dataset_card, write_text_if_changed, write_zea

SPLITS = {"train": (1, 31), "val": (31, 39), "test": (39, 46)}
REPO_ID = "zeahub/cetus-miccai-2014"
CITATION = ('O. Bernard, et al. "Standardized Evaluation System for Left Ventricular '
            'Segmentation Algorithms in 3D Echocardiography" in IEEE Transactions on '
            "Medical Imaging, vol. 35, no. 4, pp. 967-977, April 2016. "
            "https://doi.org/10.1109/tmi.2015.2503890")
LICENSE = "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode)"
PROBE = "Unspecified mix of GE 4V, Philips X5-1, Siemens 4Z1c"
MACHINE = "Unspecified mix of GE Vivid E9, Philips iE33, Siemens SC2000"
VOLUME = re.compile(r"^(patient(\d+))_(ED|ES)\.nii\.gz$")


def background_level(volume: np.ndarray) -> int:
    """The most frequent integer grey level of ``volume`` (values 0-255): the padding outside
    the scan cone."""
    counts = np.bincount(np.clip(volume.ravel(), 0, 255).astype(np.int64), minlength=256)[:256]
    return int(np.argmax(counts))


def to_db(volume: np.ndarray) -> np.ndarray:
    """Grey levels as dB ``(D, H, W)`` float64, the background level at -60 dB exactly."""
    padding = volume.astype(int) == background_level(volume)
    values = (volume / 255.0) * 60.0 - 60.0
    values[padding] = -60.0
    return values


def voxel_coordinates(shape: tuple[int, int, int], spacing: tuple[float, ...]) -> np.ndarray:
    """Voxel positions ``(D, H, W, 3)`` float32 (as stored): index along each axis times
    ``spacing[axis]`` (computed in float64, as zea does, then rounded once)."""
    steps = np.array(spacing, dtype=np.float64)
    axes = [(np.arange(n, dtype=np.float32) * steps[i]).astype(np.float32) for i, n in enumerate(shape)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per ``patientNN_{ED,ES}.nii.gz`` (with its ``_gt`` file if present), ED files first."""
    if not source.is_dir():
        raise UnsupportedInputError(source, "not a folder of CETUS patients")
    jobs = []
    for phase in ("ED", "ES"):
        for path in sorted(source.glob(f"**/*_{phase}.nii.gz")):
            found = VOLUME.match(path.name)
            if found is None:
                continue
            patient = found[1]
            split = split_of(int(found[2]), SPLITS, path)
            mask = path.with_name(path.name.replace(".nii.gz", "_gt.nii.gz"))
            jobs.append(DatasetJob("cetus", (path, *([mask] if mask.exists() else [])),
                                   destination / split / patient / path.name.replace(".nii.gz", ".hdf5"),
                                   (("patient", patient), ("phase", phase))))
    return jobs


def convert(job: DatasetJob) -> None:
    """Write one volume (and its mask) as a one-frame 3-D zea file."""
    path = job.sources[0]
    patient, phase = str(job.option("patient")), str(job.option("phase"))
    volume, spacing = load_nifti(path)
    if volume.ndim != 3:
        raise FormatError(path, f"holds a {volume.ndim}-D image, not a 3-D volume")
    coordinates = voxel_coordinates(volume.shape, spacing)
    data = {"image": {"values": to_db(volume)[np.newaxis].astype(np.float32), "coordinates": coordinates}}
    mask_path = path.with_name(path.name.replace(".nii.gz", "_gt.nii.gz"))
    if mask_path.exists():
        mask, _ = load_nifti(mask_path)
        if mask.shape != volume.shape:
            raise FormatError(mask_path, f"shape {mask.shape} differs from the volume's {volume.shape}")
        data["segmentation"] = {"values": (mask > 0)[np.newaxis, ..., np.newaxis], "coordinates": coordinates,
                                "labels": np.array(["endocardium"])}
    description = (f"CETUS dataset - {patient} {phase} - 3D echocardiographic volume converted to zea format. "
                   f"Voxel spacing: {list(spacing)} m. License: {LICENSE}. Citation: {CITATION}")
    write_zea(job.output, data, probe={"name": PROBE}, us_machine=MACHINE, description=description,
              metadata={"subject": {"id": patient}, "credit": CITATION, "annotations": {"label": np.array([phase])}})


LAYOUT = """
train/patient01/patient01_ED.hdf5   (patients 1-30)
val/patient31/...                   (patients 31-38)
test/patient39/...                  (patients 39-45)
"""


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write the dataset card."""
    destination.mkdir(parents=True, exist_ok=True)
    write_text_if_changed(destination / "README.md", dataset_card(REPO_ID, "CETUS in the zea format", LAYOUT))
