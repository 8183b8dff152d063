"""``make demo``: georeference the bundled real ISS frame (Meteor camera, 2017-05-17, Texas).

Time and camera come from the sample's ``frame.json``, the orbit from the real 2017 TLEs, the
attitude is solved from ``tie_points.csv``; Del Rio, Texas is marked and must fall on the city
lights near the top edge of the frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

SAMPLE = "iss-meteor-2017"


def sample_dir() -> Path:
    """Folder of the bundled Meteor sample (inside the installed package)."""
    return Path(str(resources.files("cupola") / "data" / "samples" / SAMPLE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", type=Path)
    args = parser.parse_args(argv)
    from cupola.cli.main import main as cupola_main

    folder = sample_dir()
    frame = json.loads((folder / "frame.json").read_text())
    cam = frame["camera"]
    mark = frame["landmark"]
    argv_geo = [
        "geolocate", str(folder / frame["image"]),
        "--time", frame["time_utc"],
        "--tle", str(folder / frame["orbit"]["tle_file"]),
        "--focal-mm", str(cam["focal_length_mm"]),
        "--sensor-mm", str(cam["sensor_width_mm"]), str(cam["sensor_height_mm"]),
        "--tie-points", str(folder / frame["tie_points"]["file"]),
        "--solve-focal",
        "--landmark", f"{mark['name']}:{mark['lat']}:{mark['lon']}",
        "--out", str(args.out / SAMPLE),
    ]
    print("$ cupola " + " ".join(f"'{a}'" if " " in a else a for a in argv_geo))
    code = cupola_main(argv_geo)
    if code == 0:
        result = json.loads((args.out / SAMPLE / "result.json").read_text())
        for m in result.get("landmarks", []):
            where = f"pixel ({m['col_px']:.0f}, {m['row_px']:.0f})" if m["in_frame"] else "OUTSIDE the frame"
            print(f"{m['name']} falls at {where} of the {cam and frame['image_size_px'][0]}x{frame['image_size_px'][1]} frame")
        print(f"\nOutputs are in {(args.out / SAMPLE).resolve()}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
