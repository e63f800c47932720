"""The sonobridge command line, run as users run it (a subprocess)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from support import EXAMPLES


def run(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "sonobridge.cli", *map(str, args)],
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("fixture", ["carotid_doppler_2020", "carotid_doppler_2020/carotid_iq.raw",
                                     "lzop/carotid_env.raw.lzo", "lzop/carotid_doppler_lzop5F.tar",
                                     "carotid_2019_metadata", "wirephantom_2019_metadata"])
def test_info_on_every_kind_of_fixture(clarius_data, fixture):
    result = run("info", "--json", clarius_data / fixture)
    report = json.loads(result.stdout)
    (info,) = report.values()
    assert info["format"] == "clarius-raw"
    for stream in info["streams"].values():
        assert stream["n_frames"] >= 1 and stream["geometry"]["sampling_frequency_hz"] > 0
    assert "stream" in run("info", clarius_data / fixture).stdout


def test_info_json_content(clarius_data):
    info = json.loads(run("info", "--json", clarius_data / "carotid_2019_metadata").stdout)
    (recording,) = info.values()
    rf = recording["streams"]["rf"]
    assert rf["frame_shape"] == [192, 3120] and rf["dtype"] == "int16" and rf["has_frames"] is False
    assert rf["parameters"]["sampling_rate"] == {"value": 60e6, "unit": "Hz"}
    assert recording["signals"]["imu"]["channels"]["gyroscope"] == [84, 3]


@pytest.mark.parametrize("args, message", [
    (["info", "/no/such/path"], "no such file or folder"),
    (["info", "{shared}/data/clarius/MANIFEST.md"], "no supported recording"),
    (["info", "--probe", "L99", "{shared}/data/clarius/carotid_doppler_2020"], "unknown Clarius probe"),
])
def test_user_errors_are_one_line_without_traceback(clarius_data, args, message):
    shared = clarius_data.parents[1]
    result = run(*[a.format(shared=shared) for a in args], check=False)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_truncated_input_exit_code_and_option(tmp_path, clarius_data):
    data = (clarius_data / "carotid_doppler_2020/carotid_env.raw").read_bytes()
    (tmp_path / "carotid_env.raw").write_bytes(data[:-10])
    (tmp_path / "carotid_env.yml").write_bytes((clarius_data / "carotid_doppler_2020/carotid_env.yml").read_bytes())
    result = run("info", tmp_path, check=False)
    assert result.returncode == 1 and "truncated" in result.stderr and "--allow-truncated" in result.stderr


def test_help_everywhere():
    for command in ([], ["info"], ["preview"], ["unpack"]):
        assert "usage: sonobridge" in run(*command, "--help").stdout
    assert run(check=False).returncode == 2


def test_preview_main_job_on_examples(tmp_path):
    result = run("preview", EXAMPLES, "--out-dir", tmp_path, "--json", "-q")
    written = json.loads(result.stdout)
    assert len(written) == 2
    for entry in written.values():
        assert json.loads(open(entry["summary"]).read())["streams"]["env"]["n_frames"] == 1
        assert set(entry["previews"]) == {"env", "iq"}
        for png in entry["previews"].values():
            assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*partial"))


def test_unpack_command(tmp_path, clarius_data):
    result = run("unpack", clarius_data / "lzop/carotid_doppler_lzop5F.tar", "--out-dir", tmp_path, "--json")
    assert set(json.loads(result.stdout).values()) == {"built"}
    assert "hit" in run("unpack", clarius_data / "lzop/carotid_doppler_lzop5F.tar", "--out-dir", tmp_path).stdout


def test_one_bad_recording_does_not_stop_the_others(tmp_path, clarius_data):
    good = tmp_path / "good"
    shutil.copytree(clarius_data / "carotid_doppler_2020", good)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x_env.raw").write_bytes(b"\x07" + bytes(40))
    (bad / "x_env.yml").write_text("frames: 1\n")
    result = run("info", "--json", tmp_path, check=False)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert "unknown Clarius stream id 7" in report[f"{bad}:x"]["error"]
    assert report[f"{good}:carotid"]["streams"]["env"]["n_frames"] == 1
