"""EchoNet-Dynamic: ours against zea's ``convert_echonet`` on generated 112x112 AVI cines in the
dataset's layout (``EchoNet-Dynamic/Videos/*.avi`` MPEG-4 part 2 'FMP4', FileList.csv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sonobridge.formats.zea.datasets import convert_dataset
from sonobridge.formats.zea.datasets.echonet import accepted, avi_blocks, scaled

av = pytest.importorskip("av")


def write_avi(path: Path, frames: np.ndarray, rate: int = 50) -> None:
    """Greyscale uint8 ``frames`` (n, h, w) as an MPEG-4 part 2 AVI (EchoNet's codec, tag FMP4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.codec_context.codec_tag = "FMP4"
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.repeat(frame[..., None], 3, -1), "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def echonet_source(root: Path, n_accepted: int = 2, n_frames: int = 6) -> Path:
    """``root/EchoNet-Dynamic`` with ``n_accepted`` bright cines and one dark (rejected) cine."""
    rng = np.random.default_rng(7)
    videos = root / "EchoNet-Dynamic" / "Videos"
    names = []
    for index in range(n_accepted):
        name = f"0X{index + 1:016X}"
        write_avi(videos / f"{name}.avi", rng.integers(60, 256, (n_frames, 112, 112), dtype=np.uint8))
        names.append(name)
    dark = np.zeros((n_frames, 112, 112), np.uint8)
    dark[:, 20:40, 50:60] = 200
    write_avi(videos / "0XDARK.avi", dark)
    names.append("0XDARK")
    (root / "EchoNet-Dynamic" / "FileList.csv").write_text(
        "FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split\n"
        + "".join(f"{n},60,30,75,112,112,50,{n_frames},TRAIN\n" for n in names))
    return root


def run_zea_echonet(run_zea, source: Path, destination: Path) -> None:
    run_zea(f"""
        from types import SimpleNamespace
        from zea.data.convert.echonet import convert_echonet
        convert_echonet(SimpleNamespace(src={str(source)!r}, dst={str(destination)!r}, split_path=None,
                                        no_hyperthreading=True))
        """, timeout=600)


def test_same_files_and_arrays_as_zea(tmp_path, run_zea, compare_with_zea):
    source = echonet_source(tmp_path / "raw")
    run_zea_echonet(run_zea, source, tmp_path / "zea")
    results = convert_dataset("echonet", source, tmp_path / "ours", workers=2)
    assert [r.outcome.status.value for r in results] == ["built"] * 3
    names = compare_with_zea(tmp_path / "ours", tmp_path / "zea")
    assert names == ["rejected/0XDARK.hdf5", "val/0X0000000000000001.hdf5", "val/0X0000000000000002.hdf5"]
    theirs = yaml.safe_load((tmp_path / "zea" / "split.yaml").read_text())
    ours = yaml.safe_load((tmp_path / "ours" / "split.yaml").read_text())
    assert {k: sorted(v) for k, v in theirs.items()} == ours
    for split in ("train", "val", "test", "rejected"):
        assert (tmp_path / "ours" / split).is_dir()


def test_split_yaml_reproduces_a_previous_split(tmp_path):
    source = echonet_source(tmp_path / "raw", n_accepted=2, n_frames=3)
    split = tmp_path / "given"
    split.mkdir()
    (split / "split.yaml").write_text(yaml.safe_dump({"train": ["0X0000000000000001.hdf5"],
                                                      "test": ["0X0000000000000002.hdf5"],
                                                      "val": [], "rejected": ["0XDARK.hdf5"]}))
    results = convert_dataset("echonet", source, tmp_path / "ours", workers=1, options={"split_path": str(split)})
    assert sorted(r.output.relative_to(tmp_path / "ours").as_posix() for r in results) == [
        "rejected/0XDARK.hdf5", "test/0X0000000000000002.hdf5", "train/0X0000000000000001.hdf5"]


def test_acceptance_and_blocks(tmp_path):
    source = echonet_source(tmp_path / "raw", n_accepted=1, n_frames=5)
    video = source / "EchoNet-Dynamic" / "Videos" / "0X0000000000000001.avi"
    blocks = list(avi_blocks(video, block=2))
    assert [len(b) for b in blocks] == [2, 2, 1] and blocks[0].dtype == np.uint8
    assert accepted(scaled(blocks[0][:1])[0])
    assert not accepted(np.zeros((112, 112)))
