"""The verdict harness shared by the zea mutation suites (tests/formats/zea/test_verdicts*.py): the
real zea 0.1.8 and ours given the same inputs or the same mutated file, each answer reduced to
accepted / refused / crash."""
from __future__ import annotations

import logging
import os
import warnings

import sonobridge.zea as ours

os.environ.setdefault("KERAS_BACKEND", "jax")
#: what zea raises when it refuses an input (anything else is a crash: we refuse with a finding)
REFUSALS = (TypeError, ValueError, AssertionError)
#: a mutation that deletes the field
DELETE = object()
#: files real zea crashed on while validating (reported by the suites)
CRASHES: list[str] = []


def load_real_zea():
    """``(zea, validate_file)`` with zea's logging and warnings silenced."""
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    return zea, validate_file


def zea_create(zea, path, inputs) -> str:
    """Real zea's ``File.create`` verdict on ``inputs``."""
    try:
        zea.File.create(str(path), **inputs)
    except REFUSALS:
        return "refused"
    except Exception:  # noqa: BLE001  (zea crashed: recorded as such)
        return "crash"
    return "accepted"


def ours_create(path, inputs) -> str:
    """Our ``File.create`` verdict on ``inputs``."""
    try:
        made = ours.File.create(path, **inputs)
    except ours.InvalidZeaDataError:
        return "refused"
    getattr(made, "close", lambda: None)()
    return "accepted"


def zea_valid(real_zea, path) -> bool:
    """zea's verdict on a file; a crash (any other exception) counts as a refusal we must give as a finding."""
    zea, validate_file = real_zea
    try:
        validate_file(str(path))
        with zea.File(str(path), validate=False) as handle:
            handle.validate_spec()
    except (*REFUSALS, KeyError):
        return False
    except Exception:  # noqa: BLE001
        CRASHES.append(str(path))
        return False
    return True
