"""Every name of pydcm's API reference (../shared/reference/pydcm-api.txt) exists at
``sonobridge.dicom[.X]``, with the documented parameter list where the reference gives one (names,
order, kinds, defaults; annotations are not compared). One test per documented name, so a failure
names what is missing.

The reference is parsed, not copied: ``pydcm.X ¶`` opens module X's section (``pydcm ¶`` the top
level), ``name ¶`` (or ``name`` / ``dataclass`` / ``¶`` on separate lines) documents a name, and a
``name(`` ... ``)`` block right after it is its parameter list. A lower-case name documented after
a class is looked up on that class when the module does not define it (FileSet.find, Volume.to_nifti).
The core section also lists the data model of "The rest of the DICOM API" (types and submodules).
"""
from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass

import pytest

from support import SHARED

REFERENCE = SHARED / "reference" / "pydcm-api.txt"


def _sections() -> dict[str, str]:
    """reference module (``""``: the top level) -> our module, for every module the reference documents."""
    text = REFERENCE.read_text(encoding="utf-8") if REFERENCE.is_file() else ""
    return {"": "sonobridge.dicom", **{name: f"sonobridge.dicom.{name}"
                                       for name in re.findall(r"^pydcm\.(\w+) ¶", text, re.M)}}


#: reference module -> our module
SECTIONS = _sections()
DECORATIONS = {"dataclass", "property", "classmethod", "staticmethod", "abstractmethod"}


@dataclass
class Documented:
    """One documented name: its section (``""`` = top level), the class documented before it in the
    section (a lower-case name may be its method), and its parameter list when given."""

    section: str
    name: str
    owner: str | None = None
    parameters: list[tuple[str, str, object]] | None = None      # (name, kind, default source or None)
    kind: str = "callable"                                        # or "type", "module"

    @property
    def id(self) -> str:
        return f"{self.section or 'core'}.{self.name}"


