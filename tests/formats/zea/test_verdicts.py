"""Mutation suite: our verdicts against the real zea 0.1.8's on the same inputs.

``File.create`` acceptance (ours vs ``zea.File.create``) on mutated inputs, and ``validate`` (ours vs
zea's ``validate_file`` + ``File.validate_spec``) on valid files written by real zea and by us, then
mutated with h5py. Where zea refuses only by crashing (an exception other than TypeError/ValueError/
AssertionError), we must refuse with our own error (a finding)."""
from __future__ import annotations

import copy
import shutil

import h5py
import numpy as np
import pytest

import sonobridge.zea as ours
from sonobridge.formats.zea.schema import field_docs

from zea_verdicts import CRASHES, DELETE, load_real_zea, ours_create, zea_create, zea_valid



@pytest.fixture(scope="module")
def real_zea():
    return load_real_zea()


def base_inputs() -> dict:
    rng = np.random.default_rng(5)
    return {
        "data": {"image": {"values": rng.integers(0, 256, (3, 8, 6), dtype=np.uint8),
                           "coordinates": np.zeros((8, 6, 3), np.float32), "min": 0.0, "max": 255.0},
                 "attenuation_map": {"values": np.full((3, 8, 6), 1e-4, np.float32),
                                     "coordinates": np.zeros((8, 6, 3), np.float32), "gamma": 1.1,
                                     "unit": "dB/m/Hz"}},
        "metadata": {
            "subject": {"id": "s1", "type": "human", "age": np.uint8(40), "sex": "F",
                        "weight": np.float32(60.0), "bmi": np.float32(22.0), "fat_percentage": np.float32(20.0)},
            "credit": "lab", "text_report": "normal",
            "annotations": {"anatomy": "carotid", "view": np.array(["a", "b", "c"]), "label": "benign",
                            "image_quality": "high"},
            "probe_pose": {"translation": np.zeros((5, 3), np.float32), "rotation": np.zeros((5, 4), np.float32),
                           "rotation_representation": "quaternion_wxyz", "start_time_offset": 0.0,
                           "sampling_frequency": 10.0},
            "ecg": {"samples": rng.standard_normal(20).astype(np.float32), "sampling_frequency": 250.0,
                    "start_time_offset": 0.0},
            "voice_narration": {"samples": np.zeros(8, np.int16), "timestamps": np.arange(8) * 0.1,
                                "start_time_offset": 0.0},
            "imu": {"samples": np.zeros((6, 3), np.float32), "sampling_frequency": 100.0, "start_time_offset": 0.0},
        },
        "probe": {"name": "L7", "type": "linear", "probe_geometry": np.zeros((4, 3), np.float32),
                  "element_width": 3e-4},
        "metrics": {"coherence_factor": np.full(3, 0.5, np.float32),
                    "common_midpoint_phase_error": np.zeros(3, np.float32)},
    }


def mutated(path: tuple, value) -> dict:
    inputs = base_inputs()
    node = inputs
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return inputs


