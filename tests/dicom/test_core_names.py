"""The toolkit's core names (pydcm's "Read / write / decode"): dcmread / dcmwrite (sonobridge.dicom.io),
decode and pixel_array from a path, a Dataset, bytes or a binary file-like, generate_uid, the
geometry sidecar under pydcm's keys, pydicom's data model re-exported under its own names, and
open_recording / read_dicom from objects in memory."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.errors import InvalidDicomError

import sonobridge.dicom as pydcm
from sonobridge.dicom import io as dicom_io
from sonobridge.dicom import pixels, ultrasound
from sonobridge.errors import FormatError, TruncatedFileError, UnsupportedInputError
from sonobridge.formats import open_recording
from sonobridge.formats.dicom.reader import read_dicom

from support import CINE, DICOM

CT = DICOM / "pydicom" / "CT_small.dcm"
ENHANCED_CT = DICOM / "pydicom-data" / "eCT_Supplemental.dcm"


def _sources(path):
    """The same DICOM file as a path, a str, bytes, a BytesIO and an open file."""
    data = path.read_bytes()
    handle = open(path, "rb")       # noqa: SIM115 - closed by the caller
    return [path, str(path), data, io.BytesIO(data), handle], handle


# ---------------------------------------------------------------- dcmread


def test_dcmread_reads_paths_bytes_and_file_likes_as_pydicom_does():
    expected = pydicom.dcmread(CT)
    sources, handle = _sources(CT)
    with handle:
        for source in sources:
            ds = pydcm.dcmread(source)
            assert isinstance(ds, pydcm.FileDataset) and ds.SOPInstanceUID == expected.SOPInstanceUID
            assert ds.PixelData == expected.PixelData and ds.PatientName == expected.PatientName
    assert not handle.closed or handle in sources          # a caller's file is not closed by dcmread
    assert "PixelData" not in pydcm.dcmread(CT, stop_before_pixels=True)


def test_dcmread_refuses_non_dicom_as_pydicom_and_the_package_do_unless_forced(tmp_path):
    with pytest.raises(InvalidDicomError, match="<bytes>: not a DICOM file") as caught:
        pydcm.dcmread(b"\0" * 300)
    assert isinstance(caught.value, UnsupportedInputError) and isinstance(caught.value, dicom_io.NotDicomError)
    headerless = _image_dataset(np.zeros((1, 2, 2), np.uint8))
    headerless.file_meta = pydicom.dataset.FileMetaDataset()              # no preamble, no file meta
    buffer = io.BytesIO()
    headerless.save_as(buffer, enforce_file_format=False, implicit_vr=True, little_endian=True)
    with pytest.raises(pydcm.InvalidDicomError):
        pydcm.dcmread(io.BytesIO(buffer.getvalue()))
    assert pydcm.dcmread(io.BytesIO(buffer.getvalue()), force=True).Rows == headerless.Rows
    with pytest.raises(FileNotFoundError, match="no such file") as missing:
        pydcm.dcmread(tmp_path / "missing.dcm")
    assert isinstance(missing.value, UnsupportedInputError) and isinstance(missing.value, dicom_io.NoSuchFileError)


def test_dcmread_refuses_a_lying_length_in_a_stream_before_allocating():
    data = bytearray(CT.read_bytes())
    at = data.find(b"\xe0\x7f\x10\x00OW\0\0")
    data[at + 8:at + 12] = (0x7FFFFFF0).to_bytes(4, "little")
    with pytest.raises(TruncatedFileError, match="<BytesIO>.*declares 2147483632 bytes"):
        pydcm.dcmread(io.BytesIO(bytes(data)))


def test_dcmread_charset_override_decodes_text_the_file_misdeclares():
    ds = _image_dataset(np.zeros((1, 2, 2), np.uint8))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jörg"
    buffer = io.BytesIO()
    pydcm.dcmwrite(buffer, ds)
    written = buffer.getvalue().replace(b"ISO_IR 192", b"ISO_IR 100")      # UTF-8 text declared Latin-1
    assert str(pydcm.dcmread(io.BytesIO(written)).PatientName) == "MÃ¼ller^JÃ¶rg"
    assert str(pydcm.dcmread(io.BytesIO(written), charset_override="ISO_IR 192").PatientName) == "Müller^Jörg"


# ---------------------------------------------------------------- dcmwrite


def _image_dataset(frames: np.ndarray, syntax: str = "1.2.840.10008.1.2.1"):
    ds = pydcm.Dataset()
    ds.file_meta = pydcm.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = pydcm.generate_uid(entropy_srcs=["core names", str(frames.shape)])
    ds.Rows, ds.Columns = frames.shape[1:3]
    ds.NumberOfFrames, ds.SamplesPerPixel, ds.PhotometricInterpretation = len(frames), 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = frames.tobytes()
    return ds


def test_dcmwrite_writes_part10_to_a_path_or_a_stream_and_keeps_existing_files(tmp_path):
    frames = np.arange(2 * 4 * 6, dtype=np.uint8).reshape(2, 4, 6)
    ds = _image_dataset(frames)
    pydcm.dcmwrite(tmp_path / "a.dcm", ds)
    buffer = io.BytesIO()
    pydcm.dcmwrite(buffer, ds)
    assert (tmp_path / "a.dcm").read_bytes() == buffer.getvalue() and dicom_io.is_dicom(buffer.getvalue())
    np.testing.assert_array_equal(pydcm.decode(tmp_path / "a.dcm"), frames)
    with pytest.raises(FileExistsError):
        pydcm.dcmwrite(tmp_path / "a.dcm", ds, overwrite=False)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.8.1"])
def test_dcmwrite_writes_syntaxes_pydicom_cannot_to_paths_and_streams(tmp_path, syntax):
    """JPEG XL (unknown to pydicom 3.0) and Deflated Image Frame Compression (not writable by it)."""
    import zlib

    from pydicom.encaps import encapsulate

    frames = np.random.default_rng(1).integers(0, 256, (2, 8, 8), dtype=np.uint8)
    ds = _image_dataset(frames, syntax)
    if syntax == "1.2.840.10008.1.2.8.1":
        def deflate(frame: np.ndarray) -> bytes:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            return packer.compress(frame.tobytes()) + packer.flush()
        ds.PixelData = encapsulate([deflate(frame) for frame in frames])
    else:
        ds.PixelData = pixels.encode_frames(frames, "jpeg-xl")[0]
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    buffer = io.BytesIO()
    pydcm.dcmwrite(buffer, ds)
    pydcm.dcmwrite(tmp_path / "f.dcm", ds)
    assert str(ds.file_meta.TransferSyntaxUID) == syntax             # the dataset is left as it was
    for source in (buffer.getvalue(), tmp_path / "f.dcm"):
        assert str(pydcm.dcmread(source).file_meta.TransferSyntaxUID) == syntax
        np.testing.assert_array_equal(pydcm.decode(source), frames)


# ---------------------------------------------------------------- decode, pixel_array


def test_decode_takes_a_dataset_bytes_or_a_file_like_as_well_as_a_path():
    expected = pydcm.decode(CINE)
    sources, handle = _sources(CINE)
    with handle:
        for source in [*sources, pydicom.dcmread(CINE)]:
            np.testing.assert_array_equal(pydcm.decode(source), expected)
    np.testing.assert_array_equal(pydcm.decode(io.BytesIO(CINE.read_bytes()), frame=3), expected[2:3])


def test_decode_errors_name_a_source_without_a_file_name():
    with pytest.raises(UnsupportedInputError, match="<BytesIO>: not a DICOM file"):
        pydcm.decode(io.BytesIO(b"no DICOM here" * 20))
    ds = pydicom.dcmread(CT, stop_before_pixels=True)
    with pytest.raises(FormatError, match="CT_small.dcm: no pixel data"):
        pydcm.decode(ds)
    with pytest.raises(UnsupportedInputError, match="cannot read DICOM from a int"):
        pydcm.decode(42)


def test_pixel_array_is_the_pixels_one_and_matches_pydicom():
    assert pydcm.pixel_array is pixels.pixel_array
    expected = pydicom.pixels.pixel_array(pydicom.dcmread(CT))
    for source in (CT, pydicom.dcmread(CT), io.BytesIO(CT.read_bytes())):
        np.testing.assert_array_equal(pydcm.pixel_array(source), expected)


# ---------------------------------------------------------------- with_meta and rescale


def test_with_meta_has_pydcm_keys_in_dicom_units():
    ds = pydicom.dcmread(CT)
    _, meta = pydcm.decode(CT, with_meta=True)
    assert meta["rescale_slope"] == float(ds.RescaleSlope) and meta["rescale_intercept"] == float(ds.RescaleIntercept)
    assert meta["pixel_spacing"] == pytest.approx([float(v) for v in ds.PixelSpacing])
    assert meta["pixel_spacing_m"] == pytest.approx([float(v) / 1e3 for v in ds.PixelSpacing])
    assert meta["slice_thickness"] == float(ds.SliceThickness)
    assert meta["image_position_patient"] == pytest.approx([float(v) for v in ds.ImagePositionPatient])
    assert meta["image_orientation_patient"] == pytest.approx([float(v) for v in ds.ImageOrientationPatient])
    assert meta["modality"] == "CT" and meta["sop_instance_uid"] == ds.SOPInstanceUID
    _, cine = pydcm.decode(CINE, with_meta=True)
    assert (cine["rescale_slope"], cine["rescale_intercept"], cine["slice_thickness"]) == (1.0, 0.0, None)
    assert cine["pixel_spacing"] == pytest.approx([v * 1e3 for v in cine["pixel_spacing_m"]])


def test_with_meta_reads_enhanced_objects_functional_groups():
    ds = pydicom.dcmread(ENHANCED_CT, stop_before_pixels=True)
    shared = ds.SharedFunctionalGroupsSequence[0]
    measures = shared.PixelMeasuresSequence[0]
    meta = ultrasound.geometry_meta(ds)
    assert "PixelSpacing" not in ds and meta["pixel_spacing"] == pytest.approx([float(v) for v in measures.PixelSpacing])
    assert meta["slice_thickness"] == float(measures.SliceThickness)
    assert meta["rescale_intercept"] == float(shared.PixelValueTransformationSequence[0].RescaleIntercept)
    first = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
    assert meta["image_position_patient"] == pytest.approx([float(v) for v in first])
    hu = pydcm.decode(ENHANCED_CT, rescale=True)
    stored = pydcm.decode(ENHANCED_CT)
    np.testing.assert_allclose(hu, stored * meta["rescale_slope"] + meta["rescale_intercept"])


def test_rescale_applies_each_frames_own_line():
    frames = np.full((2, 2, 2), 10, np.uint8)
    ds = _image_dataset(frames)
    ds.PerFrameFunctionalGroupsSequence = [pydcm.Dataset(), pydcm.Dataset()]
    for item, (slope, intercept) in zip(ds.PerFrameFunctionalGroupsSequence, [(1, 0), (2, -5)]):
        line = pydcm.Dataset()
        line.RescaleSlope, line.RescaleIntercept, line.RescaleType = str(slope), str(intercept), "US"
        item.PixelValueTransformationSequence = [line]
    hu = pydcm.decode(ds, rescale=True)
    assert hu.dtype == np.float32 and hu[0].tolist() == [[10, 10]] * 2 and hu[1].tolist() == [[15, 15]] * 2
    assert pydcm.decode(ds, frame=2, rescale=True).tolist() == [[[15, 15]] * 2]


# ---------------------------------------------------------------- generate_uid, data model, lazy names


def test_generate_uid_is_deterministic_with_entropy_and_a_pydicom_uid():
    first = pydcm.generate_uid(entropy_srcs=["patient", "study"])
    assert first == pydcm.generate_uid(entropy_srcs=["patient", "study"]) and isinstance(first, pydcm.UID)
    assert pydcm.generate_uid(None).startswith("2.25.") and pydcm.generate_uid("1.2.3.").startswith("1.2.3.")
    assert pydcm.uid.generate_uid is pydcm.generate_uid
    assert pydcm.uid.ExplicitVRLittleEndian == pydicom.uid.ExplicitVRLittleEndian
    from sonobridge.dicom.uid import JPEGLSLossless, PYDICOM_ROOT_UID  # noqa: F401 - pydicom.uid's names here too


DATA_MODEL = ("Dataset", "FileDataset", "FileMetaDataset", "DataElement", "Sequence", "PersonName", "Tag",
              "BaseTag", "MultiValue", "DSfloat", "IS", "UID", "InvalidDicomError")
PYDICOM_MODULES = ("charset", "config", "datadict", "dataelem", "dataset", "dicomio", "encaps", "encoders",
                   "env_info", "errors", "examples", "filereader", "filewriter", "jsonrep", "multival",
                   "overlays", "pixel_data_handlers", "sequence", "tag", "valuerep", "values")


def test_the_data_model_is_pydicoms_own():
    import importlib

    for name in DATA_MODEL:
        assert getattr(pydcm, name) is getattr(pydicom, name, None) or getattr(pydcm, name).__module__.startswith(
            "pydicom."), name
    for name in PYDICOM_MODULES:
        assert getattr(pydcm, name) is importlib.import_module(f"pydicom.{name}"), name
    from sonobridge.dicom.dataset import Dataset
    from sonobridge.dicom.valuerep import PersonName

    assert Dataset is pydicom.dataset.Dataset and PersonName is pydicom.valuerep.PersonName
    assert {"Dataset", "dcmread", "pixel_array"} <= set(pydcm.__all__) and "dataset" in dir(pydcm)


def test_pydicom_style_code_runs_unchanged():
    """A pydicom user's script with ``import sonobridge.dicom as pydicom``."""
    ds = pydcm.Dataset()
    ds.PatientName = pydcm.valuerep.PersonName("Doe^Jane")
    ds.add_new(pydcm.Tag(0x0010, 0x0020), "LO", "ID1")
    ds.ReferencedImageSequence = pydcm.Sequence([pydcm.Dataset()])
    ds.file_meta = pydcm.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydcm.uid.ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = pydcm.uid.SecondaryCaptureImageStorage, pydcm.generate_uid()
    buffer = io.BytesIO()
    pydcm.dcmwrite(buffer, ds)
    back = pydcm.dcmread(io.BytesIO(buffer.getvalue()))
    assert back.PatientName.family_name == "Doe" and back[pydcm.Tag("PatientID")].value == "ID1"
    assert isinstance(back["ReferencedImageSequence"], pydcm.DataElement) and pydcm.datadict.keyword_for_tag(
        0x00100010) == "PatientName"
    assert pydcm.filewriter.dcmwrite is pydicom.dcmwrite and pydcm.errors.InvalidDicomError is pydcm.InvalidDicomError


