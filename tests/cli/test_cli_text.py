"""What the command line says to a person: failure reasons, help text, flags in hints, no progress
bars in logs, refused output names (issue 20)."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from sonobridge.cli import build_parser
from support import EXAMPLES

SONOBRIDGE = [sys.executable, "-m", "sonobridge.cli"]
#: a plain install without the ``video`` extra: PyAV cannot be imported
WITHOUT_PYAV = [sys.executable, "-c", "import sys; sys.modules['av'] = None; from sonobridge.cli import main; "
                                      "sys.exit(main(sys.argv[1:]))"]


def run(*args, command=SONOBRIDGE, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, **kwargs)


def _helps() -> dict[str, str]:
    """``--help`` of the program and of every command."""
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return {"sonobridge": parser.format_help(), **{name: sub.format_help() for name, sub in commands.choices.items()}}


def test_process_prints_each_failure_with_its_reason_naming_the_missing_extra(tmp_path):
    result = run("process", EXAMPLES, "--out", tmp_path / "out", "-v", command=WITHOUT_PYAV)
    assert result.returncode == 1
    reasons = [line for line in result.stderr.splitlines() if line.startswith("sonobridge: error:")]
    assert len(reasons) == 2, result.stderr                    # one line per failed recording
    for line in reasons:
        assert ": video: " in line and "sonobridge[video]" in line
    assert {line.split()[0] for line in result.stdout.splitlines()[:-1]} == {"error"}


def test_progress_bars_stay_out_of_a_redirected_stderr(tmp_path):
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        result = subprocess.run([*SONOBRIDGE, "process", str(EXAMPLES), "--out", str(tmp_path / "out")],
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert result.returncode == 0, log.read_text()
    assert "\r" not in log.read_bytes().decode()


@pytest.mark.parametrize("name", sorted(_helps()))
def test_every_help_is_plain_text_with_examples(name):
    text = _helps()[name]
    assert "``" not in text and ":func:" not in text and ":class:" not in text
    assert "Examples:\n  sonobridge" in text


@pytest.mark.parametrize("name", ["sonobridge", "preview", "render", "sr"])
def test_help_states_the_frame_numbering(name):
    text = " ".join(_helps()[name].split())
    assert "0-based in the command line" in text and "decode(frame=) are 1-based" in text


def test_hints_name_flags_not_python_keywords(tmp_path, clarius_data):
    capture = clarius_data / "carotid_doppler_2020"
    (tmp_path / "carotid_env.raw").write_bytes((capture / "carotid_env.raw").read_bytes()[:-10])
    (tmp_path / "carotid_env.yml").write_bytes((capture / "carotid_env.yml").read_bytes())
    result = run("info", tmp_path)
    assert result.returncode == 1 and "truncated" in result.stderr
    assert "use --allow-truncated" in result.stderr and "allow_truncated=True" not in result.stderr
    assert run("info", "--allow-truncated", "-q", tmp_path).returncode == 0


@pytest.mark.parametrize("name", ["out.txt", "out", "out.mp4"])
def test_convert_refuses_an_output_name_no_writer_makes(tmp_path, name):
    result = run("convert", EXAMPLES / "carotid_doppler_2020", tmp_path / name)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert name in line and "*.hdf5" in line and "*.dcm" in line
    assert list(tmp_path.iterdir()) == []
