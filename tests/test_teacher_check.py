"""A run checked by a second engine along the way (``check_with``): the verdict per check,
a warning once past the threshold, and a resume that gives the same table."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

SPEC = """
[system]
build = "ag13"
[calculator]
name = "emt"
{check}
[md]
timestep_fs = 5.0
seed = 3
stride_fs = 10
checkpoint_ps = 0.05
[[stages]]
name = "hot"
thermostat = "langevin"
temperature_K = 600
duration_ps = 0.2
"""


def run(tmp_path, check, name="run"):
    (tmp_path / f"{name}.toml").write_text(SPEC.format(check=check))
    result = subprocess.run([sys.executable, "-m", "mdkit", "run", f"{name}.toml",
                             "--no-analyze"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    with (tmp_path / name / "teacher_check.csv").open() as handle:
        return list(csv.DictReader(handle)), result.stderr


def test_same_physics_agrees_and_does_not_warn(tmp_path):
    # ASE's own EMT checks asap3's: the same potential, two implementations
    rows, stderr = run(tmp_path, 'check_with = {name = "python", factory = '
                                 '"ase.calculators.emt:EMT"}\ncheck_every_ps = 0.05')
    assert [float(r["time_ps"]) for r in rows] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert max(float(r["force_mae_eV_per_A"]) for r in rows) < 1e-3
    assert "warning" not in stderr


def test_a_different_potential_is_caught_once(tmp_path):
    from ase.calculators.lj import LennardJones
    from asap3 import EMT

    rows, stderr = run(tmp_path, 'check_with = {name = "python", factory = '
                                 '"ase.calculators.lj:LennardJones", sigma = 2.6, epsilon = 0.3,'
                                 ' rc = 6.0}\ncheck_every_ps = 0.1\n'
                                 'check_force_mae_eV_per_A = 0.05')
    assert stderr.count("warning:") == 1 and "left the region" in stderr
    # the recorded error is the one computed independently on the stored frame
    import mdkit
    from ase.io import read

    universe = mdkit.open_run(tmp_path / "run")
    universe.trajectory[10]  # 0.1 ps at a frame every 10 fs
    frame = read(tmp_path / "run" / "topology.xyz")
    frame.positions = universe.atoms.positions
    a, b = frame.copy(), frame.copy()
    a.center(vacuum=10.0)
    a.calc = EMT()
    b.calc = LennardJones(sigma=2.6, epsilon=0.3, rc=6.0)
    mae = np.abs(a.get_forces() - b.get_forces()).mean()
    row = next(r for r in rows if float(r["time_ps"]) == pytest.approx(0.1))
    assert float(row["force_mae_eV_per_A"]) == pytest.approx(mae, rel=1e-4)


def test_check_keys_are_validated(tmp_path):
    (tmp_path / "bad.toml").write_text(SPEC.format(check='check_with = "nosuch"'))
    result = subprocess.run([sys.executable, "-m", "mdkit", "run", "bad.toml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "check_with 'nosuch' is not one of" in result.stderr
    (tmp_path / "bad.toml").write_text(SPEC.format(check='check_with = "emt"\n'
                                                         'check_every_ps = 0.013'))
    result = subprocess.run([sys.executable, "-m", "mdkit", "run", "bad.toml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "whole multiple of stride_fs" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_a_killed_run_resumes_to_the_same_table(tmp_path):
    import signal
    import time

    check = ('check_with = {name = "python", factory = "ase.calculators.emt:EMT"}\n'
             'check_every_ps = 0.05')
    long = SPEC.replace("duration_ps = 0.2", "duration_ps = 3.0")
    (tmp_path / "whole.toml").write_text(long.format(check=check))
    (tmp_path / "killed.toml").write_text(long.format(check=check))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "mdkit", "run", "whole.toml", "--no-analyze"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "mdkit", "run", "killed.toml",
                                "--no-analyze"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    table = tmp_path / "killed" / "teacher_check.csv"
    started = time.monotonic()
    while not (table.exists() and table.read_text().count("\n") > 8):
        assert process.poll() is None and time.monotonic() - started < 120
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    subprocess.run([sys.executable, "-m", "mdkit", "run", "killed.toml", "--no-analyze"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    whole = (tmp_path / "whole" / "teacher_check.csv").read_text()
    assert table.read_text() == whole and whole.count("\n") == 62  # header + 61 checks


def test_the_report_states_the_teachers_verdict_and_its_warning(tmp_path):
    rows, _ = run(tmp_path, 'check_with = {name = "python", factory = '
                            '"ase.calculators.lj:LennardJones", sigma = 2.6, epsilon = 0.3,'
                            ' rc = 6.0}\ncheck_every_ps = 0.1\ncheck_force_mae_eV_per_A = 0.05')
    for command in (["analyze", "run"], ["report", "run", "-o", "page.html"]):
        result = subprocess.run([sys.executable, "-m", "mdkit", *command], cwd=tmp_path,
                                capture_output=True, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr
    page = (tmp_path / "page.html").read_text()
    mae = [float(r["force_mae_eV_per_A"]) for r in rows]
    assert f"over {len(rows)} frames" in page
    assert f"mean absolute {np.mean(mae):.3f} eV/Å" in page
    assert "Warning: at 0.00 ps the forces differ" in page or "Warning: at 0.10 ps" in page