S, A, PP, M = ("metadata", "subject"), ("metadata", "annotations"), ("metadata", "probe_pose"), ("metrics",)
ECG, IMG, ATT = ("metadata", "ecg"), ("data", "image"), ("data", "attenuation_map")
CREATE_CASES = {
    "valid": ((), None),
    "age_str": (S + ("age",), "40"), "age_int": (S + ("age",), 40), "age_negative": (S + ("age",), -1),
    "age_300": (S + ("age",), 300), "age_float": (S + ("age",), 40.5), "age_int64": (S + ("age",), np.int64(40)),
    "age_list": (S + ("age",), [40]), "age_float32": (S + ("age",), np.float32(40)),
    "sex_int": (S + ("sex",), 1), "sex_float": (S + ("sex",), 1.5), "sex_np_float": (S + ("sex",), np.float64(1)),
    "sex_array": (S + ("sex",), np.array(["F", "M"])), "sex_bytes": (S + ("sex",), b"F"),
    "weight_str": (S + ("weight",), "70"), "weight_negative": (S + ("weight",), -1.0),
    "weight_inf": (S + ("weight",), float("inf")), "weight_int": (S + ("weight",), 70),
    "weight_int32": (S + ("weight",), np.int32(70)), "weight_float64": (S + ("weight",), np.float64(70)),
    "bmi_zero": (S + ("bmi",), 0.0), "bmi_150": (S + ("bmi",), 150.0), "bmi_nan": (S + ("bmi",), float("nan")),
    "fat_120": (S + ("fat_percentage",), 120.0), "fat_negative": (S + ("fat_percentage",), -1.0),
    "id_empty": (S + ("id",), ""), "id_blank": (S + ("id",), "  "), "id_int": (S + ("id",), 5),
    "id_np_int": (S + ("id",), np.int64(5)), "strain_empty": (S + ("genetic_strain",), " "),
    "type_array": (S + ("type",), np.zeros(2)), "subject_unknown_key": (S + ("height",), 1.8),
    "credit_number": (("metadata", "credit"), np.float32(5)), "credit_python_number": (("metadata", "credit"), 5),
    "report_float": (("metadata", "text_report"), np.float64(3.0)),
    "report_array": (("metadata", "text_report"), np.array([1, 2])),
    "anatomy_per_frame": (A + ("anatomy",), np.array(["a", "b", "c"])),
    "anatomy_wrong_length": (A + ("anatomy",), np.array(["a", "b"])),
    "label_wrong_length": (A + ("label",), np.array(["x", "y", "z", "w"])),
    "label_number": (A + ("label",), np.int64(5)), "label_int_array": (A + ("label",), np.arange(3)),
    "view_2d": (A + ("view",), np.array([["a"], ["b"], ["c"]])), "quality_list": (A + ("image_quality",), ["a", "b", "c"]),
    "annotation_unknown": (A + ("organ",), "liver"),
    "pose_bad_representation": (PP + ("rotation_representation",), "axis_angle"),
    "pose_euler_width4": (PP + ("rotation_representation",), "euler_xyz"),
    "pose_representation_number": (PP + ("rotation_representation",), np.int64(3)),
    "pose_rotation_short": (PP + ("rotation",), np.zeros((4, 4), np.float32)),
    "pose_translation_2": (PP + ("translation",), np.zeros((5, 2), np.float32)),
    "pose_rotation_int": (PP + ("rotation",), np.zeros((5, 4), np.int32)),
    "pose_no_offset": (PP + ("start_time_offset",), DELETE),
    "pose_no_rate": (PP + ("sampling_frequency",), DELETE),
    "pose_rate_negative": (PP + ("sampling_frequency",), -1.0),
    "pose_no_translation": (PP + ("translation",), DELETE),
    "ecg_both_timings": (ECG + ("timestamps",), np.arange(20) * 0.004),
    "ecg_int64": (ECG + ("samples",), np.zeros(20, np.int64)), "ecg_2d": (ECG + ("samples",), np.zeros((20, 2), np.float32)),
    "ecg_float64": (ECG + ("samples",), np.zeros(20)), "ecg_bool": (ECG + ("samples",), np.zeros(20, bool)),
    "ecg_uint8": (ECG + ("samples",), np.zeros(20, np.uint8)), "ecg_no_samples": (ECG + ("samples",), DELETE),
    "ecg_offset_str": (ECG + ("start_time_offset",), "0"), "ecg_rate_str": (ECG + ("sampling_frequency",), "250"),
    "voice_timestamps_not_zero": (("metadata", "voice_narration", "timestamps"), np.arange(1, 9) * 0.1),
    "voice_timestamps_decreasing": (("metadata", "voice_narration", "timestamps"), -np.arange(8) * 0.1),
    "voice_timestamps_short": (("metadata", "voice_narration", "timestamps"), np.arange(7) * 0.1),
    "imu_int64": (("metadata", "imu", "samples"), np.zeros((6, 3), np.int64)),
    "imu_no_offset": (("metadata", "imu", "start_time_offset"), DELETE),
    "metadata_dataset": (("metadata", "extra"), np.zeros(3, np.float32)),
    "metrics_unknown": (M + ("snr",), np.zeros(3, np.float32)), "metrics_str": (M + ("coherence_factor",), "high"),
    "metrics_int": (M + ("coherence_factor",), np.zeros(3, np.int64)),
    "metrics_list": (M + ("coherence_factor",), [0.1, 0.2, 0.3]),
    "metrics_scalar": (M + ("coherence_factor",), np.float32(0.5)),
    "metrics_float64": (M + ("common_midpoint_phase_error",), np.zeros(3)),
    "map_min_str": (IMG + ("min",), "low"), "map_min_int": (IMG + ("min",), 0),
    "map_max_int64": (IMG + ("max",), np.int64(3)), "map_max_array": (IMG + ("max",), np.zeros(2, np.float32)),
    "gamma_str": (ATT + ("gamma",), "1.1"), "gamma_int": (ATT + ("gamma",), 1), "gamma_int32": (ATT + ("gamma",), np.int32(1)),
    "attenuation_bad_unit": (ATT + ("unit",), "dB/cm/MHz"), "map_description_number": (IMG + ("description",), np.int64(1)),
    "annotation_bytes": (A + ("anatomy",), b"carotid"), "credit_bytes": (("metadata", "credit"), b"lab"),
    "unit_bytes": (ATT + ("unit",), b"dB/m/Hz"), "map_labels_scalar": (IMG + ("labels",), "gray"),
    "probe_name_number": (("probe", "name"), 5), "probe_name_np": (("probe", "name"), np.int64(5)),
    "probe_geometry_2": (("probe", "probe_geometry"), np.zeros((4, 2), np.float32)),
    "probe_geometry_int": (("probe", "probe_geometry"), np.zeros((4, 3), np.int64)),
    "probe_width_str": (("probe", "element_width"), "0.3"), "probe_width_int": (("probe", "element_width"), 1),
    "credit_mapping": (("metadata", "credit"), {"x": 1.0}), "age_mapping": (S + ("age",), {"x": 1}),
    "labels_mapping": (IMG + ("labels",), {"x": "a"}),
    "probe_string": (("probe",), "L7"), "metadata_string": (("metadata",), "x"), "metrics_list_top": (("metrics",), [1]),
}




