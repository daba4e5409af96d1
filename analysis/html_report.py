"""One self-contained HTML page for one or more runs, or for a sweep.

A run's section has its summary sentence, Rg (and CCS, when ``ccs.csv``
exists) against time, the occupancy chart, the events table, the Figure-4
panel and a 3-D viewer of the trajectory (3Dmol.js, vendored in
``analysis/vendor/`` at version :data:`THREEDMOL_VERSION` with its BSD
licence): play, pause, scrub, the study's colour code, red wire spheres on the
vacant sites following the vacancy, the migrating atoms in black wire, and an
H toggle.  Several runs sit side by side.  A sweep gets the survival curve,
the first-event time of every member and links to the members' own reports.

Everything (script, figures as PNG data, frames as JSON) is inside the file,
so it opens without a network.  The page is written under a temporary name
and renamed; a file of the same name that mdkit did not write is never
replaced.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
from matplotlib.colors import to_hex

from mdkit import writer
from mdkit.errors import MdkitError
from mdkit.runfolder import TEACHER_CHECK, RunFolder, SweepFolder, is_own_output

from . import draw

THREEDMOL_VERSION = "2.5.5"
GENERATOR = "mdkit report"
#: Most frames the viewer carries; longer runs are thinned evenly.
VIEWER_FRAMES = 150


class ReportError(MdkitError):
    """A report that cannot be written."""


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def _image(path: Path, alt: str) -> str:
    if not Path(path).exists():
        return ""
    return f'<figure><img src="{_png(path)}" alt="{html.escape(alt)}"></figure>'


def viewer_data(frames: draw.RunFrames, max_frames: int = VIEWER_FRAMES) -> dict:
    """Frames for the 3-D viewer: aligned positions (Å), colour indices, vacant sites.

    Parameters
    ----------
    frames : RunFrames
    max_frames : int
        At most this many frames, evenly spaced, always with the first and last.
    """
    n = len(frames)
    chosen = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    palette, per_frame = [], []
    for frame in chosen:
        colours = [to_hex(c) for c in draw.atom_colours(frames.symbols, frames.classes(frame))]
        for c in colours:
            if c not in palette:
                palette.append(c)
        per_frame.append([palette.index(c) for c in colours])
    radii = draw.RADIUS_FRACTION * np.array([_covalent(s) for s in frames.symbols])
    return {"symbols": frames.symbols, "radii": np.round(radii, 3).tolist(),
            "palette": palette, "marked": sorted({e["atom"] for e in frames.events}),
            "frames": [{"time_ps": round(float(frames.times[f]), 4),
                        "stage": str(frames.stage_names[f]),
                        "xyz": np.round(frames.positions(f), 3).tolist(),
                        "colours": colours,
                        "vacant": np.round(frames.sites.positions[frames.vacant_sites(f)],
                                           3).tolist()}
                       for f, colours in zip(chosen, per_frame)]}


def _covalent(symbol: str) -> float:
    from ase.data import atomic_numbers, covalent_radii

    return float(covalent_radii[atomic_numbers[symbol]])


def _events_table(events: list[dict]) -> str:
    if not events:
        return "<p>No confirmed site change.</p>"
    head = ("time / ps", "kind", "atom", "from", "to", "vacancy before", "vacancy after")
    rows = "".join(
        f"<tr><td>{e['time_ps']:.3f}</td><td>{html.escape(e['kind'])}</td><td>{e['atom']}</td>"
        f"<td>{e['from_site']} ({html.escape(e['from_class'])})</td>"
        f"<td>{e['to_site']} ({html.escape(e['to_class'])})</td>"
        f"<td>{html.escape(e['vacancy_before'])}</td><td>{html.escape(e['vacancy_after'])}</td>"
        "</tr>" for e in events)
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) +
            f"</tr></thead><tbody>{rows}</tbody></table>")


def _legend(data: dict, symbols) -> str:
    entries = draw.legend_entries(draw.Scene(symbols, np.zeros((len(symbols), 3)),
                                             np.array(data["classes"]), np.zeros((0, 3)),
                                             [], np.zeros(3), 1.0))
    items = "".join(f'<span class="key"><i style="background:{to_hex(c)}"></i>'
                    f"{html.escape(label)}</span>" for label, c in entries)
    items += '<span class="key"><i class="ring red"></i>vacant site</span>'
    if data["marked"]:
        items += '<span class="key"><i class="ring black"></i>migrating atom</span>'
    return items


def _teacher_check_text(run: RunFolder) -> str:
    """The teacher's verdict along a run with ``check_with`` (empty for other runs)."""
    rows = run.read_teacher_check()
    if not rows:
        return ""
    meta = run.meta or {}
    mae = [row["force_mae_eV_per_A"] for row in rows]
    worst = rows[int(np.argmax(mae))]
    text = (f"Force error against the checking engine over {len(rows)} frames "
            f"({rows[0]['time_ps']:.2f}-{rows[-1]['time_ps']:.2f} ps): mean absolute "
            f"{np.mean(mae):.3f} eV/Å, worst {worst['force_mae_eV_per_A']:.3f} eV/Å at "
            f"{worst['time_ps']:.2f} ps (table: {TEACHER_CHECK}).")
    warning = meta.get("check_warning")
    return ("<h3>Checked by the teacher</h3><p>" + html.escape(text) + "</p>"
            + (f'<p class="warning">Warning: {html.escape(warning)}</p>' if warning else ""))


