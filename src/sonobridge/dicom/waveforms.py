"""DICOM waveforms (``pydcm.waveforms``): ECG, EEG, hemodynamic, respiratory and audio signals kept in
the Waveform module (PS3.3 C.10.9) of a Waveform SOP instance, or riding along in an image (an
echocardiography cine with its ECG trace).

Three layers over one reading of the Waveform Sequence:

* :func:`multiplex_array` / :func:`generate_multiplex` -- pydicom's names and signatures: the
  ``(samples, channels)`` array of a multiplex group, raw or in the channels' units.
* :func:`read_waveform` -- every multiplex group as physical-unit signals with per-channel metadata
  (label, source, units, sensitivity, baseline, filters) and the waveform annotations.
* :func:`write_waveform` -- a Waveform SOP instance (12-lead / general ECG, EEG, hemodynamic, audio
  ...) from per-channel arrays; :func:`multiplex_group` builds one Waveform Sequence item, e.g. to add
  an ECG to an ultrasound cine.

:func:`to_mne` hands a group to MNE-Python (the ``waveforms`` extra). Signal analysis itself is left
to the libraries made for it (neurokit2, MNE): this module gives them arrays.

Physical value of a stored sample ``s`` of a channel (as pydicom computes it):
``s * ChannelSensitivity * ChannelSensitivityCorrectionFactor + ChannelBaseline``.

Examples
--------
>>> import numpy as np
>>> t = np.arange(500) / 500.0
>>> uid = write_waveform("ecg.dcm", np.sin(2 * np.pi * t)[:, None], sampling_frequency=500,
...                      kind="ecg", labels=["Lead II"])  # doctest: +SKIP
>>> read_waveform("ecg.dcm")["groups"][0]["signals"].shape  # doctest: +SKIP
(500, 1)
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError, MissingDependencyError, SonobridgeError

#: (bits allocated, sample interpretation) -> NumPy dtype name of a stored sample (little endian)
SAMPLE_DTYPES: dict[tuple[int, str], str] = {
    (8, "SB"): "i1", (8, "UB"): "u1", (8, "MB"): "u1", (8, "AB"): "u1", (16, "SS"): "i2", (16, "US"): "u2",
    (32, "SL"): "i4", (32, "UL"): "u4", (64, "SV"): "i8", (64, "UV"): "u8"}
#: what a multiplex group item must hold to be decoded
REQUIRED = ("NumberOfWaveformChannels", "NumberOfWaveformSamples", "WaveformBitsAllocated",
            "WaveformSampleInterpretation", "WaveformData")


@dataclass(frozen=True)
class WaveformKind:
    """One Waveform IOD :func:`write_waveform` can author: its SOP class, modality and the sample
    sizes (bits) it allows."""

    sop_class_uid: str
    modality: str
    bits: tuple[int, ...] = (16,)


#: ``kind`` of :func:`write_waveform` -> its IOD
KINDS: dict[str, WaveformKind] = {
    "ecg12": WaveformKind("1.2.840.10008.5.1.4.1.1.9.1.1", "ECG"),
    "ecg": WaveformKind("1.2.840.10008.5.1.4.1.1.9.1.2", "ECG"),
    "ambulatory_ecg": WaveformKind("1.2.840.10008.5.1.4.1.1.9.1.3", "ECG", (8, 16)),
    "ecg32": WaveformKind("1.2.840.10008.5.1.4.1.1.9.1.4", "ECG", (16, 32)),
    "hemodynamic": WaveformKind("1.2.840.10008.5.1.4.1.1.9.2.1", "HD"),
    "eps": WaveformKind("1.2.840.10008.5.1.4.1.1.9.3.1", "EPS"),
    "audio": WaveformKind("1.2.840.10008.5.1.4.1.1.9.4.2", "AU", (8, 16)),
    "arterial_pulse": WaveformKind("1.2.840.10008.5.1.4.1.1.9.5.1", "HD", (8, 16)),
    "respiratory": WaveformKind("1.2.840.10008.5.1.4.1.1.9.6.1", "RESP", (8, 16)),
    "eeg": WaveformKind("1.2.840.10008.5.1.4.1.1.9.7.1", "EEG", (16, 32)),
    "emg": WaveformKind("1.2.840.10008.5.1.4.1.1.9.7.2", "EMG", (16, 32)),
    "eog": WaveformKind("1.2.840.10008.5.1.4.1.1.9.7.3", "EOG", (16, 32)),
    "sleep_eeg": WaveformKind("1.2.840.10008.5.1.4.1.1.9.7.4", "EEG", (16, 32)),
}
#: ECG leads (CID 3001, MDC codes): lower-case label -> (code value, code meaning)
ECG_LEADS: dict[str, tuple[str, str]] = {
    "i": ("2:1", "Lead I"), "ii": ("2:2", "Lead II"), "v1": ("2:3", "Lead V1"), "v2": ("2:4", "Lead V2"),
    "v3": ("2:5", "Lead V3"), "v4": ("2:6", "Lead V4"), "v5": ("2:7", "Lead V5"), "v6": ("2:8", "Lead V6"),
    "iii": ("2:61", "Lead III"), "avr": ("2:62", "Lead aVR"), "avl": ("2:63", "Lead aVL"),
    "avf": ("2:64", "Lead aVF")}
#: UCUM unit code -> code meaning (other codes are recorded with the code as meaning)
UNITS: dict[str, str] = {"V": "volt", "mV": "millivolt", "uV": "microvolt", "mm[Hg]": "mmHg", "Pa": "pascal",
                         "kPa": "kilopascal", "%": "percent", "cm/s": "centimeter per second",
                         "L/min": "liter per minute", "Cel": "degree Celsius", "1": "no units"}
#: unit -> volts per unit (for :func:`to_mne`)
VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "nV": 1e-9}
#: the local coding scheme of channel sources without a standard code
LOCAL_SCHEME = "99SNBRDG"


# ---------------------------------------------------------------- reading
def _label(ds: Any) -> str:
    from .io import source_label

    return source_label(ds)


def _waveform_items(ds: Any) -> list[Any]:
    if "WaveformSequence" not in ds:
        raise FormatError(_label(ds), "no Waveform Sequence (5400,0100): not a waveform object")
    return list(ds.WaveformSequence)


def _group_raw(ds: Any, item: Any, index: int):
    """The stored ``(samples, channels)`` integers of one multiplex group item (native byte order)."""
    import numpy as np

    label = _label(ds)
    missing = [keyword for keyword in REQUIRED if keyword not in item]
    if missing:
        raise FormatError(label, f"multiplex group {index} lacks {', '.join(missing)}")
    n_channels, n_samples = int(item.NumberOfWaveformChannels), int(item.NumberOfWaveformSamples)
    key = (int(item.WaveformBitsAllocated), str(item.WaveformSampleInterpretation).strip())
    if key not in SAMPLE_DTYPES:
        raise FormatError(label, f"multiplex group {index}: unsupported samples ({key[0]} bits, {key[1]!r})")
    if n_channels < 1 or n_samples < 1:
        raise FormatError(label, f"multiplex group {index}: {n_channels} channels x {n_samples} samples")
    dtype = np.dtype(SAMPLE_DTYPES[key])
    if getattr(ds, "original_encoding", (None, True))[1] is False:     # read from a big endian file
        dtype = dtype.newbyteorder(">")
    data = bytes(item.WaveformData)
    expected = n_channels * n_samples * dtype.itemsize
    if len(data) < expected:
        raise FormatError(label, f"multiplex group {index}: {len(data)} bytes of waveform data, "
                                 f"{n_channels} x {n_samples} samples need {expected}")
    return np.frombuffer(data[:expected], dtype=dtype).reshape(n_samples, n_channels).astype(dtype.newbyteorder("="))


def _physical(raw: Any, item: Any):
    """float64 ``raw`` in each channel's units: ``raw * sensitivity * correction + baseline``."""
    import numpy as np

    physical = raw.astype(np.float64)
    for channel, definition in enumerate(list(item.get("ChannelDefinitionSequence", []))[:raw.shape[1]]):
        scale = _number(definition, "ChannelSensitivity", 1.0) * _number(definition,
                                                                           "ChannelSensitivityCorrectionFactor", 1.0)
        physical[:, channel] = physical[:, channel] * scale + _number(definition, "ChannelBaseline", 0.0)
    return physical


