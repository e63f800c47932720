"""Issue 20, smaller items: consistent units in ``info``, a one-frame video at the yml's rate,
lossless JPEG-LS DICOM by default, 16-bit images kept bit-exact in zea and DICOM, non-ultrasound
DICOM in a cohort as not_applicable, the ``all`` extra, and a missing extra as one line."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import numpy as np
import pydicom
import pytest

from sonobridge.cli import main
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import Recording
from sonobridge.formats import open_recording
from sonobridge.formats.dicom.writer import export_dicom
from sonobridge.formats.registry import not_applicable
from sonobridge.formats.zea.writer import export_zea

from support import CINE, DICOM, REPO, dciodvfy_errors, synthetic_stream

JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
WORD_16 = DICOM / "pydicom" / "JPEGLSNearLossless_16.dcm"          # a 16-bit grey secondary capture


def test_info_prints_frequencies_in_mhz_and_lengths_in_mm(clarius_data, capsys):
    assert main(["info", str(clarius_data / "carotid_doppler_2020")]) == 0
    out = capsys.readouterr().out
    assert "transmit_frequency: 10 MHz" in out and "transmit_frequency: 5 MHz" in out
    assert "imaging_depth: 30 mm" in out and "focal_depth: 15 mm" in out and "frame_rate: 18 Hz" in out
    assert "tgc: 23 dB @ 0 mm, 26 dB @ 30 mm" in out
    assert not re.search(r"\de[+-]\d", out), out                   # no 1e+07 anywhere
    assert not re.search(r"\d m\b", out), out                      # lengths never in bare metres


def test_one_frame_video_takes_the_yml_frame_rate(clarius_data, tmp_path):
    import av

    assert main(["video", str(clarius_data / "carotid_doppler_2020"), "--probe", "L7",
                 "--out-dir", str(tmp_path), "-q"]) == 0
    videos = sorted(tmp_path.glob("*.mp4"))
    assert videos
    for video in videos:                                            # the yml says "frame rate: 18 Hz"
        with av.open(str(video)) as container:
            assert container.streams.video[0].average_rate == 18
        assert json.loads(video.with_name(video.name + ".index.json").read_text())["fps"] == [18, 1]


def test_dicom_output_is_lossless_jpeg_ls_by_default(tmp_path):
    out = tmp_path / "cine.dcm"
    assert main(["convert", str(CINE), str(out), "-q"]) == 0
    ds = pydicom.dcmread(out, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == JPEG_LS_LOSSLESS and ds.LossyImageCompression == "00"
    source = np.asarray(open_recording(CINE)["image"].frames)
    assert np.array_equal(np.asarray(open_recording(out)["image"].frames), source)
    assert out.stat().st_size < source.nbytes / 2
    assert dciodvfy_errors(out) == []
    plain = tmp_path / "plain.dcm"                                  # uncompressed still on request
    assert main(["convert", str(CINE), str(plain), "--dicom-compression", "none", "-q"]) == 0
    assert pydicom.dcmread(plain, stop_before_pixels=True).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


@pytest.mark.parametrize("compression", ["jpeg-ls", "jpeg-xl", "none"])
def test_uint16_images_round_trip_bit_exact_through_dicom_and_zea(tmp_path, compression):
    frames = np.random.default_rng(7).integers(0, 65536, (3, 20, 24), dtype=np.uint16)
    grid = PixelGrid(x_m=np.arange(24) * 2e-4, z_m=np.arange(20) * 2e-4)
    stream = synthetic_stream(frames, geometry=grid)
    dcm = export_dicom(stream, tmp_path / "word.dcm", compression=compression)
    if compression != "jpeg-xl":             # Debian's dciodvfy does not know the JPEG XL syntaxes
        assert dciodvfy_errors(dcm) == []
    back = open_recording(dcm)["image"]
    assert back.dtype == np.uint16 and np.array_equal(np.asarray(back.frames), frames)
    assert np.allclose(back.geometry.x_m - back.geometry.x_m[0], grid.x_m)
    zea_file = export_zea(Recording("word", {"image": stream}), tmp_path / "word.hdf5")
    again = open_recording(zea_file)["image"]
    assert again.dtype == np.uint16 and np.array_equal(np.asarray(again.frames), frames)


def test_a_16_bit_dicom_converts_to_zea_and_dicom(tmp_path):
    source = np.asarray(open_recording(WORD_16)["image"].frames)
    assert source.dtype == np.uint16 and source.max() > 255
    for name in ("word.hdf5", "word.dcm"):
        assert main(["convert", str(WORD_16), str(tmp_path / name), "-q"]) == 0, name
        assert np.array_equal(np.asarray(open_recording(tmp_path / name)["image"].frames), source), name
    assert main(["validate", str(tmp_path / "word.hdf5")]) == 0
    signed = synthetic_stream(np.zeros((1, 4, 4), np.int16))       # no unsigned-only SC holds them
    with pytest.raises(Exception, match="uint16"):
        export_dicom(signed, tmp_path / "signed.dcm")
    zea_file = export_zea(Recording("signed", {"image": signed}), tmp_path / "signed.hdf5")
    assert open_recording(zea_file)["image"].dtype == np.int16


def test_non_ultrasound_dicom_is_not_applicable_in_a_cohort(tmp_path, capsys):
    wheels = DICOM / "pydicom"
    assert not_applicable(str(wheels / "CT_small.dcm"), "dicom").startswith("not ultrasound: modality CT")
    assert not_applicable(str(wheels / "reportsi.dcm"), "dicom").startswith("no image")
    assert not_applicable(str(CINE), "dicom") is None
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    (cohort / "broken.dcm").write_bytes(b"DICM" * 50)                # damaged: the reader's error, not n/a
    assert not_applicable(str(cohort / "broken.dcm"), "dicom") is None
    (cohort / "broken.dcm").unlink()
    for name in ("CT_small.dcm", "reportsi.dcm", "rtplan.dcm", "rtdose.dcm", "examples_ybr_color.dcm"):
        (cohort / name).write_bytes((wheels / name).read_bytes())
    code = main(["process", str(cohort), "--out", str(tmp_path / "out"), "--dicom", "--workers", "1", "-q", "--json"])
    statuses = json.loads(capsys.readouterr().out)["status"]
    assert code == 0, statuses
    assert {label.rsplit("/", 1)[-1]: status for label, status in statuses.items()} == {
        "CT_small.dcm": "not_applicable", "reportsi.dcm": "not_applicable", "rtplan.dcm": "not_applicable",
        "rtdose.dcm": "not_applicable", "examples_ybr_color.dcm": "built"}


def test_damaged_or_mislabelled_ultrasound_is_never_not_applicable(tmp_path):
    """An ultrasound SOP class applies whatever its Modality says, and a cine cut short before or
    inside its pixel data is the reader's error, not a report without an image."""
    data = CINE.read_bytes()
    pixels = data.rfind(b"\xe0\x7f\x10\x00")                 # the (7FE0,0010) Pixel Data tag
    for name, cut in (("before.dcm", pixels), ("inside.dcm", pixels + 100)):
        (tmp_path / name).write_bytes(data[:cut])
        assert not_applicable(str(tmp_path / name), "dicom") is None
    relabelled = pydicom.dcmread(CINE)
    relabelled.Modality = "CT"
    relabelled.save_as(tmp_path / "ct.dcm")
    assert not_applicable(str(tmp_path / "ct.dcm"), "dicom") is None
    assert main(["process", str(tmp_path / "before.dcm"), "--out", str(tmp_path / "out"), "--workers", "1",
                 "-q"]) == 1                                   # an error, reported as such


