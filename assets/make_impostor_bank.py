"""Re-make assets/identity/impostors.json: the faces "hide everyone but me" calibrates each enrolment against.

    python assets/make_impostor_bank.py --eval-dir ../shared/eval

Every face of 40 px or more that the detector finds in the evaluation set's still images whose licence
allows redistribution (BSL-1.0, MIT, Apache-2.0; no WIDER FACE image, no non-commercial or GPL file) is
turned into one embedding by the recognizer the gate uses (`Recognizer.embed`). Only the numbers are kept,
with the file each came from (attribution in assets/identity/ATTRIBUTION.md). No video of the evaluation
set goes in: the people of the clips are those `vcam.evaluation.show_me` measures the gate on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from vcam.detection.scan import Scanner, ScanSettings  # noqa: E402
from vcam.identity.impostors import BANK_FILE, MIN_FACE_PX, bank_id  # noqa: E402
from vcam.identity.recognizer import Recognizer  # noqa: E402
from vcam.pipeline.sources import read_image  # noqa: E402

ALLOWED = ("BSL-1.0", "MIT (repo", "Apache-2.0 (repo")
"""Licences (as the manifest spells them) that let the numbers derived from a picture ship with vcam."""
EXCLUDED = ("WIDER FACE", "non-commercial")


def eligible(entry: dict) -> bool:
    licence = entry.get("license", "")
    return (
        entry.get("type") == "image" and licence.startswith(ALLOWED) and not any(word in licence for word in EXCLUDED)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=HERE.parent.parent / "shared" / "eval")
    args = parser.parse_args()
    manifest = json.loads((args.eval_dir / "manifest.json").read_text())
    scanner = Scanner(ScanSettings())
    recognizer = Recognizer()
    rows: list[list[float]] = []
    sources: list[dict] = []
    for entry in manifest["files"]:
        if not eligible(entry):
            continue
        image = read_image(args.eval_dir / entry["file"])
        faces = [f for f in scanner.scan(image, 0.0, [], None).faces if f.box[2] >= MIN_FACE_PX]
        found = recognizer.embed(image, faces)
        kept = [row for row in found if np.isfinite(row).all()]
        rows += [[round(float(v), 6) for v in row] for row in kept]
        credit = {"file": entry["file"], "source": entry["source"], "license": entry["license"]}
        sources.append({**credit, "faces": len(kept)})
        print(f"{entry['file']}: {len(kept)} faces", flush=True)
    scanner.close()
    data = {"model": bank_id(), "faces": rows, "sources": sources}
    path = HERE / "identity" / BANK_FILE
    path.write_text(json.dumps(data, indent=None) + "\n")
    print(f"{len(rows)} faces from {len(sources)} images -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