def _number(item: Any, keyword: str, default: float | None) -> float | None:
    value = item.get(keyword, None)
    if value is None or value == "":
        return default
    return float(value)


def multiplex_array(ds: Any, index: int, as_raw: bool = True):
    """The ``(samples, channels)`` array of multiplex group ``index`` (PS3.3 C.10.9).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A dataset with a Waveform Sequence.
    index : int
        The group, 0-based.
    as_raw : bool
        True: the stored integers (dtype from the bits allocated and sample interpretation); False:
        float64 in each channel's units (sensitivity, correction factor and baseline applied).

    Raises
    ------
    FormatError
        No Waveform Sequence, no such group, or a group that cannot be decoded.
    """
    from .io import damaged_content

    items = _waveform_items(ds)
    if not -len(items) <= index < len(items):
        raise FormatError(_label(ds), f"no multiplex group {index} (the file has {len(items)})")
    with damaged_content(_label(ds)):
        raw = _group_raw(ds, items[index], index)
        return raw if as_raw else _physical(raw, items[index])


def generate_multiplex(ds: Any, as_raw: bool = True) -> Iterator[Any]:
    """Yield each multiplex group's ``(samples, channels)`` array in order (see :func:`multiplex_array`)."""
    for index in range(len(_waveform_items(ds))):
        yield multiplex_array(ds, index, as_raw)


