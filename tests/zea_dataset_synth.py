"""Tiny inputs in the real layouts of the public datasets zea converts (PICMUS, Verasonics
``.mat``, us4us pickles, EchoXFlow), written into a folder: for the converter tests and
benchmarks/bench_zea_convert.py. Values are seeded random numbers; sizes are parameters."""
from __future__ import annotations

from pathlib import Path

import numpy as np


# ------------------------------------------------------------------ PICMUS
def picmus_file(path: Path, *, n_tx: int = 3, n_el: int = 8, n_ax: int = 32, iq: bool = True,
                modulation_frequency: float = 5.208e6, seed: int = 0) -> Path:
    """One PICMUS acquisition (``US/US_DATASET0000``, as the challenge's HDF5 files)."""
    import h5py

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        group = handle.create_group("US/US_DATASET0000")
        group["data/real"] = rng.standard_normal((n_tx, n_el, n_ax)).astype(np.float32)
        imag = rng.standard_normal((n_tx, n_el, n_ax)) if iq else np.zeros((n_tx, n_el, n_ax))
        group["data/imag"] = imag.astype(np.float32)
        group["modulation_frequency"] = np.array([modulation_frequency])
        group["sampling_frequency"] = np.array([20.832e6])
        x = (np.arange(n_el) - (n_el - 1) / 2) * 0.3e-3
        group["probe_geometry"] = np.stack([x, np.zeros(n_el), np.zeros(n_el)]).astype(np.float32)
        group["sound_speed"] = np.array([1540.0])
        group["angles"] = np.linspace(-0.1, 0.1, n_tx).astype(np.float32)
    return path


def picmus_tree(root: Path, **sizes) -> Path:
    """``root`` laid out as the unpacked PICMUS archives: simulation IQ, experimental RF (with the
    modulation frequency of 0 of one published file), an image file (skipped) and in-vivo IQ."""
    main = root / "archive_to_download" / "database"
    picmus_file(main / "simulation/contrast_speckle/contrast_speckle_simu_dataset_iq.hdf5", **sizes)
    picmus_file(main / "experiments/resolution_distorsion/resolution_distorsion_expe_dataset_rf.hdf5",
                iq=False, modulation_frequency=0.0, seed=1, **sizes)
    picmus_file(main / "experiments/resolution_distorsion/resolution_distorsion_expe_img_from_rf.hdf5",
                seed=2, **sizes)
    picmus_file(root / "in_vivo/carotid_cross/carotid_cross_expe_dataset_iq.hdf5", seed=3, **sizes)
    return root


# ------------------------------------------------------------------ Verasonics (.mat, MATLAB v7.3)
class _MatFile:
    """Writes MATLAB v7.3 values the way MATLAB lays them out in HDF5: arrays transposed, text
    as uint16 characters, struct arrays of more than one element as object references into
    ``#refs#``, a 512-byte user block with the MAT-file header."""

    def __init__(self, handle):
        self.handle = handle
        self.refs = handle.require_group("#refs#")
        self.count = 0

    @staticmethod
    def value(x):
        if isinstance(x, str):
            return np.frombuffer(x.encode("utf-16-le"), np.uint16).reshape(-1, 1), "char"
        array = np.asarray(x)
        if array.ndim == 0:
            array = array.reshape(1, 1)
        elif array.ndim == 1:
            array = array.reshape(1, -1)            # a MATLAB row vector
        return array.T, {np.dtype(np.int16): "int16", np.dtype(np.uint16): "uint16"}.get(array.dtype, "double")

    def put(self, group, name, x):
        array, kind = self.value(x)
        if kind == "double":
            array = array.astype(np.float64)
        dataset = group.create_dataset(name, data=array)
        dataset.attrs["MATLAB_class"] = np.bytes_(kind)
        return dataset

    def ref(self, x):
        name = f"r{self.count}"
        self.count += 1
        return self.put(self.refs, name, x).ref

    def struct(self, name, fields, parent=None):
        """A 1x1 struct: a group whose fields are datasets (or nested structs for dicts)."""
        import h5py

        group = (parent or self.handle).create_group(name)
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        for key, value in fields.items():
            if isinstance(value, dict):
                self.struct(key, value, group)
            elif isinstance(value, list):           # a field that is itself a struct array
                self.struct_array(key, value, group)
            else:
                self.put(group, key, value)
        return group

    def struct_array(self, name, elements, parent=None):
        """A 1xN struct (N > 1): every field a (N, 1) dataset of references."""
        import h5py

        group = (parent or self.handle).create_group(name)
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        for key in elements[0]:
            refs = group.create_dataset(key, (len(elements), 1), dtype=h5py.ref_dtype)
            for index, element in enumerate(elements):
                refs[index, 0] = self.ref(element[key])
        return group