def _parameters(block: str) -> list[tuple[str, str, object]]:
    """``name(`` ... ``)`` -> [(parameter, kind, default source)] via the Python grammar."""
    inner = block[block.index("(") + 1:block.rindex(")")]
    function = ast.parse(f"def f({inner}): pass").body[0]
    args = function.args
    result = []
    positional = args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        result.append((arg.arg, "POSITIONAL_OR_KEYWORD", None if default is None else ast.unparse(default)))
    if args.vararg:
        result.append(("*", "VAR_POSITIONAL", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        result.append((arg.arg, "KEYWORD_ONLY", None if default is None else ast.unparse(default)))
    if args.kwarg:
        result.append(("**", "VAR_KEYWORD", None))
    return result


def _data_model(text: str) -> list[Documented]:
    """The types and submodules of "The rest of the DICOM API" (top level)."""
    rest = text[text.index("The rest of the DICOM API"):]
    types = rest[rest.index("Types"):rest.index("Submodules")]
    modules = rest[rest.index("Submodules"):]
    modules = modules[:modules.index(".\n") if ".\n" in modules else len(modules)]
    found = [Documented("", name, kind="type") for name in re.findall(r"\b([A-Z]\w+)\b", types.split("—", 1)[1])]
    found += [Documented("", name, kind="module") for name in re.findall(r"\b([a-z_]+)\b", modules.split("—", 1)[1])]
    return found


def parse_reference(text: str) -> list[Documented]:
    """The documented names of :data:`SECTIONS`, in reference order."""
    lines = text.splitlines()
    documented: list[Documented] = []
    section: str | None = None
    owner: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        module = re.fullmatch(r"pydcm(?:\.(\w+))? ¶", line)
        name = None
        if module:
            section = module.group(1) or ""
            section = section if section in SECTIONS else None
            owner = None
        elif re.fullmatch(r"\w+ ¶", line):
            name = line[:-2]
        elif line == "¶":                       # "Volume" / "dataclass" / "¶"
            back = index - 1
            while back >= 0 and lines[back].strip() in DECORATIONS:
                back -= 1
            name = lines[back].strip() if back >= 0 and lines[back].strip().isidentifier() else None
        index += 1
        if name is None or section is None:
            continue
        entry = Documented(section, name, owner=owner if name[:1].islower() else None)
        if index < len(lines) and lines[index].strip() == f"{name}(":
            block = []
            while index < len(lines):
                block.append(lines[index].strip())
                index += 1
                if block[-1].startswith(")"):
                    break
            entry.parameters = _parameters(re.sub(r"\)\s*->.*$", ")", " ".join(block)))
        if name[:1].isupper():
            owner = name
        documented.append(entry)
    return documented + _data_model(text)


def _reference() -> list[Documented]:
    if not REFERENCE.is_file():
        return []
    return parse_reference(REFERENCE.read_text(encoding="utf-8"))


DOCUMENTED = _reference()


def _resolve(entry: Documented):
    """Our object for ``entry``; raises AttributeError/ImportError naming what is missing."""
    module = importlib.import_module(SECTIONS[entry.section])
    if hasattr(module, entry.name):
        return getattr(module, entry.name)
    if entry.owner and hasattr(module, entry.owner):
        return getattr(getattr(module, entry.owner), entry.name)
    where = f"{module.__name__}.{entry.name}" + (f" (or {entry.owner}.{entry.name})" if entry.owner else "")
    raise AttributeError(f"{where} is missing")


def _signature(obj) -> list[tuple[str, str, object]]:
    result = []
    for parameter in inspect.signature(obj).parameters.values():
        kind = parameter.kind.name
        if kind == "VAR_POSITIONAL":
            result.append(("*", kind, None))
        elif kind == "VAR_KEYWORD":
            result.append(("**", kind, None))
        else:
            default = None if parameter.default is inspect.Parameter.empty else parameter.default
            result.append((parameter.name, kind, default))
    return result


def _same_default(documented: object, ours: object) -> bool:
    if documented is None:
        return ours is None
    try:
        return ast.literal_eval(documented) == ours and type(ast.literal_eval(documented)) is type(ours)
    except ValueError:                          # a name (np.float32 ...): compare as written
        return documented == getattr(ours, "__name__", repr(ours))


def _problem(entry: Documented) -> str | None:
    """What is wrong with our ``entry`` (None: it matches the reference)."""
    try:
        obj = _resolve(entry)
    except (AttributeError, ImportError) as error:
        return str(error)
    if entry.kind == "module":
        return None if inspect.ismodule(obj) else f"{entry.name} is not a module"
    if entry.kind == "type":
        return None if isinstance(obj, type) or callable(obj) else f"{entry.name} is not a type"
    if isinstance(obj, property):               # documented as "property" (Association.local ...)
        return None
    if not callable(obj):
        return f"{entry.id} is not callable"
    if entry.parameters is None:
        return None
    ours = _signature(obj)
    if (inspect.isclass(obj) or entry.owner) and ours and ours[0][0] == "self":     # methods: documented without self
        ours = ours[1:]
    names = [(name, kind) for name, kind, _ in entry.parameters], [(name, kind) for name, kind, _ in ours]
    if names[0] != names[1]:
        return f"{entry.id}: parameters {names[1]}, documented {names[0]}"
    wrong = [f"{name}={ours_default!r} (documented {default})"
             for (name, _, default), (_, _, ours_default) in zip(entry.parameters, ours)
             if not _same_default(default, ours_default)]
    return f"{entry.id}: defaults {', '.join(wrong)}" if wrong else None


def test_the_reference_is_parsed():
    """The parser finds what the reference documents (guards against a silently empty list)."""
    if not REFERENCE.is_file():
        pytest.skip(f"no reference at {REFERENCE}")
    by_section = {section: [d.name for d in DOCUMENTED if d.section == section] for section in SECTIONS}
    assert by_section[""][:5] == ["decode", "dcmread", "dcmwrite", "pixel_array", "generate_uid"]
    assert {"Dataset", "InvalidDicomError", "dataset", "valuerep"} <= set(by_section[""])
    assert {"unpack_bits", "compress", "set_pixel_data", "as_pixel_options"} <= set(by_section["pixels"])
    assert {"FileSet", "find", "find_values", "write", "FileInstance"} <= set(by_section["fileset"])
    assert by_section["diffusion"] == ["diffusion_table", "load_dwi", "save_dwi"]
    assert len(by_section["transforms"]) == 35 and by_section["torchdata"] == ["DICOMDataset", "scan"]
    decode = next(d for d in DOCUMENTED if d.id == "core.decode")
    assert decode.parameters == [("path", "POSITIONAL_OR_KEYWORD", None), ("frame", "POSITIONAL_OR_KEYWORD", "0"),
                                 ("rescale", "KEYWORD_ONLY", "False"), ("to_torch", "KEYWORD_ONLY", "False"),
                                 ("with_meta", "KEYWORD_ONLY", "False")]
    assert not any(d.section not in SECTIONS for d in DOCUMENTED)


@pytest.mark.parametrize("entry", DOCUMENTED, ids=lambda d: f"{d.id}")
def test_documented_name_exists_with_its_signature(entry: Documented):
    problem = _problem(entry)
    if problem is not None:
        pytest.fail(problem)
