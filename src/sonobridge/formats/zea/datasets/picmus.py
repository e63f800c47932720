"""PICMUS (the IEEE IUS 2016 plane-wave imaging challenge) into zea files.

Input layout (as zea's ``zea convert picmus SRC DST`` reads it): ``SRC/archive_to_download/``
(the unpacked challenge archive) and optionally ``SRC/in_vivo/``; every ``*iq.hdf5`` /
``*rf.hdf5`` file whose path does not contain ``img`` is one acquisition, holding
``US/US_DATASET0000/{data/real, data/imag}`` of shape ``(n_tx, n_el, n_ax)``,
``modulation_frequency``, ``sampling_frequency`` (Hz), ``sound_speed`` (m/s), ``angles`` (rad,
``(n_tx,)``) and ``probe_geometry`` (m, ``(3, n_el)``).

Output: ``DST/README.md`` (a dataset card naming ``zea_repo_id: zeahub/picmus``, which zea
checks before converting into a folder) and ``DST/<relative folder>/<stem>/<stem>.hdf5`` (the
in-vivo files under ``DST/in_vivo/``): one frame of ``raw_data`` ``(1, n_tx, n_ax, n_el, n_ch)`` float32 (``n_ch`` = 2 for I/Q data,
1 when the imaginary part sums to almost nothing), the plane-wave scan and the L11-4v probe,
exactly as zea 0.1.8 writes them.

Examples
--------
>>> from sonobridge.formats.zea.datasets.picmus import subject_type
>>> subject_type("archive_to_download/database/experiments/x_expe_dataset_rf.hdf5")
'phantom'
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ....errors import FormatError, UnsupportedInputError, read_faults
from ...h5guard import close_quietly, open_checked
from ..tree import file_tree, write_tree
from .job import DatasetJob, dataset_card, write_text_if_changed

DATASET = "picmus"
REPO_ID = "zeahub/picmus"          # named in the dataset card, as zea's converter does
LAYOUT = """
database/simulation/<phantom>/<name>_iq/<name>_iq.hdf5
database/experiments/<phantom>/<name>_{iq,rf}/<name>_{iq,rf}.hdf5
in_vivo/<view>/<name>_iq/<name>_iq.hdf5
"""
MAIN_FOLDER = "archive_to_download"
INVIVO_FOLDER = "in_vivo"

CITATION = (
    "H. Liebgott, A. Rodriguez-Molares, F. Cervenansky, J. D'hooge, O. Bernard. "
    '"Plane-Wave Imaging Challenge in Medical Ultrasound." '
    "2016 IEEE International Ultrasonics Symposium (IUS), Tours, France, 2016, pp. 1-4. "
    "https://doi.org/10.1109/ULTSYM.2016.7728908"
)
LICENSE = (
    "The datasets and code provided on PICMUS are free of use. "
    "The only request is to refer properly to PICMUS - The Plane Wave Imaging Challenge "
    "in Medical UltraSound and quote the proceeding paper."
)
DESCRIPTION = ("PICMUS (Plane-wave Imaging Challenge in Medical UltraSound) dataset converted to zea "
               f"format. License: {LICENSE}. Citation: {CITATION}")
#: The Verasonics L11-4v probe every PICMUS acquisition was made with (SI units)
PROBE: dict[str, Any] = {
    "name": "verasonics_l11_4v",
    "type": "linear",
    "probe_center_frequency": np.float32(5.1333e6),
    "probe_bandwidth_percent": np.float32(67.0),
    "element_width": np.float32(0.270e-3),
    "element_height": np.float32(5e-3),
}
#: Used when a file's modulation frequency is 0 (one of the published files), Hz
FALLBACK_FREQUENCY = 5.208e6


def subject_type(path: str | os.PathLike) -> str | None:
    """``"simulation"``, ``"phantom"`` or ``"human"`` from the words in ``path`` (None: unknown)."""
    text = os.fspath(path).lower()
    for word, kind in (("simulation", "simulation"), ("experiment", "phantom"), ("in_vivo", "human"),
                       ("invivo", "human")):
        if word in text:
            return kind
    return None


def _is_data_file(path: Path) -> bool:
    text = str(path)
    return text.endswith(("iq.hdf5", "rf.hdf5")) and "img" not in text


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per IQ/RF acquisition under ``source/archive_to_download`` and ``source/in_vivo``.

    Raises
    ------
    UnsupportedInputError
        ``source`` holds neither folder (zea also unpacks ``picmus.zip``: unpack it first).
    """
    source, destination = Path(source), Path(destination)
    roots: list[tuple[Path, Path]] = []
    if (source / MAIN_FOLDER).is_dir():
        roots.append((source / MAIN_FOLDER, source / MAIN_FOLDER))
    if (source / INVIVO_FOLDER).is_dir():
        roots.append((source / INVIVO_FOLDER, source))
    if not roots:
        raise UnsupportedInputError(source, f"not a PICMUS folder: it holds neither {MAIN_FOLDER}/ nor "
                                            f"{INVIVO_FOLDER}/ (unpack picmus.zip / the archives here)")
    jobs = []
    for folder, base in roots:
        for path in sorted(folder.rglob("*.hdf5")):
            if _is_data_file(path):
                relative = path.relative_to(base)
                output = destination / relative.parent / relative.stem / f"{relative.stem}.hdf5"
                jobs.append(DatasetJob(DATASET, (path,), output))
    return jobs