def verasonics_file(path: Path, *, n_el: int = 8, n_tx: int = 2, n_ax: int = 32, n_frames: int = 3,
                    n_channels: int = 12, baseband: bool = False, image_buffer: bool = True,
                    seed: int = 0) -> Path:
    """A Verasonics workspace saved with ``save(path, '-v7.3')`` after a plane-wave sequence:
    Trans, TX, TW, Receive, Event, SeqControl, Resource, TGC, RcvData (int16, a circular
    buffer whose last frame is frame 2) and optionally ImgDataP, with ``save_raw_version``."""
    import h5py

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as handle:
        writer = _MatFile(handle)
        writer.put(handle, "save_raw_version", 1.0)
        pitch_mm = 0.3
        x_mm = (np.arange(n_el) - (n_el - 1) / 2) * pitch_mm
        connector = rng.permutation(n_channels)[:n_el] + 1
        writer.struct("Trans", {
            "name": "L11-4v", "units": "mm", "frequency": 5.208, "type": 0.0,
            "ElementPos": np.stack([x_mm, np.zeros(n_el), np.zeros(n_el), np.zeros(n_el),
                                    np.zeros(n_el)], axis=1),
            "Bandwidth": np.array([3.5, 7.0]), "elementWidth": 0.27, "lensCorrection": 0.887,
            "ConnectorES": connector.astype(np.float64).reshape(-1, 1)})
        wavelength_m = 1540.0 / 5.208e6
        angles = np.linspace(-0.1, 0.1, n_tx)
        writer.struct_array("TX", [{
            "waveform": 1.0, "Origin": np.zeros(3), "focus": 0.0, "Steer": np.array([a, 0.0]),
            "Apod": np.ones(n_el),
            "Delay": (x_mm * 1e-3 * np.sin(a) - np.min(x_mm * 1e-3 * np.sin(a))) / wavelength_m}
            for a in angles])
        writer.struct("TW", {"type": "parametric", "Parameters": np.array([5.208, 0.67, 2.0, 1.0]),
                             "Wvfm1Wy": rng.standard_normal((40, 1)), "Wvfm2Wy": rng.standard_normal((70, 1))})
        mode = "BS100BW" if baseband else "NS200BW"
        samples = n_ax * 2 if baseband else n_ax
        writer.struct_array("Receive", [{
            "mode": 0.0, "framenum": float(f + 1), "startDepth": 2.0, "endDepth": 60.0,
            "decimSampleRate": 20.832, "quadDecim": 1.0, "demodFrequency": 5.208,
            "startSample": float(t * samples + 1), "endSample": float((t + 1) * samples),
            "sampleMode": mode} for f in range(n_frames) for t in range(n_tx)])
        writer.struct_array("SeqControl", [
            {"command": "timeToNextAcq", "argument": 200.0},
            {"command": "transferToHost", "argument": 0.0}])
        events = [{"info": "acquire", "tx": float(t + 1), "rcv": float(f * n_tx + t + 1),
                   "seqControl": np.array([[1.0], [2.0]]) if t == n_tx - 1 else np.array([[1.0]])}
                  for f in range(n_frames) for t in range(n_tx)]
        events.append({"info": "recon", "tx": 0.0, "rcv": 0.0, "seqControl": np.array([[2.0]])})
        writer.struct_array("Event", [{k: (v if not isinstance(v, np.ndarray) or v.ndim < 2 else v.T)
                                       for k, v in e.items()} for e in events])
        writer.struct("Resource", {
            "Parameters": {"speedOfSound": 1540.0, "numTransmit": float(n_channels)},
            "RcvBuffer": {"numFrames": float(n_frames), "lastFrame": 2.0, "rowsPerFrame": 4096.0},
            "ImageBuffer": {"numFrames": float(n_frames), "firstFrame": 2.0, "lastFrame": 1.0}})
        writer.struct("TGC", {"CntrlPts": np.linspace(300, 900, 8), "Waveform": np.linspace(200, 1000, 64)})
        rows = n_tx * samples + 16                     # the buffer holds a few samples more
        rcv = rng.integers(-2000, 2000, (rows, n_channels, n_frames), dtype=np.int16)
        buffers = handle.create_dataset("RcvData", (1, 1), dtype=h5py.ref_dtype)
        buffers[0, 0] = writer.ref(rcv.transpose(2, 1, 0).T)  # MATLAB (rows, channels, frames)
        handle["RcvData"].attrs["MATLAB_class"] = np.bytes_("cell")
        if image_buffer:
            image = rng.random((40, 24, 1, n_frames)) * 1e3
            image[0, 0, 0, 0] = 0.0
            images = handle.create_dataset("ImgDataP", (1, 1), dtype=h5py.ref_dtype)
            images[0, 0] = writer.ref(image.transpose(3, 2, 1, 0).T)
    with open(path, "r+b") as handle:                  # MATLAB's MAT-file header
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sun Nov 29 12:00:00 2026 "
                     b"HDF5 schema 1.00 .".ljust(116, b" "))
    return path