def run_section(folder, frames: draw.RunFrames | None = None, index: int = 0,
                label: str | None = None) -> tuple[str, dict]:
    """HTML of one analysed run (headed ``label``, default the folder's name) and the data
    of its viewer."""
    folder = Path(folder)
    label = label or folder.name
    run = RunFolder(folder)
    out, summary_path = run.analysis, run.summary
    if not summary_path.exists():
        raise ReportError(f"{folder} has not been analysed (no {summary_path}); "
                          f"run `mdkit analyze {folder}` first.")
    summary = json.loads(summary_path.read_text())
    frames = frames or draw.RunFrames(folder, summary.get("residence_ps", 0.5))
    data = viewer_data(frames)
    classes = frames.classes(0).tolist()
    ccs = ""
    if (out / "ccs.csv").exists():
        with (out / "ccs.csv").open(newline="") as handle:
            values = [float(r["ccs_A2"]) for r in csv.DictReader(handle)]
        ccs = (f"<h3>CCS and Rg vs time</h3><p>CCS {np.mean(values):.1f} ± "
               f"{np.std(values):.1f} Å² over {len(values)} snapshots.</p>"
               + _image(out / "ccs.png", "CCS and Rg against time"))
    check = _teacher_check_text(run)
    body = f"""
<section class="run">
<h2>{html.escape(label)}</h2>
<p class="summary">{html.escape(summary['statement'])}</p>
<h3>Trajectory</h3>
<div class="viewer" id="viewer{index}"></div>
<div class="controls">
<button type="button" id="play{index}">play</button>
<input type="range" id="scrub{index}" min="0" max="{len(data['frames']) - 1}" value="0">
<label><input type="checkbox" id="hydrogen{index}"> H</label>
<span class="time" id="time{index}"></span>
</div>
<div class="legend">{_legend({"classes": classes, "marked": data["marked"]}, frames.symbols)}</div>
<h3>Radius of gyration vs time</h3>
{_image(out / "rg.png", "radius of gyration against time")}
{ccs}
{check}
<h3>Site occupancy</h3>
{_image(out / "occupancy.png", "site occupancy against time")}
<h3>Events</h3>
{_events_table(summary.get("events", []))}
<h3>Snapshots (Figure 4)</h3>
{_image(out / "figure4.png", "snapshots above the Rg curve")}
</section>"""
    return body, data


def _viewer_script() -> str:
    library = files("mdkit.analysis").joinpath("vendor/3Dmol-min.js").read_text()
    return library.replace("</script", "<\\/script")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="{generator}">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; color: #222; }}
