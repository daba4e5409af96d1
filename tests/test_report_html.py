"""The HTML report opened in a real headless browser (Debian's chromium, driven by
playwright): no console errors, no network request, a non-blank 3-D viewer that
changes when scrubbed to the last frame.  Screenshots are kept in tests/artefacts/.
"""

import csv
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from mdkit import ensemble
from mdkit.analysis import html_report
from mdkit.analysis.report import analyze_member, analyze_run
from mdkit.md import run
from mdkit.protocol import load_spec

ARTEFACTS = Path(__file__).parent / "artefacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# software WebGL: the CI machine has no GPU
BROWSER_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="module")
def analysed(hollow_ag12_run, tmp_path_factory):
    """Two analysed hollow-Ag12 EMT runs (the second a different seed)."""
    first = hollow_ag12_run(tmp_path_factory.mktemp("a"))
    spec = first.parent / "run.toml"
    other = tmp_path_factory.mktemp("b") / "run.toml"
    other.write_text(spec.read_text().replace("seed = 1", "seed = 2"))
    second = run(load_spec(other), progress=False)
    for folder in (first, second):
        analyze_run(folder, formats=("png",), progress=False)
    return first, second


def open_page(path: Path, screenshot: str):
    """Load ``path`` in chromium; returns console/page errors, requested URLs, the
    viewers' screenshots before and after scrubbing each to its last frame, and the
    time labels after."""
    from playwright.sync_api import sync_playwright

    errors, requests, before, after, labels = [], [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.mdkitViewers && window.mdkitViewers.length > 0")
        n = page.evaluate("window.mdkitViewers.length")
        page.wait_for_timeout(300)
        for k in range(n):
            before.append(imread(io.BytesIO(page.locator(f"#viewer{k}").screenshot())))
            page.evaluate(f"""() => {{ const s = document.getElementById('scrub{k}');
                s.value = s.max; s.dispatchEvent(new Event('input')); }}""")
        page.wait_for_timeout(300)
        for k in range(n):
            after.append(imread(io.BytesIO(page.locator(f"#viewer{k}").screenshot())))
            labels.append(page.evaluate(f"document.getElementById('time{k}').textContent"))
        ARTEFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTEFACTS / screenshot, full_page=True)
        browser.close()
    return errors, requests, before, after, labels


def blue_pixels(image):
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return ((b > 0.4) & (b > r + 0.2) & (b > g + 0.15)).sum()


def test_run_report_in_a_browser(red_mask, analysed):
    folder = analysed[0]
    page = folder / "analysis" / "report.html"
    text = page.read_text()
    summary = json.loads((folder / "analysis" / "summary.json").read_text())
    assert summary["first_core_to_shell_ps"] is not None  # the hollow centre filled
    assert summary["statement"] in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing to fetch
    data = json.loads(re.search(r'<script id="mdkit-data" type="application/json">(.*?)'
                                r"</script>", text, re.S).group(1))
    frames = data[0]["frames"]
    # the vacancy follows the occupancy analysis: the centre site first, not at the end
    centre = folder / "sites.json"
    centre_xyz = np.array(json.loads(centre.read_text())["sites"][0]["position"])
    assert np.allclose(frames[0]["vacant"], [centre_xyz], atol=1e-3)
    assert not any(np.allclose(v, centre_xyz, atol=1e-3) for v in frames[-1]["vacant"])
    assert data[0]["marked"] == sorted({e["atom"] for e in summary["events"]})

    errors, requests, before, after, labels = open_page(page, "report_run.png")
    assert errors == []
    assert requests == [page.resolve().as_uri()]  # the page itself, nothing else
    image = before[0][..., :3]
    assert image.std() > 0.05 and blue_pixels(image) > 500  # the Ag atoms, drawn blue
    assert red_mask(image, structure_only=False).sum() > 20  # the vacant centre's red sphere
    changed = np.abs(after[0][..., :3] - image).max(axis=2) > 0.1
    assert changed.mean() > 0.01  # scrubbing to the last frame redraws the cluster
    assert labels[0].startswith(f"{frames[-1]['time_ps']:.2f} ps")


def test_several_runs_side_by_side_and_foreign_file_kept(analysed, tmp_path):
    out = tmp_path / "compare.html"
    out.write_text("not mine")
    from mdkit.writer import OutputError

    with pytest.raises(OutputError, match="was not written by mdkit"):
        html_report.report(analysed, out)
    assert out.read_text() == "not mine"
    out.unlink()
    html_report.report(analysed, out)
    errors, requests, before, after, labels = open_page(out, "report_compare.png")
    assert errors == [] and requests == [out.resolve().as_uri()]
    assert len(before) == 2
    for image in before:
        assert blue_pixels(image[..., :3]) > 500
    html_report.report(analysed, out)  # its own page it may replace


