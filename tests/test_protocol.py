"""Run-spec validation: every mistake is one sentence naming the file and key, fast."""

import subprocess
import sys
import time

import pytest

from mdkit.protocol import RunSpecError, load_spec

GOOD = """
[system]
build = "ag55"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 1
stride_fs = 10
checkpoint_ps = 0.1
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 290
duration_ps = 0.2
[[stages]]
name = "cool"
thermostat = "langevin"
temperature_K = [290, 50]
duration_ps = 0.2
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_spec_resolves(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.folder == tmp_path / "spec"
    assert spec.stride == 5 and spec.checkpoint_interval == 50 and spec.total_steps == 200
    assert spec.stages[1].temperature_K == (290.0, 50.0)
    assert spec.stages[0].coupling == 10.0  # default Langevin friction, per ps


@pytest.mark.parametrize("change, words", [
    (("timestep_fs = 2.0", "timestep = 2.0"), "[md] has unknown key 'timestep'; valid keys: timestep_fs"),
    (("temperature_K = 290\n", "temperature_K = -290\n"), "stage 1 (heat) temperature_K must be >= 0, got -290"),
    (('thermostat = "langevin"', 'thermostat = "andersen"'), "thermostat 'andersen' is not one of langevin, bussi, nose-hoover, berendsen, nve"),
    (('build = "ag55"', 'file = "missing.xyz"'), "[system] file 'missing.xyz' does not exist"),
    (('name = "emt"', 'name = "vasp"'), "[calculator] name 'vasp' is not one of gfnff, xtb, emt, gpaw"),
    (("stride_fs = 10", "stride_fs = 3"), "stride_fs (3) must be a whole multiple of timestep_fs (2.0)"),
    (("duration_ps = 0.2\n[[stages]]", "duration_ps = 0.205\n[[stages]]"), "duration_ps (0.205) must be a whole multiple of stride_fs"),
    (('thermostat = "langevin"\ntemperature_K = [290, 50]', 'thermostat = "bussi"\ntemperature_K = [290, 50]'), "cannot ramp; use one of langevin, berendsen"),
    (("duration_ps = 0.2\n[[stages]]", "duration_ps = 0.2\ntaut_fs = 50\n[[stages]]"), "taut_fs does not apply to thermostat langevin; it takes friction_per_ps"),
    (("seed = 1", "seed = 1.5"), "seed must be an integer, got 1.5"),
    (("[md]", "[mdd]"), "the file has unknown key 'mdd'"),
    (("[system]", "[system\n"), "is not valid TOML"),
])
def test_bad_specs_fail_fast_with_one_sentence(tmp_path, change, words):
    path = write(tmp_path, GOOD.replace(*change, 1))
    started = time.perf_counter()
    with pytest.raises(RunSpecError) as err:
        load_spec(path)
    assert time.perf_counter() - started < 1.0
    message = str(err.value)
    assert message.startswith(str(path)) and words in message
    assert "\n" not in message


def test_cli_reports_spec_errors_with_exit_2_quickly(tmp_path):
    path = write(tmp_path, GOOD.replace('thermostat = "langevin"', 'thermostat = "andersen"', 1))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mdkit", "run", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "thermostat 'andersen' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "spec").exists()  # nothing written for a bad spec
    # the whole process, Python start-up included, stays interactive
    assert time.perf_counter() - started < 5.0


def test_shipped_specs_are_valid():
    from pathlib import Path

    import tomllib

    from mdkit.training import load_train_spec

    runs = Path(__file__).parents[1] / "runs"
    training = {p for p in runs.glob("*.toml") if "teacher" in tomllib.loads(p.read_text())}
    specs = {path.stem: load_spec(path) for path in sorted(set(runs.glob("*.toml")) - training)}
    assert len(specs) >= 6
    # training specs are read by mdkit train; each holds out whole trajectories
    for path in training:
        spec = load_train_spec(path)
        roles = {t["role"] for t in spec.trajectories()}
        assert roles == {"train", "valid", "test"}
    # the study's protocol: 3 ps thermalisation ... 2 ps annealing, 12 ps in all
    for name in ("ag28_iso1_gfnff", "ag28_iso3_gfnff", "ag28_iso1_gpaw", "ag28_iso3_gpaw",
                 "ag28_iso1_sevennet_full", "ag28_iso3_sevennet", "ag28_iso1_mace"):
        spec = specs[name]
        assert sum(s.duration_ps for s in spec.stages) == pytest.approx(12.0)
        assert spec.stages[0].duration_ps == 3.0 and spec.stages[-1].duration_ps == 2.0
    # the main job: the thermalisation window at 290 K, 2 fs with 4-amu H
    main = specs["ag28_iso1_sevennet"]
    assert [s.temperature_K for s in main.stages] == [(290.0, 290.0)]
    assert main.timestep_fs == 2.0 and main.hydrogen_mass_amu == 4.0


# --------------------------------- a new thermostat or engine entry needs no other code
def test_a_new_thermostat_entry_is_validated_from_its_fields(tmp_path, monkeypatch):
    from dataclasses import replace

    from mdkit.thermostats import THERMOSTATS

    monkeypatch.setitem(THERMOSTATS, "free", replace(THERMOSTATS["nve"]))
    monkeypatch.setitem(THERMOSTATS, "slow", replace(THERMOSTATS["bussi"], key="tau_ps",
                                                     default=0.5, rampable=True))
    free = GOOD.replace('thermostat = "langevin"\ntemperature_K = [290, 50]',
                        'thermostat = "free"')
    assert load_spec(write(tmp_path, free)).stages[1].temperature_K is None
    with pytest.raises(RunSpecError, match="uses free, which holds no temperature"):
        load_spec(write(tmp_path, GOOD.replace('"langevin"\ntemperature_K = [290',
                                               '"free"\ntemperature_K = [290')))
    slow = load_spec(write(tmp_path, GOOD.replace('thermostat = "langevin"\ntemperature_K = [',
                                                  'thermostat = "slow"\ntemperature_K = [')))
    assert slow.stages[1].coupling == 0.5 and slow.stages[1].temperature_K == (290.0, 50.0)
    with pytest.raises(RunSpecError, match="tau_ps does not apply to thermostat langevin; "
                                           "it takes friction_per_ps"):
        load_spec(write(tmp_path, GOOD.replace("duration_ps = 0.2\n", "duration_ps = 0.2\n"
                                               "tau_ps = 1\n", 1)))


def test_model_files_are_taken_from_the_spec_folder(tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for model, expected in (("nets/my.pth", str(folder / "nets" / "my.pth")),
                            ("7net-0", "7net-0"),  # shipped with sevenn: a name, not a file
                            ("/abs/my.pth", "/abs/my.pth")):
        spec = load_spec(write(folder, GOOD.replace('name = "emt"',
                                                    f'name = "sevennet"\nmodel = "{model}"')))
        assert spec.calculator["model"] == expected
    spec = load_spec(write(folder, GOOD.replace('name = "emt"',
                                                'name = "mace"\nmodel = "my.model"')))
    assert spec.calculator["model"] == str(folder / "my.model")