def _code(item: Any) -> dict[str, str]:
    return {"value": str(item.get("CodeValue", "")), "scheme": str(item.get("CodingSchemeDesignator", "")),
            "meaning": str(item.get("CodeMeaning", ""))}


def _first_code(item: Any, keyword: str) -> dict[str, str] | None:
    sequence = item.get(keyword, None)
    return _code(sequence[0]) if sequence else None


def _channel(definition: Any) -> dict[str, Any]:
    source = _first_code(definition, "ChannelSourceSequence")
    units = _first_code(definition, "ChannelSensitivityUnitsSequence")
    label = str(definition.get("ChannelLabel", "") or "") or (source["meaning"] if source else "")
    return {"label": label, "source": source["meaning"] if source else "", "source_code": source,
            "units": units["value"] if units else "", "sensitivity": _number(definition, "ChannelSensitivity", None),
            "baseline": _number(definition, "ChannelBaseline", 0.0),
            "sensitivity_correction": _number(definition, "ChannelSensitivityCorrectionFactor", 1.0),
            "filter_low": _number(definition, "FilterLowFrequency", None),
            "filter_high": _number(definition, "FilterHighFrequency", None),
            "notch": _number(definition, "NotchFilterFrequency", None)}


def _annotation(item: Any) -> dict[str, Any]:
    def values(keyword: str) -> list[Any]:
        value = item.get(keyword, None)
        if value is None or value == "":
            return []
        return list(value) if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else [value]

    channels = [int(v) for v in values("ReferencedWaveformChannels")]
    return {"text": str(item.get("UnformattedTextValue", "") or ""),
            "concept": _first_code(item, "ConceptNameCodeSequence"), "code": _first_code(item, "ConceptCodeSequence"),
            "value": _number(item, "NumericValue", None),
            "units": (_first_code(item, "MeasurementUnitsCodeSequence") or {}).get("value", ""),
            "channels": list(zip(channels[0::2], channels[1::2])),
            "group_number": int(item.AnnotationGroupNumber) if item.get("AnnotationGroupNumber") is not None else None,
            "temporal_range_type": str(item.get("TemporalRangeType", "") or ""),
            "sample_positions": [int(v) for v in values("ReferencedSamplePositions")],
            "time_offsets_s": [float(v) / 1e3 for v in values("ReferencedTimeOffsets")]}


