"""Lamp types from colour: leave-one-lamp-out accuracy of the lamp classes (issue 14, part 3).

The model of :mod:`cupola.analysis.lamp_colour` is fitted on the synthetic colours of 220 measured
lamp spectra through a Nikon D3S (``cupola/data/lamps/lamp_colours_d3s.csv``). Each lamp (with
its duplicates, :func:`~cupola.analysis.lamp_colour.lamp_groups`) is classified by a model fitted
without it.

* nightlights_lamp_loo_accuracy: fraction of lamps whose class is right when left out (target
  >= 0.95 for each class the camera separates); baseline: the hand-drawn rectangles in the
  (G/R, B/G) plane this model replaced, on the same lamps and the same two classes (their HPS
  box -> sodium/amber, their LED, metal-halide, fluorescent and mercury boxes -> white).

Also printed: the classes found by merging what the camera cannot separate, accuracy per class
and per lamp family, the confusion matrix, the same for the D3, and the old rectangles on their
own five classes. The picture bench-output/lamps/lamp_plane_d3s.png shows the lamps over the
class regions.
"""

from __future__ import annotations

import numpy as np
from common import ROOT, bench_line

OUT = ROOT / "bench-output" / "lamps"

# The rectangles of cupola.analysis.lamp_colour before this model (code, name, [G/R), [B/G)); the
# first match wins; INC and halogen had no box.
OLD_RECTANGLES = (
    (1, "HPS", (0.0, 0.55), (0.0, 0.30)),
    (2, "LED", (0.55, 1.10), (0.55, np.inf)),
    (3, "MH", (0.55, 1.10), (0.25, 0.55)),
    (4, "FL", (1.10, np.inf), (0.0, 0.75)),
    (5, "MV", (1.10, np.inf), (0.75, np.inf)),
)
OLD_CLASS_OF_FAMILY = {"HPS": 1, "LPS": 1, "LED-amber": 1, "LED": 2, "MH": 3, "CMH": 3, "CFL": 4, "FL": 4, "MV": 5}
OLD_TO_NEW = {0: 0, 1: 1, 2: 2, 3: 2, 4: 2, 5: 2}


def old_rectangles(g_r: np.ndarray, b_g: np.ndarray) -> np.ndarray:
    out = np.zeros(len(g_r), int)
    todo = np.ones(len(g_r), bool)
    for code, _, (g0, g1), (b0, b1) in OLD_RECTANGLES:
        hit = todo & (g_r >= g0) & (g_r < g1) & (b_g >= b0) & (b_g < b1)
        out[hit] = code
        todo &= ~hit
    return out


def _truth(table, classes) -> np.ndarray:
    fam = np.array(table.family)
    truth = np.zeros(len(table), int)
    for cl in classes:
        truth[np.isin(fam, cl.families)] = cl.code
    return truth


def _report(camera: str, *, picture: bool) -> tuple[float, float]:
    from cupola.analysis import lamp_colour as colour

    table = colour.read_lamp_table(camera)
    classes = colour.LAMP_CLASSES
    fam = np.array(table.family)
    groups = colour.lamp_groups(table)
    truth = _truth(table, classes)
    pred = colour.leave_one_out(table, classes, groups=groups)
    old = old_rectangles(table.g_r, table.b_g)
    old_new = np.array([OLD_TO_NEW[int(c)] for c in old])
    print(f"# camera {camera}: {len(table)} lamp spectra, {len(set(groups))} independent lamps (groups)", flush=True)
    print(f"# {'class':14s} {'lamps':>5s} {'groups':>6s} {'LOO acc':>8s} {'old rect.':>9s}  families", flush=True)
    for cl in classes:
        m = truth == cl.code
        print(
            f"# {cl.name:14s} {int(m.sum()):5d} {len(set(groups[m])):6d} {np.mean(pred[m] == cl.code):8.3f} "
            f"{np.mean(old_new[m] == cl.code):9.3f}  {', '.join(cl.families)}",
            flush=True,
        )
    names = {0: "unclassified", **{c.code: c.name for c in classes}}
    cols = [c.code for c in classes] + [0]
    print("# confusion (rows: true class, columns: class when left out)", flush=True)
    print("#   " + " " * 14 + "".join(f"{names[c]:>14s}" for c in cols), flush=True)
    for cl in classes:
        m = truth == cl.code
        print("#   " + f"{cl.name:14s}" + "".join(f"{int(np.sum(pred[m] == c)):14d}" for c in cols), flush=True)
    print("# per family (LOO accuracy of its class, lamps):", flush=True)
    print(
        "#   "
        + ", ".join(
            f"{f} {np.mean(pred[fam == f] == truth[fam == f]):.2f} ({int(np.sum(fam == f))})" for f in sorted(set(fam))
        ),
        flush=True,
    )
    for i in np.flatnonzero(pred != truth):
        print(
            f"#   wrong: {table.file[i]} ({fam[i]}, G/R {table.g_r[i]:.3f}, B/G {table.b_g[i]:.3f}) -> "
            f"{names.get(int(pred[i]), pred[i])}",
            flush=True,
        )
    # the old rectangles on their own five classes (INC and halogen count as wrong: no box)
    old_truth = np.array([OLD_CLASS_OF_FAMILY.get(f, -1) for f in fam])
    per = ", ".join(
        f"{name} {np.mean(old[old_truth == code] == code):.2f}"
        for code, name, _, _ in OLD_RECTANGLES
        if (old_truth == code).any()
    )
    print(
        f"# old rectangles on their 5 classes: {np.mean(old == old_truth):.3f} ({per}; INC/Halo: no class)", flush=True
    )
    if picture:
        from cupola.plot.lamps import write_lamp_plane

        grid = colour.lamp_model(camera).grid
        path = write_lamp_plane(
            OUT / f"lamp_plane_{camera}.png",
            table.g_r,
            table.b_g,
            fam,
            grid.axis,
            grid.axis,
            grid.codes,
            [(c.code, c.name, c.colour) for c in classes],
            wrong=pred != truth,
            title=f"{len(table)} lamp spectra, Nikon {camera.upper()} from the ISS: classes and leave-one-out misses",
        )
        print(f"# picture: {path.relative_to(ROOT)}", flush=True)
    return float(np.mean(pred == truth)), float(np.mean(old_new == truth))


def lamp_loo_accuracy():
    from cupola.analysis import lamp_colour as colour

    OUT.mkdir(parents=True, exist_ok=True)
    steps = colour.merge_inseparable(colour.read_lamp_table("d3s"))
    for kind, fams, acc in steps:
        if kind == "final":
            print(f"# classes the camera separates: {' | '.join('+'.join(s) for s in fams)}", flush=True)
        else:
            how = "one independent lamp" if kind == "single" else f"pair told apart {acc:.2f}"
            print(f"# merged {'+'.join(fams)} ({how})", flush=True)
    acc_d3, old_d3 = _report("d3", picture=False)
    print(f"# D3: LOO accuracy {acc_d3:.3f}, old rectangles {old_d3:.3f}", flush=True)
    acc, old = _report("d3s", picture=True)
    bench_line("nightlights_lamp_loo_accuracy", acc, "fraction", baseline=old)


BENCHMARKS = {"nightlights_lamp_loo_accuracy": lamp_loo_accuracy}