def test_any_module_of_the_toolkit_is_reachable_by_name_and_unknown_names_are_not():
    import importlib

    for name in ("transforms", "fileset", "diffusion", "codecs", "volume"):
        assert getattr(pydcm, name) is importlib.import_module(f"sonobridge.dicom.{name}")
        assert name in dir(pydcm)
    for name in ("no_such_module", "_private", "write"):
        with pytest.raises(AttributeError):
            getattr(pydcm, name)


def test_import_stays_light_and_pydicom_modules_load_on_use():
    script = ("import sys, sonobridge.dicom as d\n"
              "light = not {'numpy', 'pydicom'} & set(sys.modules)\n"
              "from sonobridge.dicom.tag import Tag\n"
              "print(light, Tag.__module__, 'sonobridge.core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "pydicom.tag", "False"]


# ---------------------------------------------------------------- recordings from objects in memory


def test_open_recording_and_read_dicom_take_a_dataset_bytes_or_a_stream():
    expected = read_dicom(CINE)["image"]
    uid = pydicom.dcmread(CINE, stop_before_pixels=True).SOPInstanceUID
    data = CINE.read_bytes()
    sources = {str(CINE): lambda: pydicom.dcmread(CINE), "<BytesIO>": lambda: io.BytesIO(data), "<bytes>": lambda: data}
    for label, source in sources.items():
        for reader in (open_recording, read_dicom):
            recording = reader(source())
            assert recording.provenance.source_files == (label,)
            assert recording.name == (CINE.stem if label == str(CINE) else uid)
            stream = recording["image"]
            assert stream.n_frames == expected.n_frames
            np.testing.assert_array_equal(stream.frames[0:2], expected.frames[0:2])
            np.testing.assert_allclose(stream.timestamps_s, expected.timestamps_s)
    anonymous = pydicom.dcmread(io.BytesIO(data))
    assert read_dicom(anonymous).provenance.source_files == (f"<Dataset {uid}>",)


def test_open_recording_refuses_objects_no_format_reads():
    with pytest.raises(UnsupportedInputError, match="BytesIO object is no recording.*DICOM"):
        open_recording(io.BytesIO(b"not DICOM" * 40))
    with pytest.raises(UnsupportedInputError, match="int object"):
        open_recording(7)