def test_create_verdicts_agree_with_real_zea(real_zea, tmp_path):
    zea, _ = real_zea
    disagreements, crashes = [], []
    for index, (name, (path, value)) in enumerate(CREATE_CASES.items()):
        inputs = base_inputs() if not path else mutated(path, value)
        theirs = zea_create(zea, tmp_path / f"z{index}.hdf5", copy.deepcopy(inputs))
        mine = ours_create(tmp_path / f"o{index}.hdf5", inputs)
        if theirs == "crash":
            crashes.append(name)
            theirs = "refused"      # zea refuses by crashing: we refuse with our error
        if theirs != mine:
            disagreements.append((name, theirs, mine))
    assert not disagreements
    assert len(CREATE_CASES) >= 80
    print(f"create: {len(CREATE_CASES)} cases agree; zea crashed on {crashes}")


# ---------------------------------------------------------------- validate on mutated files



def _replace(handle, key, value) -> None:
    if key in handle:
        del handle[key]
    if value is not DELETE:
        handle.create_dataset(key, data=value)


FILE_MUTATIONS = {
    "valid": (), "age_int64": (("metadata/subject/age", np.int64(40)),),
    "age_str": (("metadata/subject/age", "40"),), "sex_float": (("metadata/subject/sex", 1.5),),
    "weight_str": (("metadata/subject/weight", "70"),), "weight_negative": (("metadata/subject/weight", -1.0),),
    "weight_int": (("metadata/subject/weight", np.int32(7)),), "bmi_200": (("metadata/subject/bmi", 200.0),),
    "fat_float64": (("metadata/subject/fat_percentage", 20.0),), "id_blank": (("metadata/subject/id", " "),),
    "subject_unknown": (("metadata/subject/height", 1.8),), "credit_number": (("metadata/credit", 5.0),),
    "report_number": (("metadata/text_report", 3),), "report_delete": (("metadata/text_report", DELETE),),
    "anatomy_length": (("metadata/annotations/anatomy", np.array([b"a", b"b"])),),
    "label_length": (("metadata/annotations/label", np.array([b"a", b"b", b"c", b"d"])),),
    "label_number": (("metadata/annotations/label", 5),),
    "view_scalar": (("metadata/annotations/view", "apical"),),
    "pose_representation": (("metadata/probe_pose/rotation_representation", "bad"),),
    "pose_euler": (("metadata/probe_pose/rotation_representation", "euler_xyz"),),
    "pose_rotation_int": (("metadata/probe_pose/rotation", np.zeros((5, 4), np.int32)),),
    "pose_no_rate": (("metadata/probe_pose/sampling_frequency", DELETE),),
    "ecg_int64": (("metadata/ecg/samples", np.zeros(20, np.int64)),),
    "ecg_2d": (("metadata/ecg/samples", np.zeros((20, 2), np.float32)),),
    "ecg_no_offset": (("metadata/ecg/start_time_offset", DELETE),),
    "ecg_rate_zero": (("metadata/ecg/sampling_frequency", 0.0),),
    "voice_not_zero": (("metadata/voice_narration/timestamps", np.arange(1, 9) * 0.1),),
    "imu_int64": (("metadata/imu/samples", np.zeros((6, 3), np.int64)),),
    "metrics_unknown": (("metrics/snr", np.zeros(3, np.float32)),),
    "metrics_int": (("metrics/coherence_factor", np.zeros(3, np.int64)),),
    "metrics_str": (("metrics/coherence_factor", "x"),),
    "map_min_str": (("IMAGE/min", "low"),), "map_max_int": (("IMAGE/max", np.int64(3)),),
    "gamma_str": (("ATT/gamma", "1.1"),), "gamma_int": (("ATT/gamma", np.int32(1)),),
    "image_values_float64": (("IMAGE/values", np.zeros((3, 8, 6))),),
    "image_values_int64": (("IMAGE/values", np.zeros((3, 8, 6), np.int64)),),
    "probe_name_number": (("probe/name", 5),), "probe_geometry_2": (("probe/probe_geometry", np.zeros((4, 2))),),
    "probe_width_int": (("probe/element_width", np.int64(1)),), "probe_width_str": (("probe/element_width", "x"),),
    "subject_dataset": (("metadata/subject", DELETE), ("metadata/subject", np.zeros(2, np.float32))),
    "annotations_dataset": (("metadata/annotations", DELETE), ("metadata/annotations", "x")),
    "ecg_dataset": (("metadata/ecg", DELETE), ("metadata/ecg", np.zeros(20, np.float32))),
    "metrics_dataset": (("metrics", DELETE), ("metrics", np.zeros(3, np.float32))),
    "credit_group": (("metadata/credit", DELETE), ("metadata/credit/x", 1.0)),
    "age_group": (("metadata/subject/age", DELETE), ("metadata/subject/age/x", 1)),
    "gamma_array": (("ATT/gamma", np.ones(2, np.float32)),), "min_float64": (("IMAGE/min", np.float64(1)),),
    "coordinates_wrong": (("IMAGE/coordinates", np.zeros((8, 5, 3), np.float32)),),
}


