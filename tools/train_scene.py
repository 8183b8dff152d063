"""Train the onboard scene classifier (day / night / limb / cloudy) on cupola's real samples and
write its weights and test tiles into ``src/cupola/data/onboard/``.

    OMP_NUM_THREADS=1 python tools/train_scene.py [DATA_DIR] [--epochs 30] [--seed 0] [--out DIR] [--cv]

DATA_DIR (default ``../shared/data`` beside the repository) is the shared sample folder (AUROMAT,
ISS LIS backgrounds, ECOSTRESS); the bundled samples (apl photos, the Meteor frame) are always
used. Tiles and labels: :mod:`cupola.cli.onboard_scene`; the network: :mod:`cupola.onboard.scene`.
Writes ``scene.pt`` (float16 weights, the classes, the training record with the test accuracy) and
``scene_test.npz`` (the test tiles: photos the weights never saw) and ``scene_calibration.npz``
(16 training tiles per class, static int8's calibration set), and prints the report.
``--cv``: also a grouped cross-validation (each train group held out once, 4 folds by photo), a
check of the fixed split's figure; it does not change what is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "cupola" / "data" / "onboard"


def calibration_tiles(data: Path, per_class: int, seed: int):
    """Up to ``per_class`` training tiles of each class (never a test photo's): the calibration set
    of static int8 quantization."""
    from cupola.cli.onboard_scene import scene_tiles, split_by_photo

    ts = scene_tiles(data)
    train = ts.subset(~split_by_photo(ts))
    rng = np.random.default_rng(seed)
    pick = [rng.permutation(np.flatnonzero(train.labels == c))[:per_class] for c in range(4)]
    return train.subset(np.sort(np.concatenate(pick)))


def cross_validate(data: Path, epochs: int, seed: int, folds: int = 4) -> dict:
    from cupola.cli.onboard_scene import scene_tiles
    from cupola.onboard.scene import accuracy, predict_classes, train_scene

    ts = scene_tiles(data)
    groups = sorted({str(g) for g in ts.groups})
    pred = np.full(len(ts), -1)
    for k in range(folds):
        held = np.isin(ts.groups, groups[k::folds])
        net, _ = train_scene(ts.subset(~held), epochs=epochs, seed=seed)
        pred[held] = predict_classes(net, ts.subset(held).inputs())
    out = {"folds": folds, "all": accuracy(pred, ts.labels)}
    out["per_source"] = {
        str(s): accuracy(pred[ts.sources == s], ts.labels[ts.sources == s]) for s in np.unique(ts.sources)
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--cv", action="store_true")
    args = ap.parse_args(argv)

    from cupola.cli.onboard_scene import train_and_report
    from cupola.onboard.scene import save_scene_model, write_tile_set

    net, held, report = train_and_report(args.data, epochs=args.epochs, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    save_scene_model(args.out / "scene.pt", net, {"training": report})
    write_tile_set(args.out / "scene_test.npz", held)
    write_tile_set(args.out / "scene_calibration.npz", calibration_tiles(args.data, per_class=16, seed=args.seed))
    shown = {k: v for k, v in report.items() if k not in ("loss_history", "train_groups")}
    print(json.dumps(shown, indent=1))
    if args.cv:
        print(json.dumps(cross_validate(args.data, args.epochs, args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
