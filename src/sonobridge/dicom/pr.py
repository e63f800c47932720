"""Softcopy Presentation States (``pydcm.pr``): author and read grayscale, colour and pseudo-colour
presentation states over highdicom.

A presentation state records how referenced images are displayed: window/level, presentation LUT
shape, rotation/flip, displayed area, and text/graphic annotations on named layers (in pixel
coordinates of the referenced image). highdicom refuses ultrasound multi-frame images (it looks for
the functional groups of enhanced objects to find their modality LUT and window); the classes here give
it the modality LUT and window such images have, so a presentation state can reference a sonobridge
cine frame by frame.

This module also holds the small helpers the other derived-object writers share (:func:`require_highdicom`,
:func:`emit`, :func:`building`).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import MissingDependencyError, SonobridgeError
from .derived import finish as emit
from .io import is_dataset, open_dataset


# ---------------------------------------------------------------- shared helpers
def require_highdicom():
    """The ``highdicom`` module; :class:`MissingDependencyError` naming the ``derived`` extra if absent."""
    try:
        import highdicom
    except ImportError as error:
        raise MissingDependencyError(None, f"derived DICOM objects need highdicom ({error}): "
                                           f"pip install 'sonobridge[derived]'") from None
    return highdicom


@contextlib.contextmanager
def building(what: str, label: str | None = None) -> Iterator[None]:
    """Within: highdicom's and pydicom's complaints about the input (ValueError, TypeError,
    KeyError, AttributeError, IndexError) become one :class:`SonobridgeError` naming ``what``."""
    try:
        yield
    except SonobridgeError:
        raise
    except (ValueError, TypeError, LookupError, AttributeError) as error:
        raise SonobridgeError(label, f"cannot build the {what}: {error}") from None


def unknown_laterality(ds: Any) -> None:
    """Record Laterality empty (General Series, Type 2C: unknown) when highdicom left it out; dciodvfy
    asks for it on every image-related series."""
    if "Laterality" not in ds:
        ds.Laterality = None


def load_sources(sources: Any, what: str) -> list[Any]:
    """Parsed datasets of ``sources`` (one path / bytes / Dataset, or a list of them)."""
    items = sources if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise SonobridgeError(None, f"{what}: no source image given")
    return [open_dataset(item)[0] for item in items]


def header_copy(ds: Any) -> Any:
    """A copy of ``ds`` whose top-level elements can be changed without touching ``ds`` (element
    values, such as the pixel data, are shared until replaced)."""
    import copy

    from pydicom.dataset import Dataset

    copied = Dataset()
    for element in ds:
        copied.add(copy.copy(element))
    if hasattr(ds, "file_meta"):
        copied.file_meta = ds.file_meta
    return copied


def is_classic_multiframe(ds: Any) -> bool:
    """A multi-frame image without functional groups (an ultrasound cine, a secondary capture)."""
    return int(ds.get("NumberOfFrames", 1) or 1) > 1 and "SharedFunctionalGroupsSequence" not in ds


def _classic_multiframe_defaults(referenced_images: Sequence[Any], kwargs: dict[str, Any], voi: bool) -> None:
    """Give highdicom the modality LUT (the image's Rescale Slope / Intercept, else identity) and, unless
    given, the VOI window (the image's own, else its full stored range) of classic multi-frame images,
    which it would otherwise look for in the functional groups of enhanced objects."""
    if not any(is_classic_multiframe(ds) for ds in referenced_images):
        return
    hd = require_highdicom()
    first = referenced_images[0]
    if kwargs.get("modality_lut_transformation") is None:
        kwargs["modality_lut_transformation"] = hd.ModalityLUTTransformation(
            rescale_intercept=float(first.get("RescaleIntercept", 0)),
            rescale_slope=float(first.get("RescaleSlope", 1)),
            rescale_type=str(first.get("RescaleType", "US")) or "US")
    if voi and not kwargs.get("voi_lut_transformations"):
        if "WindowCenter" in first and "WindowWidth" in first:
            center, width = _floats(first.WindowCenter)[0], _floats(first.WindowWidth)[0]
        else:
            levels = 2 ** int(first.get("BitsStored", 8))
            center, width = levels / 2, levels
        kwargs["voi_lut_transformations"] = [hd.pr.SoftcopyVOILUTTransformation(window_center=center,
                                                                                window_width=width)]


def _window_view(image: Any, voi: Any) -> Any:
    """A header copy of ``image`` carrying the window of ``voi`` (a SoftcopyVOILUTTransformation) where
    highdicom looks for an image's own window: in the shared functional groups of a multi-frame image,
    else in Window Center / Width. highdicom's pseudo-colour presentation state takes the window from
    there (its path for an explicit window is broken in highdicom 0.28)."""
    from pydicom.dataset import Dataset

    view = header_copy(image)
    if int(image.get("NumberOfFrames", 1) or 1) > 1:
        window = Dataset()
        window.WindowCenter, window.WindowWidth = voi.WindowCenter, voi.WindowWidth
        shared = Dataset()
        shared.FrameVOILUTSequence = [window]
        view.SharedFunctionalGroupsSequence = [shared]
        view.PerFrameFunctionalGroupsSequence = []
    else:
        view.WindowCenter, view.WindowWidth = voi.WindowCenter, voi.WindowWidth
    return view


# ---------------------------------------------------------------- highdicom-compatible classes
def _make_class(name: str, palette: bool):
    base = getattr(require_highdicom().pr, name)

    def __init__(self, referenced_images, series_instance_uid, series_number, sop_instance_uid, instance_number,
                 manufacturer, manufacturer_model_name, software_versions, device_serial_number, content_label,
                 **kwargs):
        referenced_images = list(referenced_images)
        if name != "ColorSoftcopyPresentationState":
            _classic_multiframe_defaults(referenced_images, kwargs, voi=True)
        if palette and kwargs.get("voi_lut_transformations"):
            voi = kwargs.pop("voi_lut_transformations")[0]
            referenced_images = [_window_view(image, voi) for image in referenced_images]
        positional = [referenced_images, series_instance_uid, series_number, sop_instance_uid, instance_number,
                      manufacturer, manufacturer_model_name, software_versions, device_serial_number]
        if palette:
            positional.append(kwargs.pop("palette_color_lut_transformation"))
        with building(name):
            base.__init__(self, *positional, content_label, **kwargs)

    __init__.__doc__ = f"highdicom.pr.{name}-compatible constructor; ultrasound multi-frame sources accepted."
    return type(name, (base,), {"__init__": __init__, "__module__": __name__,
                                "__doc__": f"{base.__doc__ or name} (sonobridge: also for ultrasound cines)"})


_CLASSES = {"GrayscaleSoftcopyPresentationState": False, "ColorSoftcopyPresentationState": False,
            "PseudoColorSoftcopyPresentationState": True}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        value = _make_class(name, _CLASSES[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- write_pr
_KINDS = {"GSPS": "GrayscaleSoftcopyPresentationState", "COLOR": "ColorSoftcopyPresentationState",
          "PSEUDO_COLOR": "PseudoColorSoftcopyPresentationState"}
_GRAPHIC_TYPES = {"POINT", "POLYLINE", "INTERPOLATED", "CIRCLE", "ELLIPSE"}


def _stub_reference(ref: dict[str, Any], ids: dict[str, str]) -> Any:
    """A header-only dataset standing for a referenced image known only by its identifiers."""
    from pydicom.dataset import Dataset

    from .uid import generate_uid

    try:
        ds = Dataset()
        ds.SOPClassUID = ref["sop_class_uid"]
        ds.SOPInstanceUID = ref["sop_instance_uid"]
        ds.SeriesInstanceUID = ref.get("series_uid") or generate_uid()
    except (KeyError, TypeError) as error:
        raise SonobridgeError(None, f"a reference needs sop_class_uid and sop_instance_uid ({error})") from None
    ds.StudyInstanceUID = ids["study_uid"] or generate_uid()
    ds.PatientName, ds.PatientID = ids["patient_name"], ids["patient_id"]
    ds.PatientBirthDate = ds.PatientSex = ds.AccessionNumber = ds.ReferringPhysicianName = ds.StudyID = ""
    ds.StudyDate, ds.StudyTime = ids["study_date"], ""
    ds.Rows = int(ref.get("rows", 1))
    ds.Columns = int(ref.get("columns", 1))
    colour = bool(ref.get("colour", False))
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = int(ref.get("bits", 8))
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, 0
    if ref.get("number_of_frames"):
        ds.NumberOfFrames = int(ref["number_of_frames"])
    return ds


def _references(references: Any, ids: dict[str, str]) -> list[Any]:
    items = references if isinstance(references, (list, tuple)) else [references]
    if not items:
        raise SonobridgeError(None, "write_pr: no referenced image given")
    datasets = []
    for item in items:
        if isinstance(item, dict):
            datasets.append(_stub_reference(item, ids))
        else:
            datasets.append(open_dataset(item, stop_before_pixels=True)[0] if not is_dataset(item) else item)
    if len({ds.StudyInstanceUID for ds in datasets}) > 1:
        raise SonobridgeError(None, "write_pr: the referenced images belong to different studies")
    return datasets


def _window(window: Any, hd) -> Any:
    if isinstance(window, dict):
        center, width = window["window_center"], window["window_width"]
        function, explanation = window.get("function"), window.get("explanation")
    else:
        (center, width), function, explanation = window, None, None
    if float(width) < 1:
        raise SonobridgeError(None, f"window width must be at least 1, got {width}")
    return hd.pr.SoftcopyVOILUTTransformation(window_center=float(center), window_width=float(width),
                                              window_explanation=explanation, voi_lut_function=function)


def _layers(graphic_layers: Sequence[dict[str, Any]] | None, annotations: Sequence[dict[str, Any]], hd) -> dict:
    specs = list(graphic_layers or [])
    names = [spec["name"] for spec in specs]
    for annotation in annotations:          # layers named only by an annotation are added in order
        if annotation.get("layer") not in names:
            names.append(annotation.get("layer", "ANNOTATIONS"))
            specs.append({"name": names[-1]})
    layers = {}
    for order, spec in enumerate(specs, 1):
        color = hd.color.CIELabColor(*spec["cielab"]) if spec.get("cielab") is not None else None
        layers[spec["name"]] = hd.pr.GraphicLayer(layer_name=spec["name"], order=int(spec.get("order", order)),
                                                  description=spec.get("description"), display_color=color)
    return layers


def _units(spec: dict[str, Any], hd):
    return hd.pr.AnnotationUnitsValues(str(spec.get("units", "PIXEL")).upper())


def _graphic(spec: dict[str, Any], hd) -> Any:
    import numpy as np

    kind = str(spec.get("type", "POLYLINE")).upper()
    if kind not in _GRAPHIC_TYPES:
        raise SonobridgeError(None, f"unknown graphic type {kind!r} (one of {sorted(_GRAPHIC_TYPES)})")
    points = np.asarray(spec["points"], dtype=np.float64).reshape(-1, 2)
    return hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues(kind), graphic_data=points,
                               units=_units(spec, hd), is_filled=bool(spec.get("filled", False)))


def _text(spec: dict[str, Any] | str, hd) -> Any:
    if isinstance(spec, str):
        raise SonobridgeError(None, f"text {spec!r} needs an anchor or a bounding box: give a dict "
                                    f"{{text, anchor:[x,y]}} or {{text, tlhc, brhc}}")
    box = (tuple(map(float, spec["tlhc"])), tuple(map(float, spec["brhc"]))) if "tlhc" in spec else None
    anchor = tuple(map(float, spec["anchor"])) if "anchor" in spec else None
    return hd.pr.TextObject(text_value=spec["text"], units=_units(spec, hd), bounding_box=box, anchor_point=anchor)


def _annotations(specs: Sequence[dict[str, Any]], layers: dict, images: list[Any], hd) -> list[Any]:
    made = []
    for spec in specs:
        frames = spec.get("frame_numbers")
        made.append(hd.pr.GraphicAnnotation(
            referenced_images=images, graphic_layer=layers[spec.get("layer", "ANNOTATIONS")],
            text_objects=[_text(text, hd) for text in spec.get("texts", [])] or None,
            graphic_objects=[_graphic(graphic, hd) for graphic in spec.get("graphics", [])] or None,
            referenced_frame_number=[int(f) for f in frames] if frames else None))
    return made


def _palette(palette: dict[str, Any], hd) -> Any:
    import numpy as np

    channels = [np.asarray(palette[key], dtype=np.uint16) for key in ("red", "green", "blue")]
    if len({len(c) for c in channels}) != 1 or len(channels[0]) < 2:
        raise SonobridgeError(None, "palette: red, green and blue need the same number (>= 2) of entries")
    first = int(palette.get("first_mapped", 0))
    luts = [hd.PaletteColorLUT(first, c, color) for color, c in zip(("red", "green", "blue"), channels)]
    return hd.PaletteColorLUTTransformation(*luts)


def _srgb_profile() -> bytes:
    """An sRGB ICC profile (Pillow's), for colour images that carry none; its device class is set to
    "spac" (colour space conversion), one of the two classes highdicom accepts for a presentation state."""
    try:
        from PIL import ImageCms
    except ImportError:
        raise SonobridgeError(None, "the referenced images carry no ICC profile: give icc_profile "
                                    "(or install Pillow for a default sRGB profile)") from None
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[12:16] = b"spac"
    profile[84:100] = bytes(16)             # the profile ID (an MD5 of the header) is now unset
    return bytes(profile)


def _check_transform(rotation: int, presentation_lut_shape: str, kind: str) -> None:
    if kind in ("XAXRF", "ADVANCED_BLENDING"):
        raise SonobridgeError(None, f"write_pr: kind {kind!r} is not supported yet (GSPS, COLOR, PSEUDO_COLOR)")
    if kind not in _KINDS:
        raise SonobridgeError(None, f"write_pr: unknown kind {kind!r} (one of {sorted(_KINDS)})")
    if rotation not in (0, 90, 180, 270):
        raise SonobridgeError(None, f"rotation must be 0, 90, 180 or 270, got {rotation!r}")
    if presentation_lut_shape not in ("IDENTITY", "INVERSE"):
        raise SonobridgeError(None, f"presentation_lut_shape must be IDENTITY or INVERSE, "
                                    f"got {presentation_lut_shape!r}")


#: rotation -> which of (x1, y1, x2, y2) become (TLHC x, TLHC y, BRHC x, BRHC y) (PS3.3 C.10.4)
_ROTATED_CORNERS = {0: (0, 1, 2, 3), 90: (0, 3, 2, 1), 180: (2, 3, 0, 1), 270: (2, 1, 0, 3)}


def _rotated(tlhc: Sequence[int], brhc: Sequence[int], rotation: int, h_flip: bool) -> tuple[list[int], list[int]]:
    """Displayed-area corners of the unrotated image as the standard records them after ``rotation`` /
    ``h_flip`` (the corners of the area on the displayed, transformed image)."""
    corners = (int(tlhc[0]), int(tlhc[1]), int(brhc[0]), int(brhc[1]))
    picked = [corners[i] for i in _ROTATED_CORNERS[rotation]]
    if h_flip:                              # the flip follows the rotation: it swaps the stored axis shown across
        axis = 1 if rotation in (90, 270) else 0
        picked[axis], picked[axis + 2] = picked[axis + 2], picked[axis]
    return picked[:2], picked[2:]


def _displayed_areas(ds: Any, areas: Sequence[dict[str, Any]] | None, rotation: int, h_flip: bool) -> None:
    """Replace highdicom's displayed area by ``areas`` (pixel coordinates of the unrotated image, 1-based
    TLHC/BRHC), recorded for ``rotation`` / ``h_flip``."""
    from pydicom.dataset import Dataset

    if not areas:
        if not (rotation or h_flip):
            return
        item = ds.DisplayedAreaSelectionSequence[0]
        areas = [{"tlhc": list(item.DisplayedAreaTopLeftHandCorner),
                  "brhc": list(item.DisplayedAreaBottomRightHandCorner),
                  "size_mode": str(item.PresentationSizeMode)}]
    items = []
    for area in areas:
        item = Dataset()
        template = ds.DisplayedAreaSelectionSequence[0]
        if "ReferencedImageSequence" in template:
            item.ReferencedImageSequence = template.ReferencedImageSequence
        tlhc, brhc = _rotated(area["tlhc"], area["brhc"], rotation, h_flip)
        item.DisplayedAreaTopLeftHandCorner, item.DisplayedAreaBottomRightHandCorner = tlhc, brhc
        item.PresentationSizeMode = area.get("size_mode", "SCALE TO FIT")
        if item.PresentationSizeMode == "MAGNIFY":
            item.PresentationPixelMagnificationRatio = float(area.get("magnification", 1.0))
        if area.get("pixel_spacing") is not None or item.PresentationSizeMode == "TRUE SIZE":
            x, y = area.get("pixel_spacing") or (1.0, 1.0)
            item.PresentationPixelSpacing = [float(y), float(x)]
        else:
            item.PresentationPixelAspectRatio = [1, 1]
        items.append(item)
    ds.DisplayedAreaSelectionSequence = items


def write_pr(references: Any, *, kind: str = "GSPS", patient_name: str = "", patient_id: str = "",
             study_uid: str = "", study_date: str = "", content_label: str = "PS", content_description: str = "",
             content_creator: str = "", window: Any = None, voi_luts: Sequence[Any] | None = None,
             presentation_lut_shape: str = "IDENTITY", rotation: int = 0, h_flip: bool = False,
             displayed_areas: Sequence[dict[str, Any]] | None = None,
             graphic_layers: Sequence[dict[str, Any]] | None = None,
             graphic_annotations: Sequence[dict[str, Any]] | None = None, palette: dict[str, Any] | None = None,
             icc_profile: bytes | None = None, color_space: str = "", mask: Any = None, blending: Any = None,
             blending_display: Any = None, output: str | os.PathLike | None = None) -> bytes | None:
    """Author a Softcopy Presentation State for ``references``.

    Parameters
    ----------
    references : list
        Referenced images: DICOM paths, pydicom Datasets, or dicts ``{series_uid, sop_class_uid,
        sop_instance_uid, frame_numbers?, rows?, columns?, colour?, bits?}``. Ultrasound multi-frame
        images are accepted.
    kind : str
        "GSPS" (grayscale), "COLOR" (colour, ICC profile) or "PSEUDO_COLOR" (palette); "XAXRF" and
        "ADVANCED_BLENDING" raise :class:`SonobridgeError` (not supported yet).
    patient_name, patient_id, study_uid, study_date : str
        Identity of dict references (paths and Datasets bring their own).
    content_label, content_description, content_creator : str
        Presentation State Identification.
    window : (center, width) or dict, optional
        One Softcopy VOI LUT in stored-value units; ``voi_luts`` a list of several.
    presentation_lut_shape : str
        "IDENTITY" or "INVERSE" (grayscale kinds).
    rotation : int
        0, 90, 180 or 270 degrees clockwise; ``h_flip`` flips horizontally.
    displayed_areas : list of dict, optional
        ``{tlhc:[x,y], brhc:[x,y], size_mode?, magnification?, pixel_spacing?:[x,y]}`` (pixels;
        spacing in mm); default: the whole image, scaled to fit.
    graphic_layers : list of dict, optional
        ``{name, order?, description?, cielab?:[L,a,b]}``.
    graphic_annotations : list of dict, optional
        ``{layer, texts?:[{text, anchor:[x,y] | tlhc, brhc, units?}], graphics?:[{type, points:[[x,y],...],
        units?, filled?}], frame_numbers?}``; ``units`` "PIXEL" (default, column/row of the image) or
        "DISPLAY" (0..1 of the displayed area).
    palette : dict, optional
        PSEUDO_COLOR palette ``{red, green, blue: 16-bit lists of equal length, first_mapped?}``.
    icc_profile : bytes, optional
        COLOR ICC profile (default: the images' own, else sRGB); ``color_space`` e.g. "SRGB".
    mask, blending, blending_display
        XA/XRF and advanced-blending options (not supported yet; must be None).
    output : path, optional
        Write the object there (atomically) and return None; else return its Part-10 bytes.

    Returns
    -------
    bytes or None

    Raises
    ------
    SonobridgeError
        Bad input (unknown kind, graphic type or layer; a window width below 1; references of several
        studies); nothing is written then.
    """
    hd = require_highdicom()
    _check_transform(rotation, presentation_lut_shape, kind)
    if mask is not None or blending is not None or blending_display is not None:
        raise SonobridgeError(None, "write_pr: mask and blending need kind XAXRF / ADVANCED_BLENDING "
                                    "(not supported yet)")
    if kind == "PSEUDO_COLOR" and palette is None:
        raise SonobridgeError(None, "write_pr: kind PSEUDO_COLOR needs a palette")
    from .uid import generate_uid

    ids = {"patient_name": patient_name, "patient_id": patient_id, "study_uid": study_uid, "study_date": study_date}
    with building("presentation state"):
        images = _references(references, ids)
        annotations = list(graphic_annotations or [])
        layers = _layers(graphic_layers, annotations, hd)
        kwargs: dict[str, Any] = {
            "content_description": content_description or None, "content_creator_name": content_creator or None,
            "graphic_layers": list(layers.values()) or None,
            "graphic_annotations": _annotations(annotations, layers, images, hd) or None}
        if kind != "COLOR":
            windows = [window] if window is not None else []
            windows += list(voi_luts or [])
            kwargs["voi_lut_transformations"] = [_window(w, hd) for w in windows] or None
        if kind == "GSPS":
            kwargs["presentation_lut_transformation"] = hd.PresentationLUTTransformation(
                presentation_lut_shape=presentation_lut_shape)
        if kind == "PSEUDO_COLOR":
            kwargs["palette_color_lut_transformation"] = _palette(palette, hd)
        if kind != "GSPS" and icc_profile is not None:
            kwargs["icc_profile"] = icc_profile
        elif kind == "COLOR" and not any("ICCProfile" in ds or "OpticalPathSequence" in ds for ds in images):
            kwargs["icc_profile"] = _srgb_profile()
        cls = __getattr__(_KINDS[kind])
        ds = cls(images, generate_uid(), 1, generate_uid(), 1, "sonobridge", "sonobridge", "1", "1",
                 content_label, **kwargs)
        if rotation or h_flip:
            ds.ImageRotation = int(rotation)
            ds.ImageHorizontalFlip = "Y" if h_flip else "N"
        if color_space and kind != "GSPS":
            ds.ColorSpace = color_space
        _displayed_areas(ds, displayed_areas, int(rotation), bool(h_flip))
        unknown_laterality(ds)
    return emit(ds, output)


# ---------------------------------------------------------------- read_pr
_PS_CLASSES = {"1.2.840.10008.5.1.4.1.1.11.1": "GSPS", "1.2.840.10008.5.1.4.1.1.11.2": "COLOR",
               "1.2.840.10008.5.1.4.1.1.11.3": "PSEUDO_COLOR", "1.2.840.10008.5.1.4.1.1.11.5": "XAXRF",
               "1.2.840.10008.5.1.4.1.1.11.8": "ADVANCED_BLENDING"}


def _floats(values: Any) -> list[float]:
    """A DICOM value (one number or several) as a list of floats."""
    return [float(v) for v in (values if isinstance(values, (list, tuple)) or hasattr(values, "__iter__")
                               and not isinstance(values, str) else [values])]


def _read_references(ds: Any) -> list[dict[str, Any]]:
    found = []
    for series in ds.get("ReferencedSeriesSequence", []):
        for image in series.get("ReferencedImageSequence", []):
            entry = {"series_uid": str(series.SeriesInstanceUID), "sop_class_uid": str(image.ReferencedSOPClassUID),
                     "sop_instance_uid": str(image.ReferencedSOPInstanceUID)}
            if "ReferencedFrameNumber" in image:
                entry["frame_numbers"] = [int(f) for f in _floats(image.ReferencedFrameNumber)]
            found.append(entry)
    return found


def _read_annotation(item: Any) -> dict[str, Any]:
    texts = []
    for text in item.get("TextObjectSequence", []):
        entry: dict[str, Any] = {"text": str(text.UnformattedTextValue)}
        if "AnchorPoint" in text:
            entry["anchor"] = _floats(text.AnchorPoint)
            entry["units"] = str(text.AnchorPointAnnotationUnits)
        if "BoundingBoxTopLeftHandCorner" in text:
            entry["tlhc"] = _floats(text.BoundingBoxTopLeftHandCorner)
            entry["brhc"] = _floats(text.BoundingBoxBottomRightHandCorner)
            entry["units"] = str(text.BoundingBoxAnnotationUnits)
        texts.append(entry)
    graphics = []
    for graphic in item.get("GraphicObjectSequence", []):
        data = _floats(graphic.GraphicData)
        graphics.append({"type": str(graphic.GraphicType), "units": str(graphic.GraphicAnnotationUnits),
                         "points": [data[i:i + 2] for i in range(0, len(data), 2)],
                         "filled": str(graphic.get("GraphicFilled", "N")) == "Y"})
    frames = sorted({int(f) for image in item.get("ReferencedImageSequence", [])
                     for f in _floats(image.get("ReferencedFrameNumber", []))})
    result = {"layer": str(item.GraphicLayer), "texts": texts, "graphics": graphics}
    if frames:
        result["frame_numbers"] = frames
    return result


def read_pr(path: Any) -> dict[str, Any] | None:
    """Read a Presentation State's semantic content.

    Parameters
    ----------
    path : str, os.PathLike, bytes or pydicom Dataset
        A DICOM object.

    Returns
    -------
    dict or None
        ``{kind, sop_class_uid, sop_instance_uid, content_label, content_description, content_creator,
        references, presentation_lut_shape, windows:[{window_center, window_width, function,
        explanation}], rotation, h_flip, displayed_areas, graphic_layers, annotations}`` (the shapes
        :func:`write_pr` takes; points are [x, y] pairs); None when ``path`` is not a presentation state.

    Raises
    ------
    UnsupportedInputError, FormatError
        Not DICOM or damaged.
    """
    from .io import damaged_content

    ds, label = open_dataset(path, stop_before_pixels=True)
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in _PS_CLASSES:
        return None
    with damaged_content(label):
        windows = [{"window_center": _floats(item.WindowCenter)[0], "window_width": _floats(item.WindowWidth)[0],
                    "function": str(item.get("VOILUTFunction", "LINEAR")) or "LINEAR",
                    "explanation": str(item.get("WindowCenterWidthExplanation", "")) or None}
                   for item in ds.get("SoftcopyVOILUTSequence", []) if "WindowCenter" in item]
        areas = [{"tlhc": [int(v) for v in _floats(item.DisplayedAreaTopLeftHandCorner)],
                  "brhc": [int(v) for v in _floats(item.DisplayedAreaBottomRightHandCorner)],
                  "size_mode": str(item.PresentationSizeMode)}
                 for item in ds.get("DisplayedAreaSelectionSequence", [])]
        layers = [{"name": str(item.GraphicLayer), "order": int(item.GraphicLayerOrder),
                   "description": str(item.get("GraphicLayerDescription", "")) or None}
                  for item in ds.get("GraphicLayerSequence", [])]
        return {"kind": _PS_CLASSES[sop_class], "sop_class_uid": sop_class,
                "sop_instance_uid": str(ds.SOPInstanceUID), "content_label": str(ds.get("ContentLabel", "")),
                "content_description": str(ds.get("ContentDescription", "") or ""),
                "content_creator": str(ds.get("ContentCreatorName", "") or ""),
                "references": _read_references(ds),
                "presentation_lut_shape": str(ds.get("PresentationLUTShape", "")) or None,
                "windows": windows, "rotation": int(ds.get("ImageRotation", 0) or 0),
                "h_flip": str(ds.get("ImageHorizontalFlip", "N")) == "Y", "displayed_areas": areas,
                "graphic_layers": layers,
                "annotations": [_read_annotation(item) for item in ds.get("GraphicAnnotationSequence", [])]}


__all__ = ["write_pr", "read_pr", *_CLASSES]
