"""The onboard scene classifier: label rules against independent geometry, tiles, training on a
tiny case, the split by photo, and the classifier's accuracy per runtime in the benchmark."""

import datetime as dt

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cupola.errors import InputError  # noqa: E402
from cupola.onboard.scene import (  # noqa: E402
    CLASSES,
    SCENE_TEST,
    SCENE_WEIGHTS,
    TileSet,
    accuracy,
    daylight_class,
    limb_tile,
    load_scene_model,
    predict_classes,
    read_tile_set,
    save_scene_model,
    scene_label,
    tangent_height_km,
    tiles_of,
    train_scene,
)


def test_tangent_height_against_the_closed_form():
    # a ray leaving a station at radius r, depressed by delta below the local horizontal, comes
    # closest to the centre at r cos(delta): it grazes the sphere when cos(delta) = R / r
    r, radius = 6771.0, 6371.0
    delta = np.radians(np.array([0.0, 5.0, 15.0, 19.0, 25.0, 40.0]))
    d = np.stack([-np.sin(delta), np.cos(delta), np.zeros_like(delta)], -1)  # station on +x
    h = tangent_height_km(np.array([r, 0.0, 0.0]), d, radius)
    assert h == pytest.approx(r * np.cos(delta) - radius)
    dip = np.degrees(np.arccos(radius / r))  # 19.8 deg: rays below it hit the Earth
    assert np.all((h < 0) == (np.degrees(delta) > dip))
    # a ray pointing away from the Earth is closest at the station
    assert tangent_height_km(np.array([r, 0, 0]), np.array([[1.0, 0, 0]]), radius)[0] == pytest.approx(400.0)


def test_label_rules():
    assert limb_tile(np.array([-10.0, -1.0])) is False  # all rays on the Earth
    assert limb_tile(np.array([-10.0, 200.0])) is True  # the horizon crosses the tile
    assert limb_tile(np.array([60.0, 90.0])) is True  # the airglow band above the horizon
    assert limb_tile(np.array([150.0, 300.0])) is None  # space: no label
    assert [daylight_class(e) for e in (10.0, -0.5, -3.0, -7.0)] == ["day", "day", None, "night"]
    assert scene_label(True, 40.0, 0.9) == "limb"
    assert scene_label(False, -30.0, 0.9) == "night"  # cloud is judged in daylight only
    assert [scene_label(False, 30.0, f) for f in (0.0, 0.3, 0.8, None)] == ["day", None, "cloudy", "day"]
    assert scene_label(None, 30.0, 0.0) is None


def test_tiles_cover_the_image_in_order():
    img = np.arange(96 * 64).reshape(96, 64)
    t, rc = tiles_of(img, 32)
    assert t.shape == (6, 32, 32) and rc.tolist() == [[0, 0], [0, 32], [32, 0], [32, 32], [64, 0], [64, 32]]
    for tile, (r, c) in zip(t, rc):
        assert np.array_equal(tile, img[r : r + 32, c : c + 32])


def test_accuracy_and_confusion_by_hand():
    res = accuracy(np.array([0, 0, 1, 3, 3]), np.array([0, 1, 1, 3, 2]))
    assert res["accuracy"] == pytest.approx(3 / 5)
    assert res["per_class"] == {"day": 1.0, "night": 0.5, "limb": 0.0, "cloudy": 1.0}
    assert res["confusion"][1] == [1, 1, 0, 0] and res["confusion"][2] == [0, 0, 0, 1]


def _toy(n: int, seed: int) -> TileSet:
    """Bright textured tiles (day), dark tiles with a few lights (night), tiles half bright half
    black with a horizontal edge (limb), smooth white tiles (cloudy)."""
    rng = np.random.default_rng(seed)
    tiles, labels = [], []
    for i in range(n):
        k = i % 4
        if k == 0:
            t = 0.4 + 0.2 * rng.random((32, 32))
        elif k == 1:
            t = 0.02 * rng.random((32, 32))
            t[rng.integers(0, 32, 3), rng.integers(0, 32, 3)] = 0.8
        elif k == 2:
            t = np.zeros((32, 32))
            t[rng.integers(8, 24) :] = 0.3 + 0.1 * rng.random()
        else:
            t = 0.85 + 0.05 * rng.random((32, 32))
        tiles.append(np.uint8(np.clip(t, 0, 1) * 255))
        labels.append(k)
    return TileSet(np.array(tiles), np.array(labels), np.array([f"g{i}" for i in range(n)]), np.array(["toy"] * n))


