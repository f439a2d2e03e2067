"""How safe is the camera? Coverage recall on images, leaked face-frames on videos, against the peers.

A ground-truth face counts as hidden when at least 90% of its box lies in the area the method
replaced: the privacy metric (a detection that hides only the middle of a face still leaks it).
Detection AP at IoU 0.5 stands beside it for comparison with published detectors.

Run: ``vcam eval --eval-dir ../shared/eval [--plots docs/plots]`` (or ``python -m vcam.evaluation.evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vcam.detection.scan import ScanSettings
from vcam.detection.track import TrackerSettings
from vcam.evaluation.methods import (
    ChunkMethod,
    DefaceMethod,
    HaarMethod,
    Method,
    MethodOutput,
    OursMethod,
    Unavailable,
)
from vcam.evaluation.metrics import (
    BUCKET_NAMES,
    FALSE_HIDE_FRAME,
    HIDDEN_SHARE,
    ImageDetections,
    Tally,
    average_precision,
    bucket,
    coverage,
    detail_correlation,
    false_hide_share,
    hidden_area_ratio,
    on_a_face,
    over_hiding,
    precision_recall,
)
from vcam.frames import Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.sources import VideoFileSource, read_image


@dataclass(frozen=True)
class ImageCase:
    path: Path
    boxes: list[list[float]]
    """Ground truth that must be hidden."""
    ignored: list[list[float]] = field(default_factory=list)
    """WIDER boxes flagged invalid (and, with drop_heavy_blur, heavy blur): neither counted nor held against."""

    @property
    def source(self) -> str:
        return self.path.name.split("__")[0]


@dataclass
class ImageReport:
    by_bucket: dict[str, Tally] = field(default_factory=dict)
    by_source: dict[str, Tally] = field(default_factory=dict)
    at_least_24: Tally = field(default_factory=Tally)
    detections: list[ImageDetections] = field(default_factory=list)
    over_hidden_negatives: list[float] = field(default_factory=list)
    over_hidden_outside: list[float] = field(default_factory=list)
    area_ratios: list[float] = field(default_factory=list)
    """Per image with faces: hidden pixels / area of its ground-truth face boxes."""
    seconds: float = 0.0
    images: int = 0

    @property
    def ap(self) -> float:
        return average_precision(self.detections)


@dataclass
class VideoReport:
    leaked: int = 0
    visible: int = 0
    """Leaked face-frames whose detail still correlates >= 0.5 with the original (features readable)."""
    face_frames: int = 0
    longest_run: dict[str, int] = field(default_factory=dict)
    per_clip: dict[str, tuple[int, int]] = field(default_factory=dict)
    timeline: dict[str, list[int]] = field(default_factory=dict)
    """Per clip, leaked faces in each frame (for the leak timeline plot)."""
    frames: int = 0
    seconds: float = 0.0
    false_hide_frames: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per clip: frames with more than 2% of the picture hidden away from every reference face, and frames."""
    false_regions: dict[str, list[float]] = field(default_factory=dict)
    """Hidden regions not on any reference face, by the pass that found them ("held" = kept by the tracker):
    their scores."""
    regions: dict[str, int] = field(default_factory=dict)
    """Every hidden region, by the same key (the denominator)."""


def region_source(face, t: float) -> str:
    """The pass behind a hidden region: the detector and pass that found it on this frame, else "held"."""
    return (face.source or "?") if face.last_seen >= t else "held (tracker)"


def load_manifest(eval_dir: Path) -> dict:
    return json.loads((eval_dir / "manifest.json").read_text())


def image_cases(eval_dir: Path, *, limit: int | None = None, drop_heavy_blur: bool = False) -> list[ImageCase]:
    """Every image with human-made boxes (``gt_boxes=[]`` are verified negatives); WIDER invalid=1 ignored.

    `drop_heavy_blur` also ignores faces WIDER FACE labels blur=2 (heavy blur): already unrecognisable
    in the original, they are reported by the evaluation but not required by the tests.
    """
    out = []
    for entry in load_manifest(eval_dir)["files"]:
        if entry["type"] != "image" or entry.get("gt_boxes") is None:
            continue
        boxes = entry["gt_boxes"]
        attrs = (entry.get("gt_attrs") or {}).get("per_box", {})
        drop = [bool(a) for a in attrs.get("invalid", [0] * len(boxes))]
        if drop_heavy_blur and "blur" in attrs:
            drop = [d or b == 2 for d, b in zip(drop, attrs["blur"], strict=True)]
        keep = [b for b, bad in zip(boxes, drop, strict=True) if not bad]
        ignored = [b for b, bad in zip(boxes, drop, strict=True) if bad]
        out.append(ImageCase(eval_dir / entry["file"], keep, ignored))
    return out[:limit]