.runs {{ display: grid; grid-template-columns: repeat({columns}, minmax(320px, 1fr)); gap: 1.5em; }}
.viewer {{ width: 100%; height: 360px; position: relative; border: 1px solid #ccc; }}
.controls {{ display: flex; gap: .6em; align-items: center; margin: .4em 0; }}
.controls input[type=range] {{ flex: 1; }}
img {{ max-width: 100%; }}
figure {{ margin: .5em 0; }}
table {{ border-collapse: collapse; font-size: 90%; }}
td, th {{ border: 1px solid #ccc; padding: .2em .5em; text-align: left; }}
.key {{ margin-right: 1em; white-space: nowrap; }}
.key i {{ display: inline-block; width: .9em; height: .9em; border-radius: 50%;
         margin-right: .3em; vertical-align: middle; border: 1px solid #555; }}
.key i.ring {{ background: none; border-width: 2px; }}
.key i.red {{ border-color: #e00000; }} .key i.black {{ border-color: #000; }}
.summary {{ font-size: 110%; }}
.warning {{ color: #a33; }}
</style></head><body>
<h1>{title}</h1>
{top}
<div class="runs">{sections}</div>
<p><small>Written by mdkit {version}; 3D viewer: 3Dmol.js {threedmol} (BSD-3-Clause,
licence in mdkit/analysis/vendor/).</small></p>
<script>{library}</script>
<script id="mdkit-data" type="application/json">{data}</script>
<script>
"use strict";
window.mdkitViewers = [];
const runs = JSON.parse(document.getElementById("mdkit-data").textContent);
runs.forEach(function (run, r) {{
  const element = document.getElementById("viewer" + r);
  const viewer = $3Dmol.createViewer(element, {{ backgroundColor: "white" }});
  const scrub = document.getElementById("scrub" + r);
  const play = document.getElementById("play" + r);
  const hydrogen = document.getElementById("hydrogen" + r);
  const label = document.getElementById("time" + r);
  let current = 0, timer = null, first = true;
  function show(k) {{
    current = k;
    const frame = run.frames[k];
    viewer.removeAllModels();
    viewer.removeAllShapes();
    const lines = [String(run.symbols.length), "frame " + k];
    frame.xyz.forEach(function (p, i) {{ lines.push(run.symbols[i] + " " + p.join(" ")); }});
    const model = viewer.addModel(lines.join("\\n"), "xyz", {{ assignBonds: false }});
    frame.colours.forEach(function (c, i) {{
      model.setStyle({{ serial: i }}, {{ sphere: {{ color: run.palette[c], radius: run.radii[i] }} }});
    }});
    if (!hydrogen.checked) model.setStyle({{ elem: "H" }}, {{}});
    frame.vacant.forEach(function (p) {{
      viewer.addSphere({{ center: {{ x: p[0], y: p[1], z: p[2] }}, radius: 1.3,
                         color: "#e00000", wireframe: true }});
    }});
    run.marked.forEach(function (i) {{
      const p = frame.xyz[i];
      viewer.addSphere({{ center: {{ x: p[0], y: p[1], z: p[2] }},
                         radius: 1.3 * run.radii[i], color: "black", wireframe: true }});
    }});
    if (first) {{ viewer.zoomTo(); first = false; }}
    viewer.render();
    scrub.value = k;
    label.textContent = frame.time_ps.toFixed(2) + " ps, " + frame.stage;
  }}
  function stop() {{ clearInterval(timer); timer = null; play.textContent = "play"; }}
  play.addEventListener("click", function () {{
    if (timer) {{ stop(); return; }}
    play.textContent = "pause";
    timer = setInterval(function () {{
      if (current >= run.frames.length - 1) {{ stop(); return; }}
      show(current + 1);
    }}, 80);
  }});
  scrub.addEventListener("input", function () {{ show(Number(scrub.value)); }});
  hydrogen.addEventListener("change", function () {{ show(current); }});
  show(0);
  window.mdkitViewers.push({{ show: show, frames: run.frames.length, viewer: viewer }});
}});
</script>
</body></html>
"""


def _is_mdkits_page(path: Path) -> bool:
    """A run's own page, or a page that carries mdkit report's generator tag."""
    if is_own_output(path):
        return True
    try:
        with open(path, errors="replace") as handle:
            return f'content="{GENERATOR}"' in handle.read(600)
    except OSError:
        return False


def claim_page(output, force: bool = False) -> None:
    """Refuse (or with ``force`` move aside) a page ``output`` that mdkit did not write;
    call it before any work that the page would show."""
    if not _is_mdkits_page(Path(output)):
        writer.claim(output, force=force)


def write_page(output, title: str, sections: list[str], data: list[dict], top: str = "",
               force: bool = False) -> Path:
    """Write the page whole (temporary name, then rename); a file mdkit did not write is
    refused, or with ``force`` moved aside (never deleted)."""
    from mdkit import __version__

    output = Path(output)
    page = PAGE.format(generator=GENERATOR, title=html.escape(title), top=top,
                       columns=max(1, len(sections)), sections="".join(sections),
                       version=__version__, threedmol=THREEDMOL_VERSION,
                       library=_viewer_script(),
                       data=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"))
    with writer.output_path(output, force=force, mine=_is_mdkits_page) as tmp:
        tmp.write_text(page)
    return output


def report(folders, output=None, frames: list | None = None, force: bool = False) -> Path:
    """The page of one or more analysed runs (side by side).

    Parameters
    ----------
    folders : sequence of path
        Run folders, each analysed (``analysis/summary.json``).
    output : path, optional
        Default ``RUN/analysis/report.html`` for one run; needed for several.
    frames : list of RunFrames, optional
        Already loaded frames of the runs (saves re-reading them).
    force : bool
        Move a file ``output`` that mdkit did not write aside (never deleted).
    """
    folders = [Path(f) for f in folders]
    if output is None:
        if len(folders) > 1:
            raise ReportError("several runs go on one page: name it with -o, e.g. "
                              "-o compare.html.")
        output = RunFolder(folders[0]).report
    names = [f.name for f in folders]
    if len(set(names)) < len(names):  # e.g. several runs/*/run: name them by their parent too
        names = [f"{f.parent.name}/{f.name}" for f in folders]
    sections, data = [], []
    for k, (folder, name) in enumerate(zip(folders, names)):
        body, viewer = run_section(folder, frames[k] if frames else None, k, name)
        sections.append(body)
        data.append(viewer)
    title = " vs ".join(names)
    return write_page(output, f"mdkit report: {title}", sections, data, force=force)


def sweep_report(folder) -> Path:
    """``SWEEP/analysis/report.html``: survival curve, first-event times, member links.

    Members that are analysed get their own report first.
    """
    from mdkit.store import sweep_members

    from .ensemble import analyze_sweep, member_table

    folder = Path(folder)
    out = SweepFolder(folder).analysis
    if not (out / "survival.png").exists():
        analyze_sweep(folder, ("png",))
    rows = member_table(folder)
    links = {}
    for member in sweep_members(folder):
        member_folder = Path(member["folder"])
        if RunFolder(member_folder).summary.exists():
            page = report([member_folder])
            links[member["name"]] = page.relative_to(out.parent).as_posix()
    head = ["member", "status", "first core-to-shell / ps", "duration / ps", "report"]
    cells = []
    for row in rows:
        first, duration = row.get("first_core_to_shell_ps"), row.get("duration_ps")
        link = (f'<a href="../{links[row["name"]]}">report</a>' if row["name"] in links
                else "")
        cells.append([html.escape(row["name"]), html.escape(row["status"]),
                      "" if first is None else f"{first:.2f}",
                      "" if duration is None else f"{duration:.2f}", link])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    top = ("<h2>Ensemble</h2>" + _image(out / "survival.png", "survival curve") +
           _image(out / "rg.png", "mean Rg per group") +
           "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) +
           f"</tr></thead><tbody>{body}</tbody></table>")
    return write_page(SweepFolder(folder).report, f"mdkit report: sweep {folder.name}", [],
                      [], top)


def run_report(folder, formats=("png", "pdf"), progress: bool | None = None) -> Path:
    """The Figure-4 panel (``analysis/figure4.*``) and ``analysis/report.html`` of an
    analysed run, with progress over the snapshots on stderr.

    Parameters
    ----------
    folder : path
        An analysed run folder (``mdkit analyze``).
    formats : sequence of str
        Formats of the panel; PNG is always written, for the page.
    progress : bool, optional
        None: a bar on a terminal, lines elsewhere; False: silent.
    """
    from mdkit.progress import ItemProgress

    from .figure import figure4, snapshot_frames

    folder = Path(folder)
    run = RunFolder(folder)
    out = run.analysis
    summary = json.loads(run.summary.read_text())
    frames = draw.RunFrames(folder, summary.get("residence_ps", 0.5))
    with (out / "rg.csv").open(newline="") as handle:
        rg = np.array([float(r["rg_ion"]) for r in csv.DictReader(handle)])
    n = len(snapshot_frames(frames.times, frames.events))
    with ItemProgress(f"mdkit analyze: {folder.name}", "snapshots drawn", n, progress) as bar:
        figure4(frames, rg, out / "figure4", formats=tuple(dict.fromkeys(("png", *formats))),
                progress=bar.advance)
    return report([folder], frames=[frames])