def test_the_all_extra_holds_every_optional_feature():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    named = set(re.fullmatch(r"sonobridge\[(.*)]", everything)[1].split(","))
    assert named == set(extras) - {"all", "test", "docs"}


@pytest.mark.parametrize("blocked, command, extra", [
    ("tifffile", ["convert", str(CINE), "{out}/x.tif"], "tiff"),
    ("imagecodecs", ["convert", str(CINE), "{out}/x.dcm"], "dicom"),
    ("av", ["video", str(CINE), "--out-dir", "{out}"], "video"),
])
def test_a_missing_extra_is_one_line_naming_it(tmp_path, blocked, command, extra):
    argv = [part.format(out=tmp_path) for part in command]
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"from sonobridge.cli import main\nsys.exit(main({argv!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and f"sonobridge[{extra}]" in lines[0]


def test_an_unguarded_import_of_an_extra_is_one_line(tmp_path):
    code = ("import argparse, importlib, sys; sys.modules['tifffile'] = None\n"
            "from sonobridge import cli\n"
            "sys.exit(cli._run(argparse.Namespace(handler=lambda args: importlib.import_module('tifffile'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("sonobridge: error: this needs tifffile, which is not installed: "
                                   "pip install 'sonobridge[tiff]'")


@pytest.mark.parametrize("command", ["preview", "render"])
def test_an_unwritable_output_is_reported_per_recording_with_json(tmp_path, capsys, command):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    code = main([command, str(CINE), str(DICOM / "pydicom-data" / "OBXXXX1A.dcm"), "--out-dir", str(blocker / "x"),
                 "--json", "-q"])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    results = json.loads(out.out)
    assert len(results) == 2 and all("error" in result for result in results.values())
