#!/usr/bin/env bash
# Installs sonobridge into ./.venv. "setup.sh test" also installs the test tools (pytest, zea,
# datanavigator, telemed, OpenCV; Debian's lzop to make real lzop files of every variant and
# Debian's ffmpeg/ffprobe to check our videos, dicom3tools' dciodvfy to validate our DICOM).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-main}"
python="${PYTHON:-python3}"

apt_install() {  # install Debian packages when we can (root + apt) and they are missing
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup: please install: $*" >&2
  fi
}

if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then apt_install python3-venv; fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ "$mode" = test ]; then
  command -v lzop >/dev/null || apt_install lzop
  command -v ffprobe >/dev/null || apt_install ffmpeg   # real ffmpeg/ffprobe check our videos
  command -v dciodvfy >/dev/null || apt_install dicom3tools   # validates the DICOM we write
  command -v chromium >/dev/null || apt_install chromium   # renders the HTML report in a test
  [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || apt_install orthanc orthanc-dicomweb   # a real PACS
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
else
  .venv/bin/python -m pip install -q --disable-pip-version-check '.[video,dicom,report,fast]'   # fast: numba scan conversion
fi
