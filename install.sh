#!/usr/bin/env bash
# Installs mdkit and everything it needs on a fresh Debian machine with Python >= 3.10.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
