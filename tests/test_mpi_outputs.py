"""Under ``mpiexec -n 2`` every output is written by rank 0 alone, whole, and named once.

Each command runs through a small wrapper that logs every ``os.replace``
(the only way :mod:`mdkit.writer` puts a file in place) per rank, so the
test sees who put which file where: rank 1 must put nothing anywhere.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest

from mdkit import writer

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec")

WRAPPER = '''
import os
import sys

from mdkit.cli.main import _mpi_environment, main

_mpi_environment()
from ase.parallel import world

log = open(f"renames.{world.rank}.log", "w")
original = os.replace


def logged(src, dst, *args, **kwargs):
    log.write(os.path.abspath(dst) + "\\n")
    log.flush()
    return original(src, dst, *args, **kwargs)


os.replace = logged
sys.exit(main(sys.argv[1:]))
'''

SPEC = """
[system]
build = "ag13"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 4
stride_fs = 10
checkpoint_ps = 0.02
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 300
duration_ps = 0.06
"""


def mpi_mdkit(cwd: Path, *argv):
    """Run ``mdkit ARGV`` on two ranks; returns (process, renames per rank as lists)."""
    (cwd / "wrap.py").write_text(WRAPPER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    done = subprocess.run(["mpiexec", "-n", "2", "--oversubscribe", sys.executable, "wrap.py",
                           *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    renames = [(cwd / f"renames.{rank}.log").read_text().splitlines() for rank in (0, 1)]
    return done, renames


def no_temporaries(folder: Path):
    left = [p for p in folder.rglob("*") if writer.is_temporary(p)]
    assert not left, left


def test_barrier_on_two_ranks(tmp_path):
    done, (rank0, rank1) = mpi_mdkit(
        tmp_path, "barrier", "ag13", "core-to-shell", "--vacancy", "center", "--calculator",
        "emt", "--attempt-THz", "2", "--db", "r.db", "-o", "out", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert rank1 == [], "rank 1 put files in place"
    out = tmp_path / "out"
    hop = out / "0-1"
    # the finished outputs are put in place exactly once, the band's resume point as it goes
    for path in (hop / "path.xyz", hop / "profile.png", hop / "barrier.json",
                 out / "rates.json"):
        assert rank0.count(str(path)) == 1, path
    assert set(rank0) == {str(p) for p in out.rglob("*") if p.is_file()}
    no_temporaries(tmp_path)
    # whole: every file reads back as what it claims to be
    images = ase.io.read(hop / "path.xyz", ":")
    assert len(images) == 7 and all(len(image) == 12 for image in images)
    assert (hop / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((hop / "barrier.json").read_text())
    energies = np.array(result["energies_eV"])
    assert result["barrier_forward_eV"] == pytest.approx(energies.max() - energies[0])
    rates = json.loads((out / "rates.json").read_text())
    # k = 12 nu exp(-Ea / kT) at 290 K, kB in eV/K (CODATA 2018)
    expected = 12 * 2.0 * np.exp(-result["barrier_forward_eV"] / (8.617333262e-5 * 290.0))
    # ASE's kB (CODATA 2014) differs from 2018 in the sixth digit
    assert rates["waiting"][0]["rate_per_ps"] == pytest.approx(expected, rel=1e-5)


def test_validate_on_two_ranks(tmp_path):
    (tmp_path / "tiny.toml").write_text(SPEC)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "mdkit", "run", "--quiet", "--no-analyze",
                          "tiny.toml"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    folder = tmp_path / "tiny"
    # the reference: ASE's own EMT in Python, through the registry's user-factory engine
    done, (rank0, rank1) = mpi_mdkit(tmp_path, "validate", "tiny", "--against", "python",
                                     "--option", 'factory="ase.calculators.emt:EMT"',
                                     "--frames", "2", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert rank1 == [], "rank 1 put files in place"
    analysis = folder / "analysis"
    outputs = [analysis / f"validation_python.{s}" for s in ("csv", "json", "png")]
    for path in outputs:
        assert rank0.count(str(path)) == 1, path
    no_temporaries(tmp_path)
    summary = json.loads(outputs[1].read_text())
    # asap3's EMT and ASE's own EMT are the same potential: forces agree closely
    assert all(row["max_eV_per_A"] < 0.05 for row in summary["forces"]), summary["forces"]
    header = outputs[0].read_text().splitlines()[0]
    assert "element" in header and "mae_eV_per_A" in header
    assert outputs[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
