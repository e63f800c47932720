"""Microscopy Bulk Simple Annotations (``pydcm.ann``): read and author over highdicom.

Made for whole-slide images, the object also carries many 2D annotations (points, polylines, polygons
in image pixel coordinates) of any image: an ultrasound frame works as a source too (its lack of a Frame
of Reference, which 2D annotations do not record, is bridged for highdicom). :class:`Measurements` and
:class:`AnnotationGroup` are highdicom's classes.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import SonobridgeError
from .pr import building, emit, header_copy, load_sources, require_highdicom, unknown_laterality

_ANN_CLASS = "1.2.840.10008.5.1.4.1.1.91.1"


def _code(value: Any, hd) -> Any:
    if isinstance(value, (tuple, list)) and len(value) == 3:
        return hd.sr.CodedConcept(*value)
    return value


def _algorithm(group: dict[str, Any], hd) -> Any:
    """The Algorithm Identification of an AUTOMATIC / SEMIAUTOMATIC group: ``group["algorithm"]``
    ``{name, version, family?}`` (family a code tuple; default Artificial Intelligence)."""
    if str(group.get("generation_type", "MANUAL")).upper() == "MANUAL":
        return None
    spec = group.get("algorithm") or {"name": "unnamed", "version": "0"}
    family = _code(spec.get("family", ("123110", "DCM", "Artificial Intelligence")), hd)
    return hd.AlgorithmIdentificationSequence(name=spec["name"], version=str(spec["version"]), family=family)


def _without_frame_of_reference(sources: list[Any], coordinate_type: Any) -> list[Any]:
    """Sources as highdicom wants them for 2D (image pixel) annotations: it compares their Frame of
    Reference, which ultrasound images lack and a 2D annotation does not record; such sources are
    given (as header copies) the same placeholder."""
    if str(getattr(coordinate_type, "value", coordinate_type)).upper() != "2D":
        return sources
    views = []
    for source in sources:
        if "FrameOfReferenceUID" not in source:
            source = header_copy(source)
            source.FrameOfReferenceUID = "1.2.3"    # compared only, never written for 2D
        views.append(source)
    return views


def _ann_class():
    hd = require_highdicom()

    def __init__(self, source_images, annotation_coordinate_type, annotation_groups, series_instance_uid,
                 series_number, sop_instance_uid, instance_number, manufacturer, manufacturer_model_name=None,
                 software_versions=None, device_serial_number=None, **_kwargs):
        with building("bulk annotations"):
            hd.ann.MicroscopyBulkSimpleAnnotations.__init__(
                self, _without_frame_of_reference(list(source_images), annotation_coordinate_type),
                annotation_coordinate_type, list(annotation_groups), series_instance_uid, series_number,
                sop_instance_uid, instance_number, manufacturer, manufacturer_model_name or "sonobridge",
                software_versions or "1", device_serial_number or "1", **_kwargs)
        unknown_laterality(self)
        for group in self.get("AnnotationGroupSequence", []):      # 3D only; highdicom leaves it empty in 2D
            if "CommonZCoordinateValue" in group and group.CommonZCoordinateValue in (None, ""):
                del group.CommonZCoordinateValue

    return type("MicroscopyBulkSimpleAnnotations", (hd.ann.MicroscopyBulkSimpleAnnotations,),
                {"__init__": __init__, "__module__": __name__,
                 "__doc__": "highdicom.ann.MicroscopyBulkSimpleAnnotations-compatible constructor (a Dataset)."})


def __getattr__(name: str) -> Any:
    if name in ("Measurements", "AnnotationGroup"):
        value = getattr(require_highdicom().ann, name)
    elif name == "MicroscopyBulkSimpleAnnotations":
        value = _ann_class()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def write_ann(source: Any, groups: Sequence[dict[str, Any]], *, coordinate_type: str = "2D",
              series_instance_uid: str | None = None, series_number: int = 1, sop_instance_uid: str | None = None,
              instance_number: int = 1, manufacturer: str = "pydcm", manufacturer_model_name: str | None = None,
              software_versions: str | None = None, device_serial_number: str | None = None,
              output: str | os.PathLike | None = None) -> bytes | None:
    """Author a Microscopy Bulk Simple Annotations object.

    Parameters
    ----------
    source : path, Dataset, or a list of them
        Source image(s) (slide microscopy; any image for "2D"): identity, and for "3D" the Frame of
        Reference, come from them.
    groups : list of dict
        ``{number, label, generation_type, property_category, property_type, graphic_type, annotations,
        measurements?, algorithm?}`` (algorithm ``{name, version, family?}`` for automatic groups):
        annotations a list of (n_points, 2 or 3) float arrays (image pixel coordinates
        for "2D", slide mm for "3D"); codes (value, scheme, meaning) tuples; measurements
        ``[{name, unit, values}]`` with one value per annotation.
    output : path, optional
        Write there atomically and return None; else return the Part-10 bytes.

    Raises
    ------
    SonobridgeError
        Bad groups (no annotations, wrong point dimension) or sources; nothing is written then.
    """
    import numpy as np

    from .uid import generate_uid

    hd = require_highdicom()
    sources = load_sources(source, "write_ann")
    if not groups:
        raise SonobridgeError(None, "write_ann: no annotation group given")
    made = []
    with building("bulk annotations"):
        for index, group in enumerate(groups, 1):
            if not group.get("annotations"):
                raise SonobridgeError(None, f"write_ann: group {group.get('label', index)!r} has no annotations")
            measurements = [hd.ann.Measurements(name=_code(m["name"], hd), unit=_code(m["unit"], hd),
                                                values=np.asarray(m["values"], dtype=np.float32))
                            for m in group.get("measurements", [])]
            made.append(hd.ann.AnnotationGroup(
                number=int(group.get("number", index)), uid=generate_uid(), label=group["label"],
                annotated_property_category=_code(group["property_category"], hd),
                annotated_property_type=_code(group["property_type"], hd), graphic_type=group["graphic_type"],
                graphic_data=[np.asarray(a, dtype=np.float64) for a in group["annotations"]],
                algorithm_type=group.get("generation_type", "MANUAL"),
                algorithm_identification=_algorithm(group, hd), measurements=measurements or None))
        ds = __getattr__("MicroscopyBulkSimpleAnnotations")(
            sources, coordinate_type, made, series_instance_uid or generate_uid(), int(series_number),
            sop_instance_uid or generate_uid(), int(instance_number), manufacturer, manufacturer_model_name,
            software_versions, device_serial_number)
    return emit(ds, output)


def _triple(code: Any) -> tuple[str, str, str]:
    """A coded concept as (value, scheme, meaning)."""
    return (str(code.value), str(code.scheme_designator), str(code.meaning))


def read_ann(path: Any) -> dict[str, Any] | None:
    """Read a Microscopy Bulk Simple Annotations file.

    Returns
    -------
    dict or None
        ``{coordinate_type, groups:[{number, uid, label, generation_type, property_category,
        property_type, graphic_type, num_annotations, annotations: [(n_points, dim) float64],
        measurements: [{name, unit, values, annotation_index}]}]}``; None when not a bulk annotations object.
    """
    import numpy as np

    from .io import damaged_content, open_dataset

    ds, label = open_dataset(path)
    if str(ds.get("SOPClassUID", "")) != _ANN_CLASS:
        return None
    hd = require_highdicom()
    with damaged_content(label):
        annotations = hd.ann.MicroscopyBulkSimpleAnnotations.from_dataset(ds)
        coordinate_type = str(ds.AnnotationCoordinateType)
        groups = []
        for group in annotations.get_annotation_groups():
            graphic = group.get_graphic_data(coordinate_type)
            names, values, units = group.get_measurements()
            values = np.asarray(values, dtype=np.float64).reshape(len(graphic), len(names))
            measured = [{"name": _triple(name), "unit": _triple(unit), "values": values[:, column],
                         "annotation_index": np.arange(len(graphic))}
                        for column, (name, unit) in enumerate(zip(names, units))]
            groups.append({"number": int(group.AnnotationGroupNumber), "uid": str(group.AnnotationGroupUID),
                           "label": str(group.AnnotationGroupLabel),
                           "generation_type": str(group.AnnotationGroupGenerationType),
                           "property_category": _triple(group.annotated_property_category),
                           "property_type": _triple(group.annotated_property_type),
                           "graphic_type": str(group.GraphicType), "num_annotations": len(graphic),
                           "annotations": [np.asarray(a, dtype=np.float64) for a in graphic],
                           "measurements": measured})
    return {"coordinate_type": coordinate_type, "groups": groups}


__all__ = ["Measurements", "AnnotationGroup", "read_ann", "write_ann", "MicroscopyBulkSimpleAnnotations"]
