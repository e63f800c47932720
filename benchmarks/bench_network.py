"""Benchmark: DICOM networking against a local Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``,
started on loopback ports by tests/pacs.py with a temporary storage folder), in one run.

1. Store 200 small instances (64 x 64 uint8 US images, ~5 kB each): instances/s of every variant of
   :data:`STORE_VARIANTS` (sonobridge STOW-RS vs dicomweb-client STOW-RS; the DIMSE C-STORE variants
   are appended there by the dimse part). Orthanc is emptied before every run; best of N, variants
   interleaved; every run checks that Orthanc then holds the 200 instances.
2. WADO-RS retrieve of the 120-frame cine ``color3d_jpeg_baseline.dcm``: as stored (``*``, 6.1 MB of
   JPEG) and Orthanc's default (Explicit VR Little Endian, 110.6 MB decoded by the server): MB/s and
   peak Python memory (tracemalloc) of sonobridge's streamed :func:`iter_study` vs dicomweb-client's
   ``retrieve_study``.

    .venv/bin/python benchmarks/bench_network.py [--quick]

Needs the test extra (dicomweb-client) and Orthanc. Always exits 0: this is a report.
"""
from __future__ import annotations

import argparse
import io
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
CINE = REPO.parent / "shared" / "data" / "dicom" / "wheels" / "pydicom-data" / "color3d_jpeg_baseline.dcm"
COUNT = 200
STUDY = "1.2.826.0.1.3680043.8.498.169999"


def stow_sonobridge(server, blobs: list[bytes]) -> None:
    """Our STOW-RS: raw Part-10 bytes in."""
    from sonobridge.dicom import dicomweb

    result = dicomweb.store_instances(server.dicomweb_url, blobs)
    assert result["status"] == 200, result["failed"][:3]


def datasets_of(blobs: list[bytes]) -> list:
    """pydicom Datasets of the blobs (made before timing: dicomweb-client's API takes Datasets)."""
    import pydicom

    return [pydicom.dcmread(io.BytesIO(b)) for b in blobs]


def stow_dicomweb_client(server, datasets: list) -> None:
    """dicomweb-client's STOW-RS (it serialises the Datasets itself, inside the timing)."""
    from dicomweb_client.api import DICOMwebClient

    DICOMwebClient(server.dicomweb_url).store_instances(datasets)


#: (label, send(server, payload), prepare(blobs) -> payload or None for the blobs themselves): each
#: variant stores the 200 instances; ``prepare`` runs once, untimed. Other parts append theirs
#: (the DIMSE C-STORE variants: ours and pynetdicom's plain storescu loop).
STORE_VARIANTS: list[tuple[str, Callable, Callable | None]] = [
    ("sonobridge dicomweb.store_instances (STOW-RS)", stow_sonobridge, None),
    ("dicomweb-client DICOMwebClient.store_instances (STOW-RS)", stow_dicomweb_client, datasets_of),
]


# ---- DIMSE C-STORE variants -----------------------------------------------------------------------------------

def files_of(blobs: list[bytes]) -> list[Path]:
    """The blobs as files in a temporary folder (made before timing: C-STORE senders read files)."""
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="bench-cstore-"))
    atexit.register(shutil.rmtree, folder, True)
    paths = [folder / f"i{number:04d}.dcm" for number in range(len(blobs))]
    for path, blob in zip(paths, blobs):
        path.write_bytes(blob)
    return paths


def _dimse_url(server) -> str:
    return f"dicom://{server.aet}@127.0.0.1:{server.dicom_port}"


def cstore_sonobridge(server, paths: list[Path]) -> None:
    """Our one-call C-STORE: every file over one association (TCP_NODELAY)."""
    from sonobridge.dicom import dimse

    results = dimse.store_files(_dimse_url(server), paths)
    assert set(results.values()) == {0}, results


def cstore_push(server, paths: list[Path]) -> None:
    """What ``process --push`` does: a C-FIND of the study's instances first (idempotence), then C-STORE."""
    from sonobridge.pipeline.push import endpoint, push_files

    outcome = push_files(endpoint(_dimse_url(server)), paths)
    assert outcome.ok, outcome


def _send_loop(ae_class, server, paths: list[Path]) -> None:
    """storescu's loop: one association, ``dcmread`` + ``send_c_store`` per file."""
    import pydicom

    ae = ae_class("STORESCU")
    first = pydicom.dcmread(paths[0], stop_before_pixels=True)
    ae.add_requested_context(first.SOPClassUID, first.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title=server.aet)
    assert assoc.is_established
    try:
        for path in paths:
            assert assoc.send_c_store(pydicom.dcmread(path)).Status == 0
    finally:
        assoc.release()


def cstore_pynetdicom(server, paths: list[Path]) -> None:
    """Plain pynetdicom: ``pynetdicom.AE``, the storescu loop."""
    import pynetdicom

    _send_loop(pynetdicom.AE, server, paths)