# ------------------------------------------------------------------ us4us (gui4us pickle)
def _arrus_classes() -> dict[str, type]:
    """Plain classes named as ARRUS names them (module ``arrus.*``), to pickle a capture the way
    gui4us does without ARRUS installed."""
    names = {"ConstMetadata": "arrus.metadata", "FrameAcquisitionContext": "arrus.metadata",
             "DataDescription": "arrus.metadata", "Grid": "arrus.metadata",
             "Us4R": "arrus.devices.us4r", "Probe": "arrus.devices.probe",
             "ProbeModel": "arrus.devices.probe", "ProbeModelId": "arrus.devices.probe",
             "LinSequence": "arrus.ops.imaging", "TxRxSequence": "arrus.ops.us4r",
             "TxRx": "arrus.ops.us4r", "Tx": "arrus.ops.us4r", "Rx": "arrus.ops.us4r",
             "Pulse": "arrus.ops.us4r", "MediumDTO": "arrus.medium"}

    def init(self, **fields):
        self.__dict__.update(fields)

    return {name: type(name, (), {"__module__": module, "__init__": init}) for name, module in names.items()}


def us4us_capture(path: Path, *, n_frames: int = 3, n_el: int = 16, n_tx: int = 4, n_ax: int = 24,
                  n_rx: int = 12, image_shape: tuple[int, int] = (20, 10), seed: int = 0,
                  metadata_apart: bool = False) -> Path:
    """A gui4us capture of a linear-array plane-wave sequence with three pipeline outputs per
    frame: 0 a B-mode image on an ARRUS grid (float32 dB, not normalised), 1 beamformed IQ one line
    per transmit (complex64), 2 channel data of the receive aperture (int16, padded); pickled as
    ``{"data", "metadata"}`` or, with ``metadata_apart``, frames and ``<stem>_metadata.pkl``."""
    import pickle
    import sys
    import types

    rng = np.random.default_rng(seed)
    classes = _arrus_classes()
    modules = {cls.__module__ for cls in classes.values()} | {"arrus", "arrus.devices", "arrus.ops"}
    saved = {name: sys.modules.get(name) for name in modules}
    for name in modules:
        sys.modules[name] = types.ModuleType(name)
    for name, cls in classes.items():
        setattr(sys.modules[cls.__module__], name, cls)
    try:
        A = classes
        x = ((np.arange(n_el) - (n_el - 1) / 2) * 0.3e-3).astype(np.float64)
        model = A["ProbeModel"](model_id=A["ProbeModelId"](manufacturer="esaote", name="L7-4"),
                                n_elements=n_el, pitch=0.3e-3, curvature_radius=0.0,
                                element_pos_x=x, element_pos_y=np.zeros(n_el), element_pos_z=np.zeros(n_el))
        angles = np.linspace(-0.2, 0.2, n_tx)
        ops = []
        for i, angle in enumerate(angles):
            aperture = np.ones(n_el, dtype=bool)
            rx_aperture = np.zeros(n_el, dtype=bool)
            rx_aperture[i:i + n_rx - 2] = True
            delays = (x * np.sin(angle) / 1540.0) + 5e-6
            ops.append(A["TxRx"](tx=A["Tx"](aperture=aperture, delays=delays, excitation=A["Pulse"](
                center_frequency=5e6, n_periods=2, inverse=False)),
                rx=A["Rx"](aperture=rx_aperture, sample_range=(64, 64 + n_ax), padding=(1, 1), downsampling_factor=1),
                pri=100e-6))
        context = A["FrameAcquisitionContext"](
            device=A["Us4R"](probe=[A["Probe"](model=model)]), medium=A["MediumDTO"](speed_of_sound=1540.0),
            sequence=A["LinSequence"](tx_focus=np.inf, angles=angles, speed_of_sound=1540.0),
            raw_sequence=A["TxRxSequence"](ops=ops))
        z_axis, x_axis = np.linspace(5e-3, 40e-3, image_shape[0]), np.linspace(-10e-3, 10e-3, image_shape[1])
        metadata = (
            A["ConstMetadata"](_context=context, _data_char=A["DataDescription"](
                sampling_frequency=20e6, spacing=A["Grid"](coordinates=(z_axis, x_axis))), _version=None),
            A["ConstMetadata"](_context=context, _data_char=A["DataDescription"](sampling_frequency=10e6)),
            A["ConstMetadata"](_context=context, _data_char=A["DataDescription"](sampling_frequency=20e6)))
        frames = []
        for _ in range(n_frames):
            image = (rng.random(image_shape) * 60 + 20).astype(np.float32)
            image[0, 0] = np.nan
            iq = (rng.standard_normal((n_tx, n_ax)) + 1j * rng.standard_normal((n_tx, n_ax))).astype(np.complex64)
            raw = rng.integers(-500, 500, (1, n_tx, n_ax, n_rx), dtype=np.int16)
            frames.append((image, iq, raw))
        path.parent.mkdir(parents=True, exist_ok=True)
        if metadata_apart:
            path.write_bytes(pickle.dumps({"data": frames}))
            path.with_name(path.stem + "_metadata.pkl").write_bytes(pickle.dumps({"metadata": metadata}))
        else:
            path.write_bytes(pickle.dumps({"data": frames, "metadata": metadata}))
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return path