def video_cases(eval_dir: Path, *, only: Iterable[str] | None = None) -> list[tuple[Path, dict]]:
    videos = json.loads((eval_dir / "video_gt.json").read_text())["videos"]
    names = list(videos) if only is None else [n for n in videos if any(o in n for o in only)]
    return [(eval_dir / n, videos[n]) for n in names]


def frame_boxes(gt: dict) -> dict[int, list[list[float]]]:
    out: dict[int, list[list[float]]] = {}
    for index, box, _src in gt["boxes"]:
        out.setdefault(index, []).append(box)
    return out


def eval_images(cases: list[ImageCase], method: Method) -> ImageReport:
    report = ImageReport()
    start = time.perf_counter()
    for case in cases:
        image = read_image(case.path)
        method.reset()
        out = method.run(Frame(image, 0.0, 0))
        report.images += 1
        dets = [(f.box, f.score) for f in out.faces]
        report.detections.append(ImageDetections(dets, case.boxes, case.ignored))
        if not case.boxes and not case.ignored:
            report.over_hidden_negatives.append(float(out.mask.mean()))
        elif case.boxes:
            report.over_hidden_outside.append(over_hiding(out.mask, case.boxes + case.ignored))
            report.area_ratios.append(hidden_area_ratio(out.mask, case.boxes + case.ignored))
        for box in case.boxes:
            ok = coverage(box, out.mask) >= HIDDEN_SHARE
            report.by_bucket.setdefault(bucket(box[2]), Tally()).add(ok)
            report.by_source.setdefault(case.source, Tally()).add(ok)
            if box[2] >= 24:
                report.at_least_24.add(ok)
    report.seconds = time.perf_counter() - start
    return report


def play_clip(method: Method, path: Path) -> Iterator[tuple[Frame, MethodOutput]]:
    """Each frame of the clip at `path` and `method`'s output for it, in file mode: the method reset, prepared
    for the whole clip where it decides one at once (as `vcam anonymize`'s workers), and the timestamps on the
    clip's own clock, so hold times mean the same as live."""
    source = VideoFileSource(path)
    try:
        method.reset()
        prepare = getattr(method, "prepare", None)
        if prepare is not None:
            prepare(path)
        index = 0
        while (read := source.read()) is not None:
            frame = Frame(read.image, index / source.fps, index)
            yield frame, method.run(frame)
            index += 1
    finally:
        source.close()


def eval_videos(cases, method: Method, on_frame: Callable[[str, int, int], None] | None = None) -> VideoReport:
    """Play each clip through `method` frame by frame (file mode) and count leaked face-frames."""
    report = VideoReport()
    start = time.perf_counter()
    for path, gt in cases:
        boxes = frame_boxes(gt)
        ignored = frame_boxes({"boxes": gt.get("ignore_boxes", [])})
        leaked = total = run = longest = false_frames = 0
        timeline: list[int] = []
        index = 0
        for frame, out in play_clip(method, path):
            frame_leaks = 0
            for box in boxes.get(index, []):
                total += 1
                if coverage(box, out.mask) < HIDDEN_SHARE:
                    frame_leaks += 1
                    report.visible += int(detail_correlation(frame.image, out.image, box) >= 0.5)
            faces_here = boxes.get(index, []) + ignored.get(index, [])
            false_frames += false_hide_share(out.mask, faces_here) > FALSE_HIDE_FRAME
            for face in out.faces:
                key = region_source(face, frame.t)
                report.regions[key] = report.regions.get(key, 0) + 1
                if not on_a_face(face.box, faces_here):
                    report.false_regions.setdefault(key, []).append(face.score)
            leaked += frame_leaks
            timeline.append(frame_leaks)
            run = run + 1 if frame_leaks else 0
            longest = max(longest, run)
            if on_frame:
                on_frame(path.name, index, frame_leaks)
            index += 1
        report.frames += index
        report.leaked += leaked
        report.face_frames += total
        report.longest_run[path.name] = longest
        report.per_clip[path.name] = (leaked, total)
        report.false_hide_frames[path.name] = (false_frames, index)
        report.timeline[path.name] = timeline
    report.seconds = time.perf_counter() - start
    return report


