#!/usr/bin/env bash
# Installs mdkit with every engine (GFN-FF, GPAW with MPI, tblite, asap3, SevenNet,
# CHGNet, MACE), Dask,
# the database backends and the test tools on a fresh Debian machine with
# Python >= 3.11 (pyproject.toml: mdkit reads its TOML files with tomllib).
set -euo pipefail
cd "$(dirname "$0")"

# GPAW compiles against MPI, libxc and BLAS from Debian; asap3 compiles too;
# PostgreSQL serves the results database when a postgresql:// URL is given.
# POV-Ray renders the structure pictures, ffmpeg encodes movies, and chromium
# opens the HTML report in its test (playwright drives it; it downloads no browser).
packages="build-essential openmpi-bin libopenmpi-dev libxc-dev libopenblas-dev postgresql povray povray-includes chromium ffmpeg"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: please install the Debian packages: $missing (or run as root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[all,test]"
# mace-torch pins e3nn==0.4.4, which SevenNet cannot use; its own dependencies come
# with the [mace] extra above (see pyproject.toml)
python3 -m pip install --quiet --disable-pip-version-check --no-deps "mace-torch==0.3.16"
