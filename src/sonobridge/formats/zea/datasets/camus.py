"""CAMUS (2-D apical 2- and 4-chamber echocardiography, NIfTI half-sequences) to zea files, as
zea's ``zea convert camus``.

Source layout (the CAMUS_public download, or its ``database_nifti`` folder, or the patient
folders themselves)::

    database_nifti/patientNNNN/patientNNNN_{2CH,4CH}_half_sequence.nii.gz      B-mode, uint8
    database_nifti/patientNNNN/patientNNNN_{2CH,4CH}_half_sequence_gt.nii.gz   labels 0-3
    database_nifti/patientNNNN/Info_{2CH,4CH}.cfg                              ED, ES, NbFrame, ...

Output: ``<dst>/{train,val,test}/patientNNNN/patientNNNN_<view>_half_sequence.hdf5`` (patients
1-400 train, 401-450 val, 451-500 test), ``README.md`` (dataset card naming
``zea_repo_id: zeahub/camus``) and a copy of ``MANDATORY_CITATION.md``. Each file holds:

- ``image``: the sequence in dB, ``(n_frames, H, W)`` float32 (0..255 -> -60..0 dB), with
  ``coordinates`` ``(H, W, 3)`` float32 metres (x = 0 at the centre column, z = depth);
- ``image_polar``: each frame resampled (bilinear) onto a polar grid ``(H radii, W angles)``
  spanning the sector found in that frame (its widest non-background row), with the grid of the
  first frame as ``coordinates`` ``(H, W, 3)``;
- ``segmentation``: ``(n_frames, H, W, 4)`` bool (unannotated, LV_endo, LV_myo, LA; only the ED
  and ES frames are annotated);
- metadata: subject (id, type, sex, age), credit, text report (EF, frame rate, image quality),
  annotations (anatomy, view per frame, ED/ES label per frame, image quality).

NIfTI files are read with nibabel (voxel sizes in millimetres, as SimpleITK gives them to zea).
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ....errors import FormatError, MissingDependencyError, UnsupportedInputError, read_faults
from .job import DatasetJob, dataset_card, write_text_if_changed, write_zea

SPLITS = {"train": (1, 401), "val": (401, 451), "test": (451, 501)}
LABELS = np.array(["unannotated", "LV_endo", "LV_myo", "LA"])
REPO_ID = "zeahub/camus"
CITATION = (
    "S. Leclerc, E. Smistad, J. Pedrosa, A. Ostvik, F. Cervenansky, F. Espinosa, "
    "T. Espeland, E. A. R. Berg, P.-M. Jodoin, T. Grenier, C. Lartizien, "
    "J. D'hooge, L. Lovstakken and O. Bernard. "
    '"Deep Learning for Segmentation Using an Open Large-Scale Dataset in '
    '2D Echocardiography." '
    "IEEE Transactions on Medical Imaging, vol. 38, no. 9, pp. 2198-2210, 2019. "
    "https://doi.org/10.1109/TMI.2019.2900516")
LICENSE = "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode)"
DESCRIPTION = ("CAMUS (Cardiac Acquisitions for Multi-structure Ultrasound Segmentation) 2D echocardiographic "
               f"dataset converted to zea format. License: {LICENSE}. Citation: {CITATION}")
SEQUENCE = re.compile(r"(patient(\d+))_(\w+?)_half_sequence\.nii\.gz$")


# ------------------------------------------------------------------ NIfTI
_MM_PER_UNIT = {"meter": 1000.0, "mm": 1.0, "micron": 0.001}


def load_nifti(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """The voxels of the NIfTI file at ``path`` in C order (slowest axis first, as SimpleITK's
    ``GetArrayFromImage``), in the stored dtype, and the voxel sizes in millimetres fastest axis
    first (as SimpleITK's ``GetSpacing``)."""
    try:
        import nibabel
    except ImportError:
        raise MissingDependencyError(path, "reading NIfTI needs nibabel: pip install 'sonobridge[datasets]'") from None
    with read_faults(path, "not a readable NIfTI file", also=(nibabel.filebasedimages.ImageFileError,)):
        image = nibabel.load(str(path))
        header = image.header
        array = np.asanyarray(image.dataobj)
        ndim = array.ndim
        unit = header.get_xyzt_units()[0]
        scale = _MM_PER_UNIT.get(unit, 1.0)
        spacing = tuple(float(z) * scale for z in header.get_zooms()[:ndim])
    return np.ascontiguousarray(array.transpose(tuple(reversed(range(ndim))))), spacing


def to_db(image: np.ndarray) -> np.ndarray:
    """uint8 grey levels mapped linearly to [-60, 0] dB in float32 arithmetic."""
    scaled = (image.astype(np.float32) - 0) / (255 - 0)
    return -60 + scaled * (0 - (-60))


# ------------------------------------------------------------------ geometry
def pixel_coordinates(height: int, width: int, x_step: float, z_step: float) -> np.ndarray:
    """Pixel centres ``(height, width, 3)`` float32 metres: x from the centre column, y = 0,
    z from the top row."""
    columns = (np.arange(width, dtype=np.float32) - width / 2) * x_step
    rows = np.arange(height, dtype=np.float32) * z_step
    x, z = np.meshgrid(columns, rows)
    return np.stack([x, np.zeros_like(x), z], axis=-1).astype(np.float32)


def polar_grid(theta_max: float, r_max: float, n_r: int, n_theta: int) -> np.ndarray:
    """Cartesian positions ``(n_r, n_theta, 3)`` float32 (x, 0, z) of radii 0..``r_max`` (m) along
    rays at angles -``theta_max``..``theta_max`` (rad) from the apex at the origin."""
    radii = np.arange(n_r) * (r_max / max(n_r - 1, 1))
    angles = np.linspace(-theta_max, theta_max, n_theta)
    aa, rr = np.meshgrid(angles, radii, indexing="ij")
    x, z = rr * np.sin(aa) + 0.0, rr * np.cos(aa) + -0.0
    return np.stack((x, 0 * x, z), axis=-1).transpose(1, 0, 2).astype(np.float32)


def sector(frame: np.ndarray, x_step: float, z_step: float) -> tuple[float, float]:
    """Half-angle (rad) and radius (m) of the sector shown in a dB frame: from its widest row of
    pixels more than 0.5 above the frame's minimum."""
    height, width = frame.shape
    foreground = frame > float(frame.min()) + 0.5
    widest = int(np.argmax(foreground.sum(axis=1)))
    columns = np.where(foreground[widest])[0]
    if columns.size >= 2:
        half_width = ((columns[-1] - columns[0]) / 2) * x_step
        depth = widest * z_step
        return float(np.arctan2(half_width, depth)), float(np.sqrt(half_width ** 2 + depth ** 2))
    half_width, r_max = (width / 2) * x_step, height * z_step
    return float(np.arctan2(half_width, r_max)), r_max


def polar_frame(frame: np.ndarray, x_step: float, z_step: float) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` ``(H, W)`` float32 dB resampled (bilinear, the frame's minimum outside) onto the
    polar grid of its sector; returns the values ``(H, W)`` float32 and the grid ``(H, W, 3)``."""
    from scipy.ndimage import map_coordinates

    height, width = frame.shape
    theta_max, r_max = sector(frame, x_step, z_step)
    grid = polar_grid(theta_max, r_max, height, width)
    columns = (grid[:, :, 0] + (width / 2) * x_step) / x_step
    rows = grid[:, :, 2] / z_step
    values = map_coordinates(frame, [rows, columns], order=1, mode="constant", cval=float(frame.min()))
    return values.astype(np.float32), grid


# ------------------------------------------------------------------ plan / convert / finish
def database(source: Path) -> Path:
    """The folder whose subfolders are the patients."""
    for folder in (source / "CAMUS_public" / "database_nifti", source / "CAMUS_public", source / "database_nifti"):
        if folder.is_dir():
            return folder
    if any(source.glob("patient*")):
        return source
    if (source / "CAMUS_public.zip").exists():
        raise UnsupportedInputError(source, "unzip CAMUS_public.zip first")
    raise UnsupportedInputError(source, "no CAMUS patient folders (database_nifti/patientNNNN)")


def split_of(patient_id: int, splits: Mapping[str, tuple[int, int]], path: Path) -> str:
    for split, (first, stop) in splits.items():
        if first <= patient_id < stop:
            return split
    raise FormatError(path, f"patient {patient_id} is in no split")


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per ``*_half_sequence.nii.gz`` (with its ``_gt`` file and ``Info_<view>.cfg``)."""
    root = database(source)
    jobs = []
    for path in sorted(root.glob("**/*_half_sequence.nii.gz")):
        found = SEQUENCE.search(path.name)
        if found is None:
            continue
        patient, number, view = found[1], int(found[2]), found[3]
        split = split_of(number, SPLITS, path)
        relative = path.relative_to(root).as_posix().removesuffix(".nii.gz") + ".hdf5"
        companions = [path.with_name(f"{patient}_{view}_half_sequence_gt.nii.gz"), path.with_name(f"Info_{view}.cfg")]
        jobs.append(DatasetJob("camus", (path, *[c for c in companions if c.exists()]),
                               destination / split / relative, (("patient", patient), ("view", view))))
    return jobs


def read_cfg(path: Path) -> dict[str, str]:
    """``Key: value`` lines of a CAMUS ``Info_*.cfg``."""
    if not path.exists():
        raise FormatError(path, "missing (the ED/ES frames and the patient data are read from it)")
    with read_faults(path, "not a readable Info cfg"):
        lines = path.read_text().splitlines()
    return {key.strip(): value.strip() for key, sep, value in (line.partition(":") for line in lines) if sep}


def convert(job: DatasetJob) -> None:
    """Write one half-sequence with its polar resampling, segmentation and metadata."""
    path = job.sources[0]
    patient, view = str(job.option("patient")), str(job.option("view"))
    cfg_path = path.with_name(f"Info_{view}.cfg")
    cfg = read_cfg(cfg_path)
    with read_faults(cfg_path, "bad Info cfg values"):
        ed, es, n_frames = int(cfg["ED"]) - 1, int(cfg["ES"]) - 1, int(cfg["NbFrame"])
        age = int(cfg.get("Age", 0))
    grey, spacing = load_nifti(path)
    if grey.ndim != 3:
        raise FormatError(path, f"holds a {grey.ndim}-D image, not a 2-D sequence")
    if grey.shape[0] != n_frames or not (0 <= ed < n_frames and 0 <= es < n_frames):
        raise FormatError(path, f"{grey.shape[0]} frames, but {cfg_path.name} says NbFrame {n_frames}, "
                                f"ED {ed + 1}, ES {es + 1}")
    image = to_db(grey)
    del grey
    x_step, z_step = float(spacing[0]) / 1000, float(spacing[1]) / 1000
    _, height, width = image.shape
    coordinates = pixel_coordinates(height, width, x_step, z_step)
    polar = np.empty_like(image)
    polar_coordinates = None
    for index, frame in enumerate(image):
        polar[index], grid = polar_frame(frame, x_step, z_step)
        polar_coordinates = grid if polar_coordinates is None else polar_coordinates
    gt_path = path.with_name(f"{patient}_{view}_half_sequence_gt.nii.gz")
    if not gt_path.exists():
        raise FormatError(gt_path, "missing (the segmentation of the sequence)")
    labels_image, _ = load_nifti(gt_path)
    if labels_image.shape != image.shape:
        raise FormatError(gt_path, f"shape {labels_image.shape} differs from the sequence's {image.shape}")
    segmentation = np.zeros((n_frames, height, width, 4), np.bool_)
    annotated = np.zeros(n_frames, np.bool_)
    annotated[[ed, es]] = True
    segmentation[~annotated, :, :, 0] = True
    for channel in (1, 2, 3):
        segmentation[annotated, :, :, channel] = labels_image[annotated] == channel
    frame_labels = np.full(n_frames, "", dtype="<U2")
    frame_labels[ed], frame_labels[es] = "ED", "ES"
    quality = cfg.get("ImageQuality", "")
    write_zea(job.output, {
        "image": {"values": image, "coordinates": coordinates},
        "image_polar": {"values": polar, "coordinates": polar_coordinates},
        "segmentation": {"values": segmentation, "labels": LABELS, "coordinates": coordinates},
    }, probe={"name": "GE M5S", "type": "phased"}, description=DESCRIPTION, metadata={
        "subject": {"id": patient, "type": "human", "sex": cfg.get("Sex", "").lower(), "age": np.uint8(min(age, 255))},
        "credit": CITATION,
        "text_report": f"EF: {cfg.get('EF', '')}%  FrameRate: {cfg.get('FrameRate', '')} fps  ImageQuality: {quality}",
        "annotations": {"anatomy": "heart", "view": np.array([view] * n_frames), "label": frame_labels,
                        "image_quality": quality},
    })


LAYOUT = """
train/patient0001/patient0001_2CH_half_sequence.hdf5   (patients 1-400)
val/patient0401/...                                      (patients 401-450)
test/patient0451/...                                     (patients 451-500)
"""


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write the dataset card and copy ``MANDATORY_CITATION.md`` (from the first patient folder
    holding one)."""
    destination.mkdir(parents=True, exist_ok=True)
    write_text_if_changed(destination / "README.md", dataset_card(REPO_ID, "CAMUS in the zea format", LAYOUT))
    for citation in sorted(database(source).glob("**/MANDATORY_CITATION.md")):
        target = destination / "MANDATORY_CITATION.md"
        if not target.exists() or target.read_bytes() != citation.read_bytes():
            shutil.copyfile(citation, target)
        break