@pytest.fixture(scope="module")
def base_files(real_zea, tmp_path_factory):
    zea, _ = real_zea
    folder = tmp_path_factory.mktemp("bases")
    zea.File.create(str(folder / "zea.hdf5"), **base_inputs())
    ours.File.create(folder / "ours.hdf5", **base_inputs())
    return {"zea": folder / "zea.hdf5", "ours": folder / "ours.hdf5"}


@pytest.mark.parametrize("writer", ["zea", "ours"])
def test_validate_verdicts_agree_with_real_zea(real_zea, base_files, tmp_path, writer):
    disagreements = []
    for name, edits in FILE_MUTATIONS.items():
        path = tmp_path / f"{name}.hdf5"
        shutil.copy(base_files[writer], path)
        with h5py.File(path, "r+") as handle:
            track = "tracks/track_0/data" if "tracks" in handle else "data"
            for key, value in edits:
                key = key.replace("IMAGE", f"{track}/image").replace("ATT", f"{track}/attenuation_map")
                _replace(handle, key, value)
        if zea_valid(real_zea, path) is not ours.validate(path).valid:
            disagreements.append((name, zea_valid(real_zea, path)))
    assert not disagreements
    print(f"validate ({writer}): {len(FILE_MUTATIONS)} cases agree; zea crashed on {CRASHES}")
    assert len(FILE_MUTATIONS) * 2 + len(CREATE_CASES) >= 160


def test_field_docs_cover_the_metadata_side():
    docs = field_docs()
    for name in ("metadata/subject/age: uint8", "metadata/probe_pose/rotation_representation: str",
                 "metrics/coherence_factor: float32", "data/attenuation_map/gamma", "data/<product>/min"):
        assert name in docs


def test_create_refusals_are_the_packages_error_and_zeas_types(tmp_path):
    with pytest.raises(ours.InvalidZeaDataError) as refused:
        ours.File.create(tmp_path / "p.hdf5", data=base_inputs()["data"], probe="L7")
    assert isinstance(refused.value, TypeError) and isinstance(refused.value, ValueError)
    assert not list(tmp_path.iterdir())


def test_where_zea_crashes_we_give_a_finding(base_files, tmp_path):
    path = tmp_path / "m.hdf5"
    shutil.copy(base_files["ours"], path)
    with h5py.File(path, "r+") as handle:
        _replace(handle, "metrics", np.zeros(3, np.float32))
    report = ours.validate(path)
    assert [f.key for f in report.errors] == ["metrics"] and "group" in report.errors[0].problem
