"""Command line: `vcam run`, `vcam anonymize`, `vcam enroll`, `vcam doctor`, `vcam eval`, ...

Every user error ends in one clear line on stderr and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from vcam import assets, native_memory
from vcam import sandbox as vcam_sandbox
from vcam.app import config, control, enrolment
from vcam.detection.scan import RANGES, ScanSettings
from vcam.detection.track import TrackerSettings
from vcam.identity.store import EnrolmentStore
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.controls import MODES, SHAPES, ControlState, LiveControls
from vcam.pipeline.sinks import SinkError, VideoFileSink
from vcam.pipeline.sources import SourceError


class CliError(Exception):
    """A problem the user can fix; printed as one message."""


def _intensity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number 0-100, not {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 0-100, not {value}")
    return value


def _bounded(kind, lo: float, hi: float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number from {lo} to {hi}, not {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be from {lo} to {hi}, not {value}")
        return value

    return parse


def _add_anonymizing_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", choices=effects.STYLES, help="how faces are hidden (default blur)")
    p.add_argument("--intensity", type=_intensity, help="0-100; even 0 hides a face (default 70)")
    p.add_argument(
        "--range",
        dest="detection_range",
        choices=RANGES,
        help="near = short-range model, far = full range with tiles, auto = both (default)",
    )
    p.add_argument("--threshold", type=_bounded(float, 0.05, 0.95), help="detector confidence (default 0.4)")
    p.add_argument("--hold-ms", type=_bounded(int, 0, 10000), help="keep a lost face hidden this long (default 500)")
    p.add_argument("--margin", type=_bounded(float, 1.0, 3.0), help="hidden area around each face box (default 1.45)")
    p.add_argument(
        "--shape",
        choices=SHAPES,
        help="files: mesh = each head's outline from its face mesh where sure (default), ellipse = the box's "
        "(faster); live always hides the ellipse",
    )
    p.add_argument(
        "--verbose", action="store_true", help="also show the native libraries' log lines (LiteRT's), hidden normally"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcam",
        description="Face Anonymizer Camera: a virtual webcam that hides every face.",
        epilog=f"settings: {config.config_path()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="another settings file (default: the one below)")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="anonymize the webcam into the virtual camera")
    run.add_argument("--camera", help="webcam index or device path (default 0)")
    run.add_argument("--input", type=Path, help="play a video or image file instead of a webcam (looped, paced)")
    run.add_argument("--demo", action="store_true", help="play the bundled demo clip to the best output available")
    run.add_argument("--output", help="virtual (default), window, null, or a video file path")
    run.add_argument("--width", type=_bounded(int, 16, 7680))
    run.add_argument("--height", type=_bounded(int, 16, 7680))
    run.add_argument("--fps", type=_bounded(float, 1, 120))
    run.add_argument("--stats", action="store_true", help="print fps, latency and detection figures every 5 s")
    run.add_argument("--seconds", type=_bounded(float, 0.1, 1e9), help="stop after this long")
    run.add_argument("--off", action="store_true", help="start with anonymization OFF (shows real faces)")
    run.add_argument("--no-tray", action="store_true", help="run headless; control it with `vcam ctl`")
    run.add_argument("--mode", choices=MODES, help="hide everyone (default), or everyone but you (after `vcam enroll`)")
    _add_anonymizing_options(run)

    anon = sub.add_parser("anonymize", help="anonymize image and video files or folders")
    anon.add_argument("inputs", nargs="*", type=Path, help="image and video files, folders (searched recursively)")
    anon.add_argument(
        "-o",
        "--output",
        help="output file, or folder (a trailing / or several inputs; the input tree is mirrored) "
        "(default: NAME_anonymized.EXT beside each input)",
    )
    anon.add_argument("--keep-audio", action="store_true", help="copy the audio track (needs ffmpeg / vcam[audio])")
    anon.add_argument(
        "--workers",
        type=_bounded(int, 1, 256),
        default=os.cpu_count() or 1,
        help=f"worker processes; long videos are cut into chunks that run side by side (default {os.cpu_count()})",
    )
    anon.add_argument("--report", type=Path, help="write a JSON report: per file frames, faces, time, errors")
    anon.add_argument("--resume", action="store_true", help="skip inputs whose output is already complete")
    anon.add_argument(
        "--show-enrolled",
        action="store_true",
        help="leave the enrolled face (`vcam enroll`) visible, hide everyone else; unsure faces are hidden",
    )
    anon.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the work on a Ray cluster (pip install 'face-anonymizer-camera[cluster]'); without ADDRESS a "
        "local Ray instance. Ray needs the network, so this mode runs WITHOUT the no-network sandbox; inputs and "
        "outputs must be on a path every node sees",
    )
    _add_anonymizing_options(anon)

    ctl = sub.add_parser("ctl", help="control the running camera (for hotkeys and scripts)")
    ctl.add_argument(
        "action",
        choices=[c for c in control.COMMANDS if c != "enroll"],  # `vcam enroll` waits for the camera time
        help="status, on, off, toggle, show, quit, forget (your enrolled face), or set KEY VALUE",
    )
    ctl.add_argument("words", nargs="*", help="for set: KEY VALUE, e.g. intensity 80, style pixelate, range far")
    setup = sub.add_parser(
        "setup", help="Linux: create the virtual camera (v4l2loopback, asks for root once) and the launcher entry"
    )
    setup.add_argument("--dry-run", action="store_true", help="print what it would do and change nothing")
    setup.add_argument("--yes", action="store_true", help="do not ask before running the root steps")
    auto = sub.add_parser("autostart", help="start the camera at login")
    auto.add_argument("action", choices=("enable", "disable", "status"))

    enrolment.add_parsers(sub)
    sub.add_parser("doctor", help="check webcam, virtual camera, models and tray support")
    sub.add_parser("eval", help="measure coverage, AP and leaks on an evaluation folder (vcam eval --help)")
    return parser


def _settings(cfg: config.Config, args: argparse.Namespace) -> config.Config:
    overrides = {
        k: v
        for k in (
            "style",
            "intensity",
            "detection_range",
            "threshold",
            "hold_ms",
            "margin",
            "shape",
            "camera",
            "output",
            "width",
            "height",
            "fps",
            "mode",
        )
        if (v := getattr(args, k, None)) is not None
    }
    return replace(cfg, **overrides)


def anonymizer_settings(cfg: config.Config, *, live: bool, show_enrolled: bool = False) -> AnonymizerSettings:
    """Settings for the camera (`live`) or files. The enrolment is read here, for both: the camera may
    switch to "all-but-me" at any time; files use it with `show_enrolled`."""
    identity = enrolment.identity_settings(
        EnrolmentStore.default(), enrolment.print_to_stderr, show_enrolled=show_enrolled
    )
    scan = ScanSettings(
        detection_range=cfg.detection_range,  # type: ignore[arg-type]
        threshold=cfg.threshold,
        # Files have no frame budget: CenterFace sees the full resolution there.
        centerface_width=640 if live else 0,
    )
    return AnonymizerSettings(
        scan=scan,
        tracker=TrackerSettings(hold_s=cfg.hold_ms / 1000),
        # Files have no deadline: scanning every tile of an 8000x8000 photo takes ~10 s, which is no hang.
        hang_after_s=3.0 if live else 600.0,
        two_tiers=live,
        file_sweep_s=0.0 if live else FILE_SWEEP_S,
        identity=identity,
    )


def _effect(cfg: config.Config) -> effects.EffectSettings:
    return effects.EffectSettings(
        style=cfg.style,  # type: ignore[arg-type]
        intensity=cfg.intensity,
        margin=cfg.margin,
        mesh_outline=cfg.shape == "mesh",
    )


def _is_camera(spec: str | Path) -> bool:
    return isinstance(spec, str) and (spec.isdigit() or spec.startswith("/dev/"))


def _single_instance(endpoint: control.Endpoint) -> control.InstanceLock | None:
    """Take the instance lock, or ask the running camera to show itself and return None."""
    lock = control.InstanceLock(endpoint)
    if lock.acquire():
        return lock
    try:
        control.request(endpoint, {"cmd": "show"})
        print("Face Anonymizer Camera is already running; asked it to show its preview.", file=sys.stderr)
    except control.ControlError as exc:
        raise CliError(f"another vcam holds the camera but does not answer ({exc})") from None
    return None


def cmd_run(cfg: config.Config, args: argparse.Namespace) -> int:
    native_memory.limit_arenas()  # before any thread starts: see vcam/native_memory.py
    endpoint = control.Endpoint.default()
    lock = _single_instance(endpoint)
    if lock is None:
        return 0
    try:
        return _run_locked(cfg, args, endpoint)
    finally:
        lock.release()


def _run_locked(cfg: config.Config, args: argparse.Namespace, endpoint: control.Endpoint) -> int:
    """The camera itself, once this process holds the instance lock."""
    from vcam.app.service import CameraService, SourceSpec
    from vcam.pipeline.sinks import open_output
    from vcam.pipeline.sources import open_source

    tray = None if args.no_tray else _try_tray()
    file = assets.assets_dir() / assets.DEMO_CLIP if args.demo else args.input
    spec: str | Path = file if file is not None else cfg.camera
    controls = LiveControls(
        ControlState(
            enabled=not args.off,
            style=cfg.style,
            intensity=cfg.intensity,
            detection_range=cfg.detection_range,
            margin=cfg.margin,
            camera=cfg.camera,
            mode=cfg.mode,
        )
    )
    first = None
    try:
        # Open once up front so a missing camera or bad file is reported now, clearly.
        first = open_source(
            spec, loop=file is not None, pace=file is not None, width=cfg.width, height=cfg.height, fps=cfg.fps
        )
        size, fps = first.size, first.fps
    except SourceError as exc:
        if tray is None or file is not None:
            raise
        # With the tray (e.g. started at login before the webcam is plugged in): curtain and keep retrying.
        print(f"vcam: {exc}\nPublishing the privacy curtain until the camera appears.", file=sys.stderr)
        size, fps = (cfg.width, cfg.height), cfg.fps
    choice = open_output(cfg.output, size[0], size[1], fps, best_effort=args.demo)
    print(choice.note, file=sys.stderr)
    loop = file is not None
    if file is not None and isinstance(choice.sink, VideoFileSink):
        # Writing to a file: play the input once instead of looping into an endless file.
        first.close()
        first, loop = None, False
    if args.off:
        print("WARNING: anonymization is OFF: real faces are published.", file=sys.stderr)
    settings = anonymizer_settings(cfg, live=True)
    if cfg.mode == "all-but-me" and not settings.identity.enrolled:
        print("warning: mode all-but-me, but no face is enrolled: everyone is hidden (vcam enroll)", file=sys.stderr)
    service = CameraService(
        controls,
        SourceSpec(file=file, loop=loop, width=cfg.width, height=cfg.height, fps=cfg.fps),
        choice.sink,
        settings,
        fps=fps,
        config_file=args.config,
        on_stats=(lambda s: print(s.line(), file=sys.stderr)) if args.stats else None,
        first_source=first,
        # Only the virtual camera is worth reopening when lost; a file or window is not coming back.
        open_sink=(lambda: open_output("virtual", size[0], size[1], fps).sink) if cfg.output == "virtual" else None,
        on_event=lambda message: print(f"vcam: {message}", file=sys.stderr),
    )
    server = control.ControlServer(endpoint, service.handle)
    signal.signal(signal.SIGTERM, lambda *_: service.request_stop())
    signal.signal(signal.SIGINT, lambda *_: service.request_stop())
    timer = threading.Timer(args.seconds or 0, service.request_stop)
    timer.daemon = True  # a stop before the timer fires must not keep the process waiting for it
    if args.seconds:
        timer.start()
    service.start()
    try:
        if tray is not None:
            from vcam.app.autostart import Autostart
            from vcam.app.tray import TrayApp

            TrayApp(tray, service, Autostart(), camera_menu=file is None).run()
        else:
            while not service.wait(0.2):
                pass
    finally:
        timer.cancel()
        service.stop()
        server.close()
    print(service.stats().line(), file=sys.stderr)
    if service.save_note:
        print(f"warning: {service.save_note}", file=sys.stderr)
    return 0


def _try_tray():
    from vcam.app.tray import TrayUnavailable, load_pystray

    try:
        return load_pystray()
    except TrayUnavailable as exc:
        print(f"vcam: {exc}", file=sys.stderr)
        return None


def cmd_ctl(args: argparse.Namespace) -> int:
    req: dict[str, object] = {"cmd": args.action}
    if args.action == "set":
        if len(args.words) != 2:
            raise CliError("usage: vcam ctl set KEY VALUE   (e.g. vcam ctl set intensity 80)")
        req["key"], req["value"] = args.words
    elif args.words:
        raise CliError(f"vcam ctl {args.action} takes no arguments")
    answer = control.request(control.Endpoint.default(), req)
    if args.action == "quit":
        print("stopping", file=sys.stderr)
        return 0
    print(answer["line"])
    if args.action == "status":
        for key, value in answer["controls"].items():
            print(f"  {key} = {value}")
    if answer.get("save_note"):
        print(f"warning: {answer['save_note']}", file=sys.stderr)
    return 0


def cmd_autostart(args: argparse.Namespace) -> int:
    from vcam.app.autostart import Autostart

    auto = Autostart()
    if args.action == "enable":
        print(f"start at login enabled: {auto.enable()}")
    elif args.action == "disable":
        print(f"start at login disabled: {auto.disable()}")
    else:
        print(auto.describe())
    return 0


def cmd_anonymize(cfg: config.Config, args: argparse.Namespace) -> int:
    from vcam.pipeline.batch import BatchOptions, anonymize_batch

    inputs, ray = list(args.inputs), args.ray
    if ray and not _is_ray_address(ray):
        inputs.insert(0, Path(ray))  # `--ray FOLDER ...`: the optional address swallowed the first input
        ray = ""
    if not inputs:
        raise CliError("anonymize: give at least one image, video or folder")
    output = Path(args.output) if args.output else None
    if output is not None and args.output.endswith(("/", os.sep)):
        try:
            output.mkdir(parents=True, exist_ok=True)  # a trailing slash asks for a folder
        except OSError as exc:
            raise CliError(f"{output}: cannot create the folder ({exc.strerror})") from exc
    settings = anonymizer_settings(cfg, live=False, show_enrolled=args.show_enrolled)
    if args.show_enrolled and not settings.identity.enrolled:
        raise CliError("--show-enrolled: no face is enrolled (vcam enroll --from FILE, or vcam enroll at the camera)")
    options = BatchOptions(
        workers=args.workers, resume=args.resume, report=args.report, keep_audio=args.keep_audio, ray=ray
    )
    try:
        outcome = anonymize_batch(
            inputs,
            output,
            settings,
            _effect(cfg),
            options,
            say=lambda m: print(m, file=sys.stderr),
        )
    except RuntimeError as exc:  # --ray without Ray, or a cluster that cannot be reached
        raise CliError(str(exc)) from exc
    results = outcome.files
    failed = [r for r in results if r.error]
    done = [r for r in results if not r.error and not r.skipped]
    print(
        f"{len(done)} done, {len(results) - len(done) - len(failed)} skipped, {len(failed)} failed "
        f"in {outcome.seconds:.1f} s ({outcome.runner})",
        file=sys.stderr,
    )
    if outcome.interrupted:
        print("interrupted: finished files are kept, no partial output left; --resume continues", file=sys.stderr)
        return 130
    if failed:
        print(f"{len(failed)} of {len(results)} input(s) failed", file=sys.stderr)
        return 1
    return 0


def _enter_sandbox() -> vcam_sandbox.SandboxStatus:
    status = vcam_sandbox.install()
    if not status.active and vcam_sandbox.unsupported() is None:
        print(f"warning: network sandbox not active: {status.detail}", file=sys.stderr)
    return status


def _is_ray_address(value: str) -> bool:
    """`auto`, `HOST:PORT` or `ray://HOST:PORT`, and not a file or folder that happens to look like one."""
    return (value == "auto" or ":" in value) and not Path(value).exists()


def _wants_ray(argv: list[str]) -> bool:
    """`vcam anonymize --ray`: Ray talks to its cluster over TCP, so that mode cannot be sandboxed."""
    if argv[:1] != ["anonymize"] or not any(a == "--ray" or a.startswith("--ray=") for a in argv):
        return False
    print("note: --ray: the no-network sandbox is off for this run (Ray needs the network)", file=sys.stderr)
    return True


def entry() -> int:
    """The `vcam` command: `main` inside the no-network sandbox. Ctrl-C anywhere ends with a line, not a
    traceback (`vcam run` and the batch of `vcam anonymize` handle it themselves, and clean up)."""
    try:
        return main(sys.argv[1:], sandbox=True)
    except KeyboardInterrupt:
        print("\nvcam: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None, *, sandbox: bool = False) -> int:
    """Run one vcam command. With `sandbox` (the `vcam` command), the process first loses the right to
    create internet sockets, before any model, camera or file is opened (`vcam.sandbox`)."""
    # File names that are not valid UTF-8 (surrogate-escaped by Python) must print, not crash the message.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else list(argv)
    # `vcam setup` runs pkexec/sudo, which the sandbox's no_new_privs would stop from becoming root; it opens
    # no model, camera or file of the user's, and no socket.
    sandboxed = _enter_sandbox() if sandbox and argv[:1] != ["setup"] and not _wants_ray(argv) else None
    if argv[:1] == ["eval"]:
        # `vcam eval` has its own options (argparse's REMAINDER cannot pass options through a subparser).
        from vcam.evaluation.evaluate import main as eval_main

        return eval_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *argv])
    if args.command == "doctor":
        from vcam.app.doctor import main as doctor_main

        return doctor_main(sandboxed)
    try:
        if args.command == "ctl":
            return cmd_ctl(args)
        if args.command == "autostart":
            return cmd_autostart(args)
        if args.command == "setup":
            from vcam.app.setup import run_setup

            return run_setup(dry_run=args.dry_run, assume_yes=args.yes)
    except (CliError, control.ControlError, OSError) as exc:
        print(f"vcam: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "verbose", False):
        os.environ["VCAM_DEBUG"] = "1"  # the switch detect.quiet_native_stderr reads when a model loads
    cfg, warnings = config.load(args.config)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    cfg = _settings(cfg, args)
    try:
        if args.command == "run":
            return cmd_run(cfg, args)
        if args.command == "enroll":
            try:
                return enrolment.cmd_enroll(args, cfg.camera, enrolment.print_to_stderr)
            except ValueError as exc:  # no usable face, an unreadable file, no recognizer: said in one line
                raise CliError(str(exc)) from exc
        if args.command == "forget-me":
            return enrolment.cmd_forget()
        return cmd_anonymize(cfg, args)
    except (CliError, SinkError, SourceError, control.ControlError, FileNotFoundError) as exc:
        print(f"vcam: {exc}", file=sys.stderr)
        return 2