def test_sweep_page_links_member_reports(hollow_ag12_run, tmp_path):
    spec = hollow_ag12_run(tmp_path / "base").parent / "run.toml"
    sweep = ensemble.expand(spec, {}, [1, 2], tmp_path / "sweep")
    for member in sorted((sweep / "members").glob("*.toml")):
        folder = run(load_spec(member), progress=False)
        analyze_member(folder)
        assert not (folder / "analysis" / "report.html").exists()  # members: tables only
    page = html_report.sweep_report(sweep)
    text = page.read_text()
    links = re.findall(r'href="([^"]+)"', text)
    assert len(links) == 2
    for link in links:
        target = (page.parent / link).resolve()
        assert target.name == "report.html" and target.exists()
        assert 'content="mdkit report"' in target.read_text()[:600]
    for row in re.findall(r"<tr><td>(seed-\d)</td><td>finished</td><td>([\d.]*)</td>", text):
        summary = json.loads((sweep / "members" / row[0] / "analysis" / "summary.json")
                             .read_text())
        first = summary["first_core_to_shell_ps"]
        assert row[1] == ("" if first is None else f"{first:.2f}")
    assert "survival curve" in text


def test_iso1_ligands_and_hydrogen_toggle(tmp_path):
    """A few femtoseconds of real GFN-FF Iso1: the page shows the ligands' S and C, hides
    H until the box is ticked, and circles the vacant centre in the viewer's data."""
    from playwright.sync_api import sync_playwright

    spec = tmp_path / "iso1.toml"
    spec.write_text("""
[system]
build = "ag28"
vacancy = "center"
[calculator]
name = "gfnff"
[md]
timestep_fs = 1.0
stride_fs = 2
checkpoint_ps = 0.006
[[stages]]
thermostat = "langevin"
temperature_K = 290
duration_ps = 0.006
""")
    folder = run(load_spec(spec), progress=False)
    analyze_run(folder, formats=("png",), progress=False)
    page = folder / "analysis" / "report.html"
    text = page.read_text()
    for key in ("centre + icosahedral shell", "staple", "tetrahedral", ">S<", ">C<"):
        assert key in text, key
    assert ">H<" not in text  # no legend entry for hidden H
    errors, shots = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        view = browser.new_page(viewport={"width": 900, "height": 800})
        view.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
        view.on("pageerror", lambda e: errors.append(str(e)))
        view.goto(page.resolve().as_uri())
        view.wait_for_function("window.mdkitViewers && window.mdkitViewers.length > 0")
        view.wait_for_timeout(300)
        shots.append(imread(io.BytesIO(view.locator("#viewer0").screenshot()))[..., :3])
        view.check("#hydrogen0")
        view.wait_for_timeout(300)
        shots.append(imread(io.BytesIO(view.locator("#viewer0").screenshot()))[..., :3])
        ARTEFACTS.mkdir(exist_ok=True)
        view.screenshot(path=ARTEFACTS / "report_iso1_hydrogen.png")
        browser.close()
    assert errors == []
    yellow = [((s[..., 0] > 0.6) & (s[..., 1] > 0.5) & (s[..., 2] < 0.3)).sum() for s in shots]
    assert yellow[0] > 200  # S atoms drawn yellow
    white = [((s.min(axis=2) > 0.85) & (s.max(axis=2) < 0.97)).sum() for s in shots]
    changed = (np.abs(shots[1] - shots[0]).max(axis=2) > 0.1).mean()
    assert changed > 0.005  # ticking H adds the hydrogens
    assert white[1] > white[0]  # shaded white spheres: H in ASE's colour


def test_command_line_report_and_figure(mdkit, analysed, tmp_path):
    first, second = analysed
    ccs = mdkit("ccs", first, "--method", "pa", "--gas", "He", "--every", "0.8ps", "--quiet",
                cwd=tmp_path)
    assert ccs.returncode == 0, ccs.stderr
    done = mdkit("report", first, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(str(first / "analysis" / "report.html"))
    text = (first / "analysis" / "report.html").read_text()
    with (first / "analysis" / "ccs.csv").open() as handle:
        values = [float(r["ccs_A2"]) for r in csv.DictReader(handle)]
    assert f"CCS {np.mean(values):.1f} ± {np.std(values):.1f} Å² over {len(values)} snapshots" \
        in text
    assert 'alt="CCS and Rg against time"' in text
    both = mdkit("report", first, second, cwd=tmp_path)
    assert both.returncode == 2 and "-o" in both.stderr and "Traceback" not in both.stderr
    both = mdkit("report", first, second, "-o", "both.html", cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    assert (tmp_path / "both.html").read_text().count('class="viewer"') == 2
    figure = mdkit("figure", first, "--at", "0", "--at", "1ps", "-o", "f4", "--formats",
                   "png,pdf", "--dpi", "80", cwd=tmp_path)
    assert figure.returncode == 0, figure.stderr
    image = imread(tmp_path / "f4.png")
    assert image.shape[1] == round(7.0 * 80)  # the page width at the asked resolution
    assert (tmp_path / "f4.pdf").read_bytes().startswith(b"%PDF")
    missing = mdkit("figure", tmp_path / "nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
