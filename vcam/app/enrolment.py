"""`vcam enroll` and `vcam forget-me`: the user's face for "hide everyone but me", kept as numbers only.

Enrolment reads the camera for a few seconds (through the running camera when one runs: it owns the
webcam), or `--from` images and videos. Forgetting deletes the file and tells a running camera.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from vcam.app import control
from vcam.identity.enrol import EnrolSettings, open_enroller, save_enrolment
from vcam.identity.gate import IdentitySettings, with_enrolment
from vcam.identity.store import EnrolmentStore, StoreError
from vcam.pipeline.sources import SourceError, open_source, sample_frames

DEFAULT_SECONDS = 6.0
"""Long enough to turn the head left, right, up and down once at a calm pace."""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    enroll = sub.add_parser(
        "enroll",
        help='remember your face for "hide everyone but me" (only numbers are stored, never an image)',
    )
    enroll.add_argument(
        "--from", dest="files", nargs="+", type=Path, metavar="FILE", help="images or videos of you alone"
    )
    enroll.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help=f"camera time (default {DEFAULT_SECONDS:.0f})"
    )
    enroll.add_argument("--camera", help="webcam index or device path (default: the configured one)")
    sub.add_parser("forget-me", help="delete your enrolled face")


def identity_settings(store: EnrolmentStore, say: Callable[[str], None], *, show_enrolled: bool) -> IdentitySettings:
    """The anonymizer's identity settings with the stored enrolment and its own thresholds; a damaged file
    is reported and means nobody."""
    settings = IdentitySettings(show_enrolled=show_enrolled)
    try:
        enrolment = store.load()
    except StoreError as exc:
        say(f"warning: {exc}; everyone is hidden in 'all-but-me' mode")
        return settings
    if enrolment is None:
        return settings
    return with_enrolment(settings, enrolment.embeddings, enrolment.calibration)


def cmd_enroll(args: argparse.Namespace, camera: str, say: Callable[[str], None]) -> int:
    store = EnrolmentStore.default()
    if not 1 <= args.seconds <= 120:
        raise ValueError(f"--seconds must be from 1 to 120 (got {args.seconds})")
    if not args.files:
        try:  # a running camera owns the webcam: it enrols from its own frames
            answer = control.request(
                control.Endpoint.default(), {"cmd": "enroll", "seconds": args.seconds}, timeout=args.seconds + 60
            )
            print(answer["line"])
            return 0
        except control.ControlError as exc:
            if "not running" not in str(exc):
                raise
    settings = EnrolSettings()
    try:
        with open_enroller(settings) as enroller:
            if args.files:
                result = enroller.run(sample_frames(list(args.files), settings.every_s))
            else:
                source = open_source(args.camera or camera)
                say(f"enrolling for {args.seconds:.0f} s: look at the camera, then turn and tilt your head slowly")
                try:
                    result = enroller.run_live(source.read, args.seconds, guide=lambda advice: say(f"  {advice}"))
                finally:
                    source.close()
    except SourceError as exc:
        raise ValueError(str(exc)) from exc
    for where, why in result.refused[:5]:
        say(f"  refused {where}: {why}")
    line, _ = save_enrolment(result, settings, store)
    print(line)
    return 0


def cmd_forget() -> int:
    store = EnrolmentStore.default()
    removed = store.forget()
    try:
        control.request(control.Endpoint.default(), {"cmd": "forget"})
    except control.ControlError:
        pass  # nothing runs (or it cannot be reached): the file is what counts
    print(f"forgotten: {store.path} deleted" if removed else "nothing to forget: no face is enrolled")
    return 0


def print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)