SCANS: dict[str, ScanSettings] = {
    "near": ScanSettings(detection_range="near", tiles=False, crops=False, centerface=False),
    "far": ScanSettings(detection_range="far", tiles=False, crops=False, centerface=False),
    "far+tiles": ScanSettings(detection_range="far", tiles=True, crops=True, centerface=False),
    "centerface": ScanSettings(detection_range="far", tiles=False, crops=False, centerface=True, centerface_width=0),
    "default": ScanSettings(centerface_width=0),
    "default no-tracker": ScanSettings(centerface_width=0),
}
PEERS = ("haar", "deface", "deface 640x360")
CONFIGS = (*SCANS, "files", *PEERS)


def _files_config(name: str) -> bool:
    """ "files" (`vcam anonymize`'s video path as shipped) or "files S" (a sweep every S seconds)."""
    head, _, every = name.partition(" ")
    return head == "files" and (not every or every.replace(".", "", 1).isdigit())


def make_method(name: str, effect: effects.EffectSettings, *, hold_s: float, **scan_changes: object) -> Method:
    """One compared method by name; Unavailable when a peer is not installed here.

    `scan_changes` (threshold, tile_size) override the scanner settings of our configurations, for tuning.
    """
    if name == "haar":
        return HaarMethod(effect)
    if name.startswith("deface"):
        return DefaceMethod(None if name == "deface" else (640, 360))
    if _files_config(name):
        # `vcam anonymize`'s video path: "files" as shipped, "files 0.2" with a sweep every 0.2 s.
        every = float(name.split()[1]) if " " in name else FILE_SWEEP_S
        scan = replace(SCANS["default"], **{k: v for k, v in scan_changes.items() if v is not None})
        settings = AnonymizerSettings(
            scan=scan, tracker=TrackerSettings(hold_s=hold_s), hang_after_s=600.0, file_sweep_s=every
        )
        return ChunkMethod(name, settings, effect)
    scan = replace(SCANS[name], **{k: v for k, v in scan_changes.items() if v is not None})
    tracker = TrackerSettings(hold_s=0.0 if name.endswith("no-tracker") else hold_s)
    # File mode, as `vcam anonymize`: no deadline, so no hang limit either.
    return OursMethod(name, AnonymizerSettings(scan=scan, tracker=tracker, hang_after_s=600.0), effect)


def image_table(reports: dict[str, ImageReport]) -> list[str]:
    rows = [
        "| method | faces >=24 px hidden | "
        + " | ".join(f"{b} px" for b in BUCKET_NAMES)
        + " | AP@0.5 | over-hiding: negatives | outside faces | ms/image |",
        "|---|---|" + "---|" * len(BUCKET_NAMES) + "---|---|---|---|",
    ]
    for name, rep in reports.items():
        cells = [rep.by_bucket.get(b, Tally()).cell() for b in BUCKET_NAMES]
        rows.append(
            f"| {name} | {rep.at_least_24.cell()} | " + " | ".join(cells) + f" | {rep.ap:.3f} | "
            f"{np.mean(rep.over_hidden_negatives or [0]):.1%} | {np.mean(rep.over_hidden_outside or [0]):.1%} | "
            f"{1000 * rep.seconds / max(1, rep.images):.0f} |"
        )
    return rows


