"""Presentation states (sonobridge.dicom.pr) on an ultrasound cine sonobridge writes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support import CINE, DICOM, dciodvfy_errors, moving_frames

pytest.importorskip("highdicom")


@pytest.fixture(scope="module")
def cine(tmp_path_factory) -> Path:
    return write_cine(tmp_path_factory.mktemp("us"))


def write_cine(folder: Path) -> Path:
    """A grey Ultrasound Multi-frame Image with region calibration, written by the format adapter."""
    from sonobridge.core.geometry import PixelGrid
    from sonobridge.core.recording import Provenance, SampleKind, Stream
    from sonobridge.formats.dicom import export_dicom

    frames = moving_frames(4, 64, 48)
    stream = Stream(name="image", kind=SampleKind.IMAGE, frame_shape=(64, 48), dtype=np.dtype(np.uint8),
                    frames=frames, clock_source=(np.arange(4) * 4e7).astype(np.uint64),
                    geometry=PixelGrid(x_m=np.arange(48) * 2e-4, z_m=np.arange(64) * 2e-4),
                    provenance=Provenance(("x",), "test"))
    return export_dicom(stream, folder / "us.dcm")


ANNOTATIONS = [{"layer": "ML", "texts": [{"text": "lesion", "anchor": [5.0, 5.0], "units": "PIXEL"}],
                "graphics": [{"type": "POLYLINE", "points": [[1.0, 2.0], [10.0, 20.0]], "units": "PIXEL",
                              "filled": False}], "frame_numbers": [1, 2]}]


@pytest.mark.parametrize("rotation, h_flip", [(0, False), (90, True), (270, False)])
def test_gsps_on_an_ultrasound_cine_is_valid_and_reads_back(cine, tmp_path, rotation, h_flip):
    """highdicom alone refuses the US cine; ours writes a GSPS dciodvfy accepts, read back identically."""
    import highdicom as hd
    import pydicom

    from sonobridge.dicom import pr

    with pytest.raises(AttributeError):         # highdicom's own path on the same source
        hd.pr.GrayscaleSoftcopyPresentationState([pydicom.dcmread(cine)], hd.UID(), 1, hd.UID(), 1, "m", "m",
                                                 "1", "1", "PS")
    out = tmp_path / "ps.dcm"
    pr.write_pr([cine], window=(128, 256), graphic_annotations=ANNOTATIONS, rotation=rotation, h_flip=h_flip,
                output=out)
    assert dciodvfy_errors(out) == []
    content = pr.read_pr(out)
    assert content["annotations"] == ANNOTATIONS
    assert content["windows"][0]["window_center"] == 128 and content["rotation"] == rotation
    assert content["references"][0]["sop_instance_uid"] == pydicom.dcmread(cine).SOPInstanceUID
    theirs = pydicom.dcmread(out)
    data = theirs.GraphicAnnotationSequence[0].GraphicObjectSequence[0].GraphicData
    assert [float(v) for v in data] == [1.0, 2.0, 10.0, 20.0]


def test_pseudo_colour_and_bytes_output(cine, tmp_path):
    from sonobridge.dicom import pr

    ramp = list(range(0, 65536, 256))
    data = pr.write_pr([cine], kind="PSEUDO_COLOR", palette={"red": ramp, "green": ramp[::-1], "blue": ramp},
                       window=(100, 200), graphic_annotations=ANNOTATIONS)
    assert isinstance(data, bytes)
    (tmp_path / "pc.dcm").write_bytes(data)
    assert dciodvfy_errors(tmp_path / "pc.dcm") == []
    content = pr.read_pr(data)
    assert content["kind"] == "PSEUDO_COLOR" and content["annotations"] == ANNOTATIONS
    assert content["windows"][0]["window_width"] == 200
    assert pr.read_pr(cine) is None


@pytest.mark.parametrize("kind", ["GSPS", "PSEUDO_COLOR"])
def test_single_frame_source_with_window(tmp_path, kind):
    from sonobridge.dicom import pr

    ramp = list(range(0, 65536, 4096))
    out = tmp_path / "ps.dcm"
    pr.write_pr([DICOM / "pydicom" / "MR_small.dcm"], kind=kind, window={"window_center": 600, "window_width": 1200},
                palette={"red": ramp, "green": ramp, "blue": ramp[::-1]} if kind == "PSEUDO_COLOR" else None,
                output=out)
    assert dciodvfy_errors(out) == []
    assert pr.read_pr(out)["windows"][0]["window_center"] == 600


def test_colour_presentation_state_on_a_colour_ultrasound_cine(tmp_path):
    from sonobridge.dicom import pr

    out = tmp_path / "color.dcm"
    pr.write_pr([CINE], kind="COLOR", graphic_annotations=ANNOTATIONS, output=out)
    assert dciodvfy_errors(out) == []
    assert pr.read_pr(out)["annotations"] == ANNOTATIONS


def test_references_by_identifiers(tmp_path):
    """A reference known only by its UIDs (and size) joins the study given by the identity arguments."""
    from sonobridge.dicom import pr
    from sonobridge.dicom.uid import generate_uid

    ref = {"series_uid": generate_uid(), "sop_class_uid": "1.2.840.10008.5.1.4.1.1.6.1",
           "sop_instance_uid": generate_uid(), "rows": 64, "columns": 48}
    study = generate_uid()
    out = tmp_path / "ps.dcm"
    pr.write_pr([ref], patient_id="P1", patient_name="Doe^J", study_uid=study, window=(40, 80), output=out)
    assert dciodvfy_errors(out) == []
    content = pr.read_pr(out)
    assert content["references"] == [{k: ref[k] for k in ("series_uid", "sop_class_uid", "sop_instance_uid")}]


@pytest.mark.parametrize("options", [{"kind": "NOPE"}, {"rotation": 45}, {"window": (10, 0)},
                                     {"graphic_annotations": [{"layer": "x", "graphics": [{"type": "BLOB",
                                                                                           "points": [[0, 0]]}]}]}])
def test_bad_input_raises_before_writing(cine, tmp_path, options):
    from sonobridge.dicom import pr
    from sonobridge.errors import SonobridgeError

    with pytest.raises(SonobridgeError):
        pr.write_pr([cine], output=tmp_path / "ps.dcm", **options)
    assert list(tmp_path.iterdir()) == []