def test_training_learns_a_tiny_case_and_the_file_round_trips(tmp_path):
    net, history = train_scene(_toy(128, 0), epochs=12, batch=32, lr=1e-2, seed=0)
    assert history[-1] < history[0]
    test = _toy(64, 1)
    pred = predict_classes(net, test.inputs())
    assert accuracy(pred, test.labels)["accuracy"] >= 0.9
    path = tmp_path / "scene.pt"
    save_scene_model(path, net, {"training": {"note": "toy"}})
    back, meta = load_scene_model(path)
    assert meta["training"] == {"note": "toy"} and path.stat().st_size < 1_000_000
    # float16 storage: the same classes
    assert np.array_equal(predict_classes(back, test.inputs()), pred)
    torch.save({"kind": "recover"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a cupola scene classifier"):
        load_scene_model(tmp_path / "other.pt")


def test_bundled_tiles_labels_follow_the_metadata_and_the_split_is_by_photo():
    from cupola.cli.onboard_scene import SAMPLES, scene_tiles, split_by_photo
    from cupola.geometry.sun import sun_position

    ts = scene_tiles(None)  # the bundled samples: the four apl photos and the Meteor frame
    meteor = ts.sources == "meteor"
    # the Meteor frame: 05:44 UTC over Del Rio, Texas (00:44 local): the Sun far below the horizon
    elev = sun_position(dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=dt.timezone.utc), lon=-100.9, lat=29.36)
    assert elev.elevation_deg < -6 and meteor.sum() == 50 and np.all(ts.labels[meteor] == CLASSES.index("night"))
    apl = ts.sources == "apl"
    assert set(ts.labels[apl]) <= {CLASSES.index("day"), CLASSES.index("cloudy")}
    assert len(set(ts.groups[apl])) == len(list((SAMPLES / "apl").glob("*/photo.jpg"))) == 4
    test = split_by_photo(ts)
    assert test.any() and (~test).any()
    assert not set(ts.groups[test]) & set(ts.groups[~test])  # no photo on both sides


@pytest.mark.skipif(not SCENE_WEIGHTS.is_file(), reason="the scene classifier is not bundled")
def test_bundled_classifier_is_small_and_its_accuracy_per_runtime():
    pytest.importorskip("onnxruntime")
    from cupola.onboard.bench import BenchConfig, run_bench

    assert SCENE_WEIGHTS.stat().st_size < 1_000_000 and SCENE_TEST.stat().st_size < 1_000_000
    net, meta = load_scene_model()
    test = read_tile_set()
    assert not set(meta["training"]["train_groups"]) & {str(g) for g in test.groups}
    reference = float(np.mean(predict_classes(net, test.inputs()) == test.labels))
    assert reference == pytest.approx(meta["training"]["test"]["accuracy"], abs=0.01)  # float16 storage
    res = run_bench(
        BenchConfig(models=("scene",), runtimes=("torch", "ort", "ort-int8s"), repeats=2, warmup=1, bitflip_trials=0)
    )
    rows = {r["runtime"]: r for r in res.rows}
    assert all(r["status"] == "ok" for r in res.rows), [r["status"] for r in res.rows]
    assert rows["torch"]["task_metric"] == "accuracy" and rows["torch"]["task_value"] == pytest.approx(reference)
    assert abs(rows["ort"]["task_change"]) < 0.005
    assert abs(rows["ort-int8s"]["task_change"]) < 0.05  # the quantized classifier keeps its accuracy


@pytest.mark.skipif(not SCENE_WEIGHTS.is_file(), reason="the scene classifier is not bundled")
def test_cli_scene_rows_carry_the_accuracy(tmp_path, capsys):
    import csv

    pytest.importorskip("onnxruntime")
    from cupola.cli.main import main

    out = tmp_path / "bench"
    args = ["onboard", "bench", "--models", "scene", "--runtimes", "torch,ort", "--repeats", "2", "--batches", "1,4"]
    assert main([*args, "--bitflip-trials", "2", "--out", str(out)]) == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["model"], r["runtime"], r["task_metric"]) for r in rows] == [
        ("scene", "torch", "accuracy"),
        ("scene", "ort", "accuracy"),
    ]
    assert 0.25 < float(rows[0]["task_value"]) <= 1 and abs(float(rows[1]["task_change"])) < 0.005