def _read(path: Path) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    """``(raw_data, scan, probe_geometry)`` of one PICMUS file, as zea derives them."""
    handle = open_checked(path)
    try:
        with read_faults(path, "not a PICMUS acquisition"):
            group = handle["US"]["US_DATASET0000"]
            if "data" not in group:
                raise FormatError(path, "not a PICMUS acquisition: US/US_DATASET0000 has no data group")
            i_data = group["data"]["real"][:]
            q_data = group["data"]["imag"][:]
            # zea truncates the frequencies to whole Hz and stores them as float32
            center_frequency = float(int(group["modulation_frequency"][:][0]) or FALLBACK_FREQUENCY)
            sampling_frequency = float(int(group["sampling_frequency"][:][0]))
            probe_geometry = np.transpose(group["probe_geometry"][:], (1, 0))
            sound_speed = float(group["sound_speed"][:][0])
            polar_angles = group["angles"][:]
    finally:
        close_quietly(handle)
    with read_faults(path, "inconsistent PICMUS arrays"):
        raw = i_data[..., None] if np.abs(np.sum(q_data)) < 0.1 else np.stack([i_data, q_data], axis=-1)
        del i_data, q_data
        raw = np.transpose(raw[None], (0, 1, 3, 2, 4))
        n_tx, n_el = raw.shape[1], raw.shape[3]
        scan = {
            "center_frequency": center_frequency,
            "demodulation_frequency": center_frequency,
            "sampling_frequency": sampling_frequency,
            "initial_times": _initial_times(probe_geometry, polar_angles, sound_speed),
            "sound_speed": sound_speed,
            "t0_delays": _plane_wave_delays(probe_geometry, polar_angles, sound_speed, n_el),
            "focus_distances": np.zeros((n_tx,), dtype=np.float32),
            "transmit_origins": np.zeros((n_tx, 3), dtype=np.float32),
            "polar_angles": polar_angles,
            "azimuth_angles": np.zeros((n_tx,), dtype=np.float32),
            "tx_apodizations": np.ones((n_tx, n_el), dtype=np.float32),
        }
    return raw.astype(np.float32), scan, probe_geometry


def _initial_times(geometry: np.ndarray, angles: np.ndarray, sound_speed: float) -> np.ndarray:
    """Time (s) for the plane wave of each angle to reach the first element it passes."""
    times = np.zeros((len(angles),))
    for index, angle in enumerate(angles):
        direction = np.array([np.sin(angle), 0, np.cos(angle)])
        times[index] = -np.min(np.sum(geometry * direction[None], axis=1)) / sound_speed
    return times


def _plane_wave_delays(geometry: np.ndarray, angles: np.ndarray, sound_speed: float,
                       n_el: int) -> np.ndarray:
    """Transmit delays (s, ``(n_tx, n_el)`` float32) of steered plane waves, the first element
    firing at 0 (azimuth 0)."""
    delays = np.zeros((len(angles), n_el), dtype=np.float32)
    for index, angle in enumerate(angles):
        polar, azimuth = np.atleast_1d(angle), np.atleast_1d(0)
        direction = np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth),
                              np.cos(polar)], axis=-1)
        seconds = np.sum(geometry[:, None, :] * direction, axis=-1).T / sound_speed
        delays[index] = seconds - np.min(seconds, axis=1)[:, None]
    return delays


def convert(job: DatasetJob) -> None:
    """Write the zea file of one PICMUS acquisition to ``job.output``.

    Raises
    ------
    FormatError
        The source is not a readable PICMUS acquisition (the message names it).
    """
    source = job.sources[0]
    raw_data, scan, probe_geometry = _read(source)
    metadata: dict[str, Any] = {"credit": CITATION}
    kind = subject_type(source)
    if kind is not None:
        metadata["subject"] = {"type": kind}
    tree = file_tree(tracks=[{"data": {"raw_data": raw_data}, "scan": scan}],
                     probe={**PROBE, "probe_geometry": probe_geometry}, metadata=metadata,
                     description=DESCRIPTION)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    write_tree(tree, job.output, overwrite=True)


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write the dataset card ``README.md``."""
    destination.mkdir(parents=True, exist_ok=True)
    write_text_if_changed(destination / "README.md", dataset_card(REPO_ID, "PICMUS in the zea format", LAYOUT))