def source_table(reports: dict[str, ImageReport]) -> list[str]:
    sources = sorted({s for rep in reports.values() for s in rep.by_source})
    rows = ["| method | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
    for name, rep in reports.items():
        rows.append(f"| {name} | " + " | ".join(rep.by_source.get(s, Tally()).cell() for s in sources) + " |")
    return rows


def _clip(name: str) -> str:
    """A clip's short name: "intel-sv__eat.mkv" -> "eat"."""
    return name.split("__")[-1].rsplit(".", 1)[0]


def video_table(reports: dict[str, VideoReport]) -> list[str]:
    rows = [
        "| method | leaked face-frames | readable (detail >= 0.5) | longest leak run (frames) | frames/s | per clip |",
        "|---|---|---|---|---|---|",
    ]
    for name, rep in reports.items():
        clips = ", ".join(f"{_clip(k)} {a}/{b}" for k, (a, b) in rep.per_clip.items())
        share = f"{rep.leaked / max(1, rep.face_frames):.1%} ({rep.leaked}/{rep.face_frames})"
        longest = max(rep.longest_run.values(), default=0)
        fps = rep.frames / max(rep.seconds, 1e-9)
        rows.append(f"| {name} | {share} | {rep.visible} | {longest} | {fps:.1f} | {clips} |")
    return rows


def false_hide_table(images: dict[str, ImageReport], videos: dict[str, VideoReport]) -> list[str]:
    """Frames with false hides per clip, and the hidden area against the faces' own area on the images."""
    clips = list(next(iter(videos.values())).false_hide_frames) if videos else []  # every method plays the same
    rows = [
        "| method | hidden area / face area (images, median) | frames with false hides, all clips | "
        + " | ".join(_clip(c) for c in clips)
        + " |",
        "|---|---|---|" + "---|" * len(clips),
    ]
    for name in dict.fromkeys([*images, *videos]):
        ratio = images.get(name)
        ratio_cell = f"{np.nanmedian(ratio.area_ratios):.2f}x" if ratio and ratio.area_ratios else "-"
        rep = videos.get(name)
        if rep is None:
            rows.append(f"| {name} | {ratio_cell} | - |" + " - |" * len(clips))
            continue
        bad = sum(a for a, _ in rep.false_hide_frames.values())
        total = sum(b for _, b in rep.false_hide_frames.values())
        cells = [f"{rep.false_hide_frames[c][0]}/{rep.false_hide_frames[c][1]}" for c in clips]
        rows.append(
            f"| {name} | {ratio_cell} | {bad}/{total} ({bad / max(1, total):.1%}) | " + " | ".join(cells) + " |"
        )
    return rows


def false_region_table(videos: dict[str, VideoReport]) -> list[str]:
    """Which pass hides what is not a face: hidden regions away from every reference face, per pass."""
    rows = [
        "| method | pass | hidden regions | not on a face | share | their scores (p25 / median / p75) |",
        "|---|---|---|---|---|---|",
    ]
    for name, rep in videos.items():
        for key in sorted(rep.regions, key=lambda k: -len(rep.false_regions.get(k, []))):
            false = rep.false_regions.get(key, [])
            scores = "-" if not false else " / ".join(f"{v:.2f}" for v in np.percentile(false, [25, 50, 75]))
            rows.append(
                f"| {name} | {key} | {rep.regions[key]} | {len(false)} | "
                f"{len(false) / max(1, rep.regions[key]):.0%} | {scores} |"
            )
    return rows


def save_plots(folder: Path, images: dict[str, ImageReport], videos: dict[str, VideoReport]) -> list[Path]:
    """Recall by face size, precision-recall curves, leak timelines (needs matplotlib:
    pip install 'face-anonymizer-camera[plots]')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if images:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, rep in images.items():
            ax.plot(BUCKET_NAMES, [rep.by_bucket.get(b, Tally()).share for b in BUCKET_NAMES], marker="o", label=name)
        ax.set(xlabel="face width (px)", ylabel="coverage recall (>=90% hidden)", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, folder / "recall_by_size.png"))
        fig, ax = plt.subplots(figsize=(6, 5))
        for name, rep in images.items():
            precision, recall = precision_recall(rep.detections)
            ax.plot(recall, precision, label=f"{name} (AP {rep.ap:.2f})")
        ax.set(xlabel="recall (IoU >= 0.5)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, folder / "precision_recall.png"))
    if videos:
        clips = list(next(iter(videos.values())).timeline)
        fig, axes = plt.subplots(len(clips), 1, figsize=(9, 1.1 * len(clips) + 1), sharex=False, squeeze=False)
        for ax, clip in zip(axes[:, 0], clips, strict=True):
            for k, rep in enumerate(videos.values()):
                line = np.array(rep.timeline.get(clip, []))
                frames = np.nonzero(line)[0]
                ax.scatter(frames, np.full(frames.size, k), s=4, marker="|")
            ax.set_xlim(-1, max(len(rep.timeline.get(clip, [])) for rep in videos.values()) + 1)
            ax.set_yticks(range(len(videos)), list(videos), fontsize=6)
            ax.set_title(clip, fontsize=7, loc="left")
        axes[-1, 0].set_xlabel("frame (a mark = at least one reference face not 90% hidden)")
        written.append(_save(fig, folder / "leak_timeline.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vcam eval", description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma list of: " + ", ".join(CONFIGS))
    parser.add_argument("--videos", default=None, help="comma list of clip name parts (default: all in video_gt.json)")
    parser.add_argument("--images", type=int, default=None, help="only the first N images (a quick check)")
    parser.add_argument("--margin", type=float, default=effects.EffectSettings().margin)
    parser.add_argument("--style", choices=effects.STYLES, default="blur", help="how our configurations hide faces")
    parser.add_argument(
        "--no-mesh-outline", action="store_true", help="hide the box's ellipse even where a face has a mesh"
    )
    parser.add_argument("--threshold", type=float, default=None, help="detector confidence (ours; for tuning)")
    parser.add_argument("--tile-size", type=int, default=None, help="tile side in px (ours; for tuning)")
    parser.add_argument("--centerface-threshold", type=float, default=None, help="CenterFace confidence (ours)")
    parser.add_argument(
        "--centerface-width", type=int, default=None, help="CenterFace input width in px, 0 = the image's own (ours)"
    )
    parser.add_argument("--hold-ms", type=float, default=TrackerSettings().hold_s * 1000)
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=None,
        help="no second look at uncertain candidates (ours; to measure what it does)",
    )
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--no-videos", action="store_true")
    parser.add_argument("--plots", type=Path, help="write recall, PR and leak-timeline plots into this folder")
    args = parser.parse_args(argv)
    if not (args.eval_dir / "manifest.json").is_file():
        print(f"vcam eval: no manifest.json in {args.eval_dir}; pass --eval-dir", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS and not _files_config(n)]
    if unknown:
        print(f"vcam eval: unknown config(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    effect = effects.EffectSettings(style=args.style, margin=args.margin, mesh_outline=not args.no_mesh_outline)
    images, videos = {}, {}
    cases = image_cases(args.eval_dir, limit=args.images)
    clips = video_cases(args.eval_dir, only=args.videos.split(",") if args.videos else None)
    for name in names:
        try:
            method = make_method(
                name,
                effect,
                hold_s=args.hold_ms / 1000,
                threshold=args.threshold,
                tile_size=args.tile_size,
                centerface_threshold=args.centerface_threshold,
                centerface_width=args.centerface_width,
                verify=args.verify,
            )
        except Unavailable as exc:
            print(f"<!-- {name}: not measured: {exc} -->", flush=True)
            continue
        try:
            if not args.no_images:
                images[name] = eval_images(cases, method)
            if not args.no_videos:
                videos[name] = eval_videos(clips, method)
        finally:
            method.close()
        print(f"<!-- {name} done -->", file=sys.stderr, flush=True)
    if images:
        print(f"Images: {len(cases)} with ground truth, coverage recall (>= {HIDDEN_SHARE:.0%} of the box hidden)\n")
        print("\n".join(image_table(images)) + "\n")
        print("Coverage recall by source (all sizes)\n")
        print("\n".join(source_table(images)) + "\n")
    if videos:
        print(f"Videos: {len(clips)} clips of video_gt.json, file mode, hold {args.hold_ms:.0f} ms\n")
        print("\n".join(video_table(videos)) + "\n")
    if images or videos:
        print("False hides: hidden area against the faces' own area (images with ground truth), and video frames in")
        print("which more than 2% of the picture is hidden away from every reference face (grown 2.5x)\n")
        print("\n".join(false_hide_table(images, videos)) + "\n")
    if videos:
        print("What the false hides are: hidden regions whose centre is on no reference face (grown 2.5x), per pass\n")
        print("\n".join(false_region_table(videos)) + "\n")
    if args.plots:
        try:
            for path in save_plots(args.plots, images, videos):
                print(f"plot: {path}")
        except ImportError:
            print("vcam eval: plots need matplotlib (pip install 'face-anonymizer-camera[plots]')", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