def _group(ds: Any, item: Any, index: int, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    raw = _group_raw(ds, item, index)
    signals = _physical(raw, item)
    frequency = _number(item, "SamplingFrequency", None)
    if frequency is None or not frequency > 0:
        raise FormatError(_label(ds), f"multiplex group {index}: no valid Sampling Frequency")
    channels = [_channel(d) for d in list(item.get("ChannelDefinitionSequence", []))[:raw.shape[1]]]
    channels += [_channel(type(item)()) for _ in range(raw.shape[1] - len(channels))]
    mine = [a for a in annotations if any(group == index + 1 for group, _ in a["channels"])]
    return {"label": str(item.get("MultiplexGroupLabel", "") or ""),
            "originality": str(item.get("WaveformOriginality", "") or ""),
            "sampling_frequency": frequency, "num_samples": raw.shape[0], "duration_s": raw.shape[0] / frequency,
            "time_offset_s": (_number(item, "MultiplexGroupTimeOffset", 0.0) or 0.0) / 1e3,
            "trigger_time_offset_s": (_number(item, "TriggerTimeOffset", 0.0) or 0.0) / 1e3,
            "channels": channels, "signals": signals, "raw": raw, "annotations": mine}


def read_waveform(src: Any) -> dict[str, Any]:
    """Read every multiplex group of a waveform object (or of an image carrying a waveform).

    Parameters
    ----------
    src : str, os.PathLike, bytes, binary file-like or pydicom Dataset

    Returns
    -------
    dict
        ``{modality, sop_class_uid, groups, annotations}``; each group is ``{label, originality,
        sampling_frequency (Hz), num_samples, duration_s, time_offset_s (Multiplex Group Time Offset,
        seconds), trigger_time_offset_s, channels, signals, raw, annotations}`` with ``signals``
        float64 ``(n_samples, n_channels)`` in the channels' units, ``raw`` the stored integers and
        ``channels`` a list of ``{label, source, source_code, units (UCUM), sensitivity, baseline,
        sensitivity_correction, filter_low, filter_high, notch (Hz)}``. Annotations: ``{text,
        concept, code, value, units, channels [(group, channel)], group_number,
        temporal_range_type, sample_positions, time_offsets_s}``; a group lists those that name it.

    Raises
    ------
    UnsupportedInputError, FormatError
        Not DICOM, no Waveform Sequence, or undecodable groups.
    """
    from .io import damaged_content, open_dataset

    ds, label = open_dataset(src)
    items = _waveform_items(ds)
    with damaged_content(label):
        annotations = [_annotation(a) for a in ds.get("WaveformAnnotationSequence", [])]
        groups = [_group(ds, item, index, annotations) for index, item in enumerate(items)]
        return {"modality": str(ds.get("Modality", "") or ""), "sop_class_uid": str(ds.get("SOPClassUID", "")),
                "groups": groups, "annotations": annotations}


# ---------------------------------------------------------------- writing
def _source_item(source: Any, label: str, kind: str) -> Any:
    """The Channel Source Sequence item of one channel: a ``(value, scheme, meaning)`` triple as given;
    an ECG lead named by ``source`` or ``label`` (``"Lead II"``, ``"aVF"``) as its MDC code; else a
    code of the local scheme."""
    from .derived import code_item

    if isinstance(source, (tuple, list)) or hasattr(source, "CodeValue"):
        return code_item(source)
    name = str(source if source is not None else label).strip()
    key = re.sub(r"^lead\s*", "", name, flags=re.I).lower()
    if kind.startswith(("ecg", "ambulatory")) and key in ECG_LEADS:
        return code_item((ECG_LEADS[key][0], "MDC", ECG_LEADS[key][1]))
    value = re.sub(r"[^\w.\-:]", "_", name)[:16] or "channel"
    return code_item((value, LOCAL_SCHEME, name or "channel"))


def _ds_text(value: float) -> str:
    """``value`` as a DICOM DS string (at most 16 characters)."""
    from pydicom.valuerep import format_number_as_ds

    return format_number_as_ds(float(value))


def _per_channel(value: Any, n: int, name: str) -> list[Any]:
    if value is None or isinstance(value, (str, int, float)):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise SonobridgeError(None, f"write_waveform: {len(values)} {name} for {n} channels")
    return values


def _as_channels(signals: Any):
    """``signals`` as a float64 ``(n_samples, n_channels)`` array."""
    import numpy as np

    if isinstance(signals, (list, tuple)) and signals and all(np.ndim(s) == 1 for s in signals):
        lengths = {len(s) for s in signals}
        if len(lengths) != 1:
            raise SonobridgeError(None, f"write_waveform: channels of different lengths {sorted(lengths)}")
        array = np.stack([np.asarray(s, dtype=np.float64) for s in signals], axis=1)
    else:
        array = np.asarray(signals, dtype=np.float64)
        array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or 0 in array.shape:
        raise SonobridgeError(None, f"write_waveform: signals must be (n_samples, n_channels), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise SonobridgeError(None, "write_waveform: signals hold NaN or infinite values")
    return array


def multiplex_group(signals: Any, *, sampling_frequency: float, kind: str = "ecg", labels: Sequence[str] | None = None,
                    sources: Sequence[Any] | None = None, units: str | Sequence[str] = "mV",
                    sensitivity: float | Sequence[float] | None = None, sample_bits: int = 16,
                    time_offset_s: float | None = None, label: str | None = None) -> Any:
    """One Waveform Sequence item (a multiplex group) holding ``signals``.

    Parameters
    ----------
    signals : array_like
        ``(n_samples, n_channels)`` (or a list of 1-D channels) in physical units.
    sampling_frequency : float
        Hz.
    kind : str
        The waveform kind (:data:`KINDS`): ECG kinds code leads named ``"Lead II"`` / ``"aVF"`` with
        their MDC codes.
    labels, sources : sequence, optional
        Per-channel Channel Label and source (a name, or a ``(value, scheme, meaning)`` code).
    units : str or sequence of str
        UCUM units of the physical values (``"mV"``, ``"uV"``, ``"mm[Hg]"``...).
    sensitivity : float, sequence or None
        Physical units per stored integer step; None: the finest that fits each channel.
    sample_bits : int
        8, 16 or 32 (signed samples).
    time_offset_s : float, optional
        Multiplex Group Time Offset (seconds from the object's reference time).
    label : str, optional
        Multiplex Group Label.

    Returns
    -------
    pydicom.dataset.Dataset
    """
    import numpy as np
    from pydicom.dataset import Dataset

    from .derived import code_item

    array = _as_channels(signals)
    n_samples, n_channels = array.shape
    if sample_bits not in (8, 16, 32):
        raise SonobridgeError(None, f"write_waveform: sample_bits must be 8, 16 or 32, not {sample_bits}")
    if not (np.isfinite(sampling_frequency) and sampling_frequency > 0):
        raise SonobridgeError(None, f"write_waveform: sampling_frequency must be > 0 Hz, not {sampling_frequency}")
    labels = [str(v) if v is not None else f"Channel {i + 1}"
              for i, v in enumerate(_per_channel(labels, n_channels, "labels"))]
    sources = _per_channel(sources, n_channels, "sources")
    units_list = _per_channel(units, n_channels, "units")
    top = 2 ** (sample_bits - 1) - 1
    sensitivities = _per_channel(sensitivity, n_channels, "sensitivities")
    item = Dataset()
    if label:
        item.MultiplexGroupLabel = label
    if time_offset_s is not None:
        item.MultiplexGroupTimeOffset = _ds_text(time_offset_s * 1e3)
    item.WaveformOriginality = "ORIGINAL"
    item.NumberOfWaveformChannels, item.NumberOfWaveformSamples = n_channels, n_samples
    item.SamplingFrequency = _ds_text(sampling_frequency)
    stored = np.empty(array.shape, dtype=f"<i{sample_bits // 8}")
    definitions = []
    for channel in range(n_channels):
        values = array[:, channel]
        step = sensitivities[channel]
        if step is None:
            peak = float(np.max(np.abs(values)))
            step = peak / top if peak > 0 else 1.0
        step = float(_ds_text(step))
        if not step > 0:
            raise SonobridgeError(None, f"write_waveform: channel {labels[channel]!r}: sensitivity must be > 0")
        quantised = np.round(values / step)
        if np.any(np.abs(quantised) > top):
            raise SonobridgeError(None, f"write_waveform: channel {labels[channel]!r} exceeds {sample_bits}-bit "
                                        f"samples at sensitivity {step} (give a larger sensitivity)")
        stored[:, channel] = quantised
        definition = Dataset()
        definition.ChannelLabel = labels[channel][:64]
        definition.ChannelSourceSequence = [_source_item(sources[channel], labels[channel], kind)]
        definition.ChannelSensitivity = _ds_text(step)
        unit = str(units_list[channel] or "1")
        definition.ChannelSensitivityUnitsSequence = [code_item((unit, "UCUM", UNITS.get(unit, unit)))]
        definition.ChannelSensitivityCorrectionFactor = "1"
        definition.ChannelBaseline = "0"
        definition.ChannelSampleSkew = "0"
        definition.WaveformBitsStored = sample_bits
        definitions.append(definition)
    item.ChannelDefinitionSequence = definitions
    item.WaveformBitsAllocated = sample_bits
    item.WaveformSampleInterpretation = {8: "SB", 16: "SS", 32: "SL"}[sample_bits]
    data = stored.tobytes()
    item.WaveformData = data + (b"\0" if len(data) % 2 else b"")
    item["WaveformData"].VR = "OB" if sample_bits == 8 else "OW"
    return item


def write_waveform(out: str | os.PathLike, signals: Any, *, sampling_frequency: float, kind: str = "ecg12",
                   labels: Sequence[str] | None = None, sources: Sequence[Any] | None = None,
                   units: str | Sequence[str] = "mV", sensitivity: float | Sequence[float] | None = None,
                   sample_bits: int = 16, patient_id: str = "", patient_name: str = "Anonymous^",
                   patient_birth_date: str = "", patient_sex: str = "", study_uid: str | None = None,
                   series_uid: str | None = None, sop_uid: str | None = None, series_number: int = 1,
                   instance_number: int = 1) -> str:
    """Author a Waveform SOP instance from per-channel signals and write it to ``out`` (atomically).

    Parameters
    ----------
    out : str or os.PathLike
        The file to write.
    signals : array_like
        ``(n_samples, n_channels)`` (or a list of 1-D channel arrays) in physical units.
    sampling_frequency : float
        Hz.
    kind : str
        The IOD (:data:`KINDS`): ``ecg12``, ``ecg``, ``ecg32``, ``ambulatory_ecg``, ``hemodynamic``,
        ``eps``, ``eeg``, ``sleep_eeg``, ``emg``, ``eog``, ``arterial_pulse``, ``respiratory``,
        ``audio``.
    labels, sources : sequence, optional
        Per-channel Channel Label and source (a name such as ``"Lead II"`` / ``"Fp1"``, or a
        ``(value, scheme, meaning)`` code).
    units : str or sequence
        UCUM units of the values (default mV).
    sensitivity : float, sequence or None
        Physical units per stored step (Channel Sensitivity); None: max-fit per channel.
    sample_bits : int
        Bits per stored sample (signed): 16, or what the kind allows (8, 32).
    patient_id, patient_name, patient_birth_date, patient_sex, study_uid, series_uid, sop_uid,
    series_number, instance_number
        Identity of the object (UIDs generated when None).

    Returns
    -------
    str
        The SOP Instance UID.

    Raises
    ------
    SonobridgeError
        Unknown kind, sample size the kind does not allow, signals that do not fit; nothing is written.
    OutputError
        ``out`` cannot be written.
    """
    import datetime as dt

    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from .derived import MANUFACTURER, finish
    from .uid import generate_uid

    if kind not in KINDS:
        raise SonobridgeError(None, f"write_waveform: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    iod = KINDS[kind]
    if sample_bits not in iod.bits:
        raise SonobridgeError(None, f"write_waveform: {kind} waveforms take {' or '.join(map(str, iod.bits))}-bit "
                                    f"samples, not {sample_bits}")
    group = multiplex_group(signals, sampling_frequency=sampling_frequency, kind=kind, labels=labels, sources=sources,
                            units=units, sensitivity=sensitivity, sample_bits=sample_bits)
    sop_uid = sop_uid or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = iod.sop_class_uid, sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    now = dt.datetime.now()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = iod.sop_class_uid, sop_uid
    ds.PatientName, ds.PatientID = patient_name, patient_id
    ds.PatientBirthDate, ds.PatientSex = patient_birth_date, patient_sex
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid or generate_uid(), series_uid or generate_uid()
    ds.StudyDate, ds.StudyTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = iod.modality, series_number, instance_number
    if iod.modality == "HD":                     # hemodynamic IODs ask for Laterality (Type 2C): unknown
        ds.Laterality = None
    ds.Manufacturer = MANUFACTURER
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.AcquisitionContextSequence = []
    ds.WaveformSequence = [group]
    finish(ds, out)
    return sop_uid


# ---------------------------------------------------------------- ECG and MNE
def is_ecg_channel(channel: dict[str, Any]) -> bool:
    """Whether a channel of :func:`read_waveform` is an ECG lead: its label or source names an ECG or a
    lead, or its source is an ECG lead code (MDC ``2:n`` of CID 3001, SCPECG ``5.6.3-9-n``)."""
    text = f"{channel.get('label', '')} {channel.get('source', '')}".lower()
    code = channel.get("source_code") or {}
    value = str(code.get("value", ""))
    return bool("ecg" in text or re.search(r"\blead\b", text) or value.startswith("5.6.3-9")
                or (code.get("scheme") == "MDC" and value[:2] == "2:" and value[2:].isdigit() and int(value[2:]) < 200))


def is_ecg(group: dict[str, Any]) -> bool:
    """Whether a multiplex group of :func:`read_waveform` holds an ECG (its label says so, or one of
    its channels is an ECG lead)."""
    return "ecg" in str(group.get("label", "")).lower() or any(is_ecg_channel(c) for c in group["channels"])


def _mne_type(channel: dict[str, Any]) -> str:
    if is_ecg_channel(channel):
        return "ecg"
    return "eeg" if channel.get("units", "") in VOLTS else "misc"


def to_mne(group: dict[str, Any], ch_types: str | Sequence[str] | None = None, verbose: Any = "error") -> Any:
    """A multiplex group of :func:`read_waveform` as an ``mne.io.RawArray`` (volts for voltage units).

    Parameters
    ----------
    group : dict
        One of ``read_waveform(...)["groups"]``.
    ch_types : str, sequence or None
        MNE channel types; None: ``ecg`` for ECG leads, ``eeg`` for other voltages, else ``misc``.
    verbose : str
        MNE's verbosity for building the object.

    Raises
    ------
    MissingDependencyError
        MNE is not installed (``pip install 'sonobridge[waveforms]'``).
    """
    import numpy as np

    try:
        import mne
    except ImportError as error:
        raise MissingDependencyError(None, f"to_mne needs MNE-Python ({error}): "
                                           f"pip install 'sonobridge[waveforms]'") from None
    channels = group["channels"]
    names, seen = [], set()
    for index, channel in enumerate(channels):
        name = channel.get("label") or channel.get("source") or f"ch{index + 1}"
        name = name if name not in seen else f"{name}_{index + 1}"
        seen.add(name)
        names.append(name)
    types = [_mne_type(c) for c in channels] if ch_types is None else _per_channel(ch_types, len(channels), "types")
    scale = np.array([VOLTS.get(c.get("units", ""), 1.0) for c in channels])
    data = (np.asarray(group["signals"], dtype=np.float64) * scale).T
    info = mne.create_info(names, float(group["sampling_frequency"]), types, verbose=verbose)
    return mne.io.RawArray(data, info, verbose=verbose)


__all__ = ["multiplex_array", "generate_multiplex", "read_waveform", "write_waveform", "to_mne", "multiplex_group",
           "is_ecg", "is_ecg_channel", "KINDS", "WaveformKind"]
