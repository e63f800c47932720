"""TEST DOUBLE: an AutoInt1 (EchoWave II COM) simulator. EchoWave runs only on Windows with a
Telemed licence, so the extraction client is tested against this stand-in, which serves a
recording from a sidecar and reproduces the interface's quirks: zero-argument methods are
properties (calling them raises TypeError), frame indices are 1-based, OpenFile returns -1 while
scanning/playing/recording, for network paths (UNC, drive letters other than C:, and the folders in
``network``) and for missing files, inactive panels return zero
rectangles, frames come back as nested integer rows (a COM SAFEARRAY), and calling the wrong
ParamGet variant for an id "crashes" EchoWave."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from sonobridge.formats.telemed.autoint import PARAMETERS, SENTINEL, is_network_path


class AutoInt1Simulator:
    def __init__(self, recordings: dict[str, Path]):
        self.recordings = recordings            # .tvd file name -> sidecar serving its content
        self.run, self.play, self.record = 1, 0, 1
        self.loaded = None
        self.current = None
        self.frame_loaded = False
        self.crashed = False
        self.opened: list[str] = []
        self.network: set[str] = set()         # folders this "EchoWave" treats as network shares

    # zero-argument methods: properties, as pywin32 late binding exposes them
    IsRunState = property(lambda self: self.run)
    IsPlayState = property(lambda self: self.play)
    IsRecordingState = property(lambda self: self.record)

    @property
    def FreezeRun(self):
        self.run = 0
        return 0

    @property
    def PlayPause(self):
        self.play = 0
        return 0

    @property
    def RecordStop(self):
        self.record = 0
        return 0

    def OpenFile(self, path: str) -> int:
        if self.run or self.play or self.record or is_network_path(path) or path.startswith(tuple(self.network)):
            return -1
        source = self.recordings.get(Path(path).name)
        if source is None or not Path(path).exists():
            return -1
        with h5py.File(source, "r") as handle:
            self.loaded = {"time_ms": handle["timing/time_ms"][()], "frames": handle["frames/gray"][()],
                           "attrs": dict(handle.attrs)}
        self.opened.append(path)
        return 0

    @property
    def GetFramesCount(self) -> int:
        return 0 if self.loaded is None else len(self.loaded["time_ms"])

    def GoToFrame1n(self, index_1n: int, load: bool) -> int:
        if self.loaded is None or not 1 <= index_1n <= len(self.loaded["time_ms"]):
            return -1
        self.current, self.frame_loaded = index_1n - 1, bool(load)
        return 0

    GetLoadedFrameWidth = property(lambda self: int(self.loaded["frames"].shape[2]))
    GetLoadedFrameHeight = property(lambda self: int(self.loaded["frames"].shape[1]))
    GetCurrentFrameIdx1n = property(lambda self: self.current + 1)

    @property
    def GetCurrentFrameTime(self) -> float:
        return float(self.loaded["time_ms"][self.current])

    @property
    def GetLoadedFrameGray(self):
        if not self.frame_loaded:
            raise RuntimeError("no frame data loaded (GoToFrame1n(i, False))")
        return tuple(tuple(int(v) for v in row) for row in self.loaded["frames"][self.current])

    def _roi(self, img_id: int, key: str) -> int:
        return int(self.loaded["attrs"].get(f"roi{img_id}_{key}", 0))

    def GetUltrasoundX1(self, img_id): return self._roi(img_id, "x1")  # noqa: E704
    def GetUltrasoundX2(self, img_id): return self._roi(img_id, "x2")  # noqa: E704
    def GetUltrasoundY1(self, img_id): return self._roi(img_id, "y1")  # noqa: E704
    def GetUltrasoundY2(self, img_id): return self._roi(img_id, "y2")  # noqa: E704

    def GetUltrasoundPhysicalDeltaX(self, img_id):
        return float(self.loaded["attrs"].get(f"physical_dx{img_id}_cm_per_px", 0.0))

    def GetUltrasoundPhysicalDeltaY(self, img_id):
        return float(self.loaded["attrs"].get(f"physical_dy{img_id}_cm_per_px", 0.0))

    def _param(self, param_id: int, variant: str):
        documented = {pid: (name, kind) for name, (pid, kind) in PARAMETERS.items()}
        if param_id in documented and documented[param_id][1] != variant:
            self.crashed = True
            raise RuntimeError("EchoWave crashed: wrong ParamGet variant for this id")
        name = documented.get(param_id, (None,))[0]
        value = self.loaded["attrs"].get(f"param_{name}") if name else None
        if value is None:
            return "" if variant == "String" else SENTINEL
        return value.decode() if isinstance(value, bytes) else (value.item() if isinstance(value, np.generic) else value)

    def ParamGetInt(self, param_id): return self._param(param_id, "Int")  # noqa: E704
    def ParamGetBool(self, param_id): return self._param(param_id, "Bool")  # noqa: E704
    def ParamGetString(self, param_id): return self._param(param_id, "String")  # noqa: E704
