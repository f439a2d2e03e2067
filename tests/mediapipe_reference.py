"""The mediapipe Tasks FaceDetector as a reference, run as a child process inside vcam's no-network sandbox.

mediapipe 1.x tries to send telemetry from its native library (google-ai-edge/mediapipe#6291), so
vcam itself never imports it. The equivalence test needs its detections, and gets them from this
script, which installs the sandbox before mediapipe is imported: the uploader's sockets fail with
EPERM. Prints one JSON list per input: ``[[x, y, w, h, score], ...]`` in the Tasks API's own pixels.

python mediapipe_reference.py near|far THRESHOLD FILE[:FRAME] ...
"""

from __future__ import annotations

import json
import sys
import types

import cv2

from vcam import assets, sandbox


def tasks_vision():
    """Import mediapipe's vision API without matplotlib.pyplot and sounddevice, which it imports for
    helpers it never needs here (they write a font cache and probe audio with temporary files)."""
    pyplot = types.ModuleType("matplotlib.pyplot")
    stub = types.ModuleType("matplotlib")
    stub.pyplot = pyplot  # type: ignore[attr-defined]
    stand_ins = {"matplotlib": stub, "matplotlib.pyplot": pyplot, "sounddevice": None}
    sys.modules.update({k: v for k, v in stand_ins.items() if k not in sys.modules})
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return mp, BaseOptions, vision


def tasks_detector(model_range: str, threshold: float):
    """mediapipe's Tasks FaceDetector on vcam's bundled model, as vcam used it before LiteRT (IMAGE mode)."""
    mp, BaseOptions, vision = tasks_vision()  # noqa: N806 - mediapipe's own class names
    model = assets.model_path(assets.SHORT_RANGE if model_range == "near" else assets.FULL_RANGE)
    detector = vision.FaceDetector.create_from_options(
        vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=threshold,
            min_suppression_threshold=0.3,
        )
    )
    return mp, detector


def read(spec: str):
    """An image file, or frame N of a video as ``FILE:N``."""
    path, _, frame = spec.rpartition(":")
    if not frame.isdigit():
        return cv2.imread(spec)
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
    ok, image = cap.read()
    cap.release()
    return image if ok else None


def main(argv: list[str]) -> int:
    status = sandbox.install()
    if not status.active:
        print(f"sandbox not active: {status.detail}", file=sys.stderr)
        return 3
    model_range, threshold, inputs = argv[0], float(argv[1]), argv[2:]
    mp, detector = tasks_detector(model_range, threshold)
    for spec in inputs:
        rgb = cv2.cvtColor(read(spec), cv2.COLOR_BGR2RGB)
        result = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        boxes = [
            [d.bounding_box.origin_x, d.bounding_box.origin_y, d.bounding_box.width, d.bounding_box.height]
            + [d.categories[0].score]
            for d in result.detections
        ]
        print(json.dumps(boxes), flush=True)
    detector.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
