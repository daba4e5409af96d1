"""Print pip pins of the lowest versions pyproject.toml allows for the core dependencies.

`.ci/floors` installs exactly these into a fresh virtual environment and runs the
tests that use the APIs the floors are there for, so a floor that is not true fails CI.
"""

import re
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*", requirement)
    if not match:
        raise SystemExit(f"pyproject.toml: {requirement!r} has no >= floor to pin")
    name, extras, floor = match.groups()
    print(f"{name}{extras or ''}=={floor}")
print("pytest>=8")