def cstore_sonobridge_ae(server, paths: list[Path]) -> None:
    """The same loop on ``sonobridge.dicom.dimse.AE`` (pynetdicom's code path plus TCP_NODELAY)."""
    from sonobridge.dicom import dimse

    _send_loop(dimse.AE, server, paths)


STORE_VARIANTS += [
    ("sonobridge dimse.store_files (C-STORE)", cstore_sonobridge, files_of),
    ("sonobridge push_files (C-FIND, then C-STORE)", cstore_push, files_of),
    ("sonobridge dimse.AE send_c_store loop", cstore_sonobridge_ae, files_of),
    ("pynetdicom AE send_c_store loop (storescu)", cstore_pynetdicom, files_of),
]


def bench_store(server, repeats: int) -> list[tuple[str, float]]:
    from pacs import make_instance

    blobs = [make_instance(STUDY, STUDY + ".1", n, rows=64, columns=64, seed=7) for n in range(COUNT)]
    best = {label: float("inf") for label, _, _ in STORE_VARIANTS}
    payloads = {label: prepare(blobs) if prepare else blobs for label, _, prepare in STORE_VARIANTS}
    for _ in range(repeats):
        for label, function, _prepare in STORE_VARIANTS:
            server.reset()
            began = time.perf_counter()
            function(server, payloads[label])
            best[label] = min(best[label], time.perf_counter() - began)
            held = server.instance_count()
            assert held == COUNT, f"{label}: Orthanc holds {held} instances"
    print(f"\n1. store {COUNT} instances of {len(blobs[0])} bytes, best of {repeats}")
    rows = []
    for label, seconds in best.items():
        rows.append((label, COUNT / seconds))
        print(f"   {label:60s} {seconds:7.3f} s  {COUNT / seconds:8.1f} instances/s")
    return rows


def _measure(function: Callable[[], int]) -> tuple[float, int, int]:
    tracemalloc.start()
    began = time.perf_counter()
    size = function()
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, size, peak


def bench_retrieve(server, repeats: int) -> list[tuple[str, str, float, float]]:
    import pydicom
    from dicomweb_client.api import DICOMwebClient

    from sonobridge.dicom import dicomweb

    server.reset()
    assert dicomweb.store_instances(server.dicomweb_url, [CINE.read_bytes()])["status"] == 200
    study = pydicom.dcmread(CINE, stop_before_pixels=True).StudyInstanceUID

    def ours(syntax: str) -> Callable[[], int]:
        return lambda: sum(len(b) for b in dicomweb.iter_study(server.dicomweb_url, study, transfer_syntax=syntax))

    def theirs(syntax: str) -> Callable[[], int]:
        client = DICOMwebClient(server.dicomweb_url)
        kind = (("application/dicom", syntax),) if syntax else None
        return lambda: sum(1 for _dataset in client.iter_study(study, media_types=kind))   # parsed Datasets

    rows = []
    print(f"\n2. WADO-RS retrieve of the 120-frame cine, best of {repeats} (peak: tracemalloc, Python allocations)")
    for syntax, label in (("*", "as stored (JPEG, *)"), ("", "server default (Explicit VR LE)")):
        best_ours = min((_measure(ours(syntax)) for _ in range(repeats)), key=lambda r: r[0])
        megabytes = best_ours[1] / 1e6
        print(f"   {label:34s} sonobridge iter_study: {best_ours[0]:6.3f} s  {megabytes / best_ours[0]:7.1f} MB/s"
              f"  peak {best_ours[2] / 1e6:6.1f} MB for {megabytes:.1f} MB")
        rows.append((label, "sonobridge iter_study", megabytes / best_ours[0], best_ours[2] / 1e6))
        try:
            best_theirs = min((_measure(theirs(syntax)) for _ in range(repeats)), key=lambda r: r[0])
            print(f"   {'':34s} dicomweb-client iter_study: {best_theirs[0]:6.3f} s  "
                  f"{megabytes / best_theirs[0]:7.1f} MB/s  peak {best_theirs[2] / 1e6:6.1f} MB")
            rows.append((label, "dicomweb-client iter_study", megabytes / best_theirs[0], best_theirs[2] / 1e6))
        except Exception as error:  # noqa: BLE001 - a report: the reference may not support this negotiation
            print(f"   {'':34s} dicomweb-client: {type(error).__name__}: {str(error)[:120]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat instead of three")
    args = parser.parse_args(argv)
    from pacs import OrthancUnavailable, start_orthanc

    repeats = 1 if args.quick else 3
    print(f"bench_network: {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.machine()}, Python {platform.python_version()}")
    try:
        with tempfile.TemporaryDirectory() as folder, start_orthanc(Path(folder)) as server:
            version = server.rest("GET", "/system")["Version"]
            print(f"Orthanc {version} at {server.http_url} (DICOM port {server.dicom_port})")
            bench_store(server, repeats)
            bench_retrieve(server, repeats)
    except OrthancUnavailable as error:
        print(f"Orthanc cannot start: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