# ------------------------------------------------------------------ EchoXFlow (croissant.json + Zarr v3 stores)
def echoxflow_root(root: Path, recordings: list[dict] | None = None, *, seed: int = 0) -> Path:
    """An EchoXFlow data root: ``croissant.json`` listing the recordings and one Zarr v3 store
    each (``data/2d_brightness_mode`` uint8, its timestamps, optionally an ECG, and a
    ``recording_manifest`` whose B-mode sector carries a polar geometry). ``recordings`` entries:
    ``exam_id``, ``recording_id``, ``frames`` (n, depth, angle), ``fps``, ``geometry`` (a manifest
    geometry mapping or None), ``ecg`` (number of samples or None), ``zip`` (store as a zip file)."""
    import json

    import zarr

    rng = np.random.default_rng(seed)
    if recordings is None:
        recordings = [
            {"exam_id": "exam_A", "recording_id": "rec_0", "frames": (12, 24, 16), "fps": 50.0,
             "geometry": {"DepthStart": 0.0, "DepthEnd": 0.08, "Tilt": 0.05, "Width": 1.2}, "ecg": 200},
            {"exam_id": "exam_B", "recording_id": "rec_1", "frames": (15, 20, 14), "fps": 45.0,
             "geometry": {"depth_start_m": 0.01, "depth_end_m": 0.12, "angle_start_rad": -0.6,
                          "angle_end_rad": 0.5}, "ecg": None},
            {"exam_id": "exam_B", "recording_id": "rec_2", "frames": (11, 20, 14), "fps": 40.0, "geometry": None,
             "ecg": None},
            {"exam_id": "exam_B", "recording_id": "too_short", "frames": (3, 20, 14), "fps": 45.0,
             "geometry": None, "ecg": None},
            {"exam_id": "exam_C", "recording_id": "too_slow", "frames": (12, 20, 14), "fps": 20.0,
             "geometry": None, "ecg": None},
        ]
    rows = []
    for spec in recordings:
        n = spec["frames"][0]
        relative = f"{spec['exam_id']}/{spec['recording_id']}.zarr"
        store_path = root / relative
        store_path.parent.mkdir(parents=True, exist_ok=True)
        sector = {"semantic_id": "bmode", "frames": {"array_path": "data/2d_brightness_mode"},
                  "timestamps": {"array_path": "timestamps/2d_brightness_mode"}}
        if spec.get("geometry") is not None:
            sector["geometry"] = spec["geometry"]
        manifest = {"recording_manifest": {"manifest_type": "2d", "sectors": [sector]}}
        if spec.get("zip"):
            from zarr.storage import ZipStore

            store = ZipStore(store_path, mode="w")
            group = zarr.open_group(store=store, mode="w", attributes=manifest)
        else:
            store, group = None, zarr.open_group(store_path, mode="w", attributes=manifest)
        group.create_array("data/2d_brightness_mode", data=rng.integers(0, 256, spec["frames"], dtype=np.uint8))
        start = float(rng.uniform(10, 20))
        group.create_array("timestamps/2d_brightness_mode", data=start + np.arange(n) / spec["fps"])
        paths = ["data/2d_brightness_mode", "timestamps/2d_brightness_mode"]
        counts = {"2d_brightness_mode": n}
        deltas = {"2d_brightness_mode": 1.0 / spec["fps"]}
        if spec.get("ecg"):
            group.create_array("data/ecg", data=rng.standard_normal(spec["ecg"]).astype(np.float32))
            group.create_array("timestamps/ecg", data=start - 0.1 + np.arange(spec["ecg"]) / 500.0)
            paths += ["data/ecg", "timestamps/ecg"]
            counts["ecg"], deltas["ecg"] = spec["ecg"], 1 / 500.0
        if store is not None:
            store.close()
        rows.append({"recordings/exam_id": spec["exam_id"], "recordings/recording_id": spec["recording_id"],
                     "recordings/zarr_path": relative, "recordings/modes": ["2d"],
                     "recordings/content_types": list(counts), "recordings/frame_counts_by_content_type": counts,
                     "recordings/median_delta_time_by_content_type": deltas, "recordings/array_paths": paths})
    catalog = {"@context": {"@vocab": "https://schema.org/"}, "@type": "sc:Dataset", "name": "EchoXFlow (synthetic)",
               "recordSet": [{"@type": "cr:RecordSet", "@id": "recordings", "data": rows}]}
    (root / "croissant.json").write_text(json.dumps(catalog, indent=1))
    return root
