"""Cost of one BlazeFace call per frame: vcam's LiteRT path against the mediapipe Tasks path, in one run.

Both run the same model files on the same decoded frames of a real clip, scaled to each size, one
call per frame (the whole frame; the scanner makes more calls on crops and tiles). OpenCV's dnn
module on the short-range model is a third runtime for scale (it cannot load the full-range model:
DENSIFY, DEPTH_TO_SPACE). The whole benchmark runs inside vcam's no-network sandbox, so mediapipe's
telemetry uploader is refused by the kernel while it is measured.

    PYTHONPATH=. python bench/runtime_cost.py ../shared/eval/videos/intel-sv__eat.mkv --frames 150
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vcam import assets, sandbox
from vcam.detection import blazeface
from vcam.detection.detect import BlazeFaceDetector, BlazeFaceOptions, quiet_native_stderr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def frames(path: str, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.resize(frame, size))
    cap.release()
    return out


def timed(call, images: list[np.ndarray]) -> tuple[float, float]:
    for image in images[:10]:
        call(image)
    times = []
    for image in images:
        t = time.perf_counter()
        call(image)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), float(np.percentile(times, 99))


def tasks_path(model_range: str):
    from mediapipe_reference import tasks_detector

    with quiet_native_stderr():
        mp, det = tasks_detector(model_range, 0.4)

    def call(bgr):
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return det.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))

    call.close = det.close  # type: ignore[attr-defined] - closed by us, not by mediapipe's __del__ at exit
    return call


def opencv_near():
    net = cv2.dnn.readNetFromTFLite(str(assets.model_path(assets.SHORT_RANGE)))
    names = net.getUnconnectedOutLayersNames()
    spec = blazeface.SHORT_RANGE
    anchors = blazeface.anchors(spec)

    def call(bgr):
        tensor, box = blazeface.letterbox(bgr, spec.input_size, bgr=True)
        net.setInput(np.ascontiguousarray(tensor.transpose(0, 3, 1, 2)))
        outs = dict(zip(names, net.forward(names), strict=True))
        return blazeface.postprocess(
            outs["regressors"], outs["classificators"], spec, anchors, box, threshold=0.4, overlap=0.3
        )

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    args = parser.parse_args()
    status = sandbox.install()
    print(f"sandbox: {status.detail}")
    cv2.setNumThreads(1)
    print(f"clip {Path(args.clip).name}, {args.frames} frames, cv2 {cv2.__version__}, {os.cpu_count()} cores")
    print("\n| size | model | runtime | median ms | p99 ms |\n|---|---|---|---|---|")
    for size_text in args.sizes.split(","):
        size = tuple(int(v) for v in size_text.split("x"))
        images = frames(args.clip, args.frames, size)
        for model_range in ("near", "far"):
            ours = BlazeFaceDetector(BlazeFaceOptions(model_range=model_range))
            runs = {
                "vcam: LiteRT, 1 thread": lambda im, d=ours: d.detect(im, 0.0),
                "mediapipe Tasks 1.2.3": tasks_path(model_range),
            }
            if model_range == "near":
                runs["OpenCV dnn, 1 thread"] = opencv_near()
            for name, call in runs.items():
                with quiet_native_stderr():
                    p50, p99 = timed(call, images)
                    getattr(call, "close", lambda: None)()
                print(f"| {size_text} | {model_range} | {name} | {p50:.2f} | {p99:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
