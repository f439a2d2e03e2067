"""The running camera: source, anonymizer, live pipeline and sink, steered by LiveControls.

`vcam` (with the tray) and `vcam run --no-tray` both run one `CameraService`.
It owns the one place where a control change takes effect: the pipeline reads
the controls every frame, a camera change reopens the source, and each change
is saved to the config file. It also answers the local control channel
(`vcam ctl`), which is how a second start or a hotkey script reaches it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from vcam.app import config
from vcam.identity.enrol import EnrolSettings, open_enroller, save_enrolment
from vcam.identity.recognizer import EMBEDDING_SIZE
from vcam.identity.store import EnrolmentStore
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import ControlState, LiveControls
from vcam.pipeline.live import ANONYMIZING, OVERLOADED, PAUSED, LivePipeline, Stats, share_the_cores
from vcam.pipeline.preview import PreviewWindow
from vcam.pipeline.sinks import Sink
from vcam.pipeline.sources import Source, open_source

# Settings the tray and `vcam ctl set` may change; `enabled` is never saved: the camera always starts anonymizing.
SAVED_CONTROLS = ("style", "intensity", "detection_range", "camera", "margin", "mode")
SETTABLE = ("style", "intensity", "detection_range", "camera", "margin", "preview", "mode")


@dataclass(frozen=True)
class SourceSpec:
    """What to read: a camera (its spec comes from the controls, so the tray can switch it) or a file."""

    file: Path | None = None
    loop: bool = True
    width: int = 1280
    height: int = 720
    fps: float = 30.0

    def opener(self, controls: LiveControls) -> Callable[[], Source]:
        if self.file is not None:
            path = self.file
            return lambda: open_source(path, loop=self.loop, pace=True, width=self.width, height=self.height)
        return lambda: open_source(controls.snapshot().camera, width=self.width, height=self.height, fps=self.fps)


class CameraService:
    """Start with `start()`, stop with `stop()` (idempotent, from any thread); `wait()` blocks until stopped."""

    def __init__(
        self,
        controls: LiveControls,
        source: SourceSpec,
        sink: Sink,
        anonymizer_settings: AnonymizerSettings,
        *,
        fps: float,
        config_file: Path | None = None,
        save_settings: bool = True,
        on_stats: Callable[[Stats], None] | None = None,
        first_source: Source | None = None,
        open_sink: Callable[[], Sink] | None = None,
        on_event: Callable[[str], None] | None = None,
        store: EnrolmentStore | None = None,
    ) -> None:
        self.controls = controls
        self._config_file = config_file
        self._save_settings = save_settings
        self.save_note: str | None = None
        self._stopped = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self.preview = PreviewWindow(self.status_line, on_closed=lambda: self._set_quietly(preview=False))
        share_the_cores()
        self.anonymizer = Anonymizer(anonymizer_settings)
        opener = source.opener(controls)
        pending = [first_source] if first_source is not None else []
        self.pipeline = LivePipeline(
            lambda: pending.pop() if pending else opener(),
            sink,
            self.anonymizer,
            controls,
            fps=fps,
            on_stats=on_stats,
            on_output=self.preview.offer,
            open_sink=open_sink,
            on_event=on_event,
        )
        self.store = store or EnrolmentStore.default()
        self.enrolling = False
        self.identity_note: str | None = None
        """The last enrolment's or forgetting's outcome, for the tray's status."""
        self._enrol_lock = threading.Lock()
        self._closed = False
        self._stop_lock = threading.Lock()
        self._last_state = controls.snapshot()
        controls.subscribe(self._changed)
        self._thread = threading.Thread(target=self._run, name="vcam-pipeline", daemon=True)

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        if self.controls.snapshot().preview:
            self.preview.show()

    def _run(self) -> None:
        try:
            self.pipeline.run()
        finally:
            self._stopped.set()
            self._notify()

    def request_stop(self) -> None:
        """Ask the camera to stop, without waiting (signal handlers, timers, `vcam ctl quit`); the thread in
        `wait()` then calls `stop()`."""
        self.pipeline.stop()

    def stop(self) -> None:
        """Release camera, models and virtual device; safe to call twice, from any thread and signal handlers.

        A second caller blocks until the first has finished, so nobody returns (and lets the process
        exit) while models are still being torn down on another thread: that aborted the interpreter.
        """
        self.pipeline.stop()
        if threading.current_thread() is self._thread:
            return  # the pipeline thread only asks; the caller of stop() or wait() finishes the job
        with self._stop_lock:
            if self._closed:
                return
            if self._thread.is_alive():
                self._thread.join(timeout=1.0)
            self.preview.hide()
            self.anonymizer.close()
            if self.pipeline.sink is not None:
                self.pipeline.sink.close()
            self._closed = True
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after any change not made by the caller itself (ctl, preview closed, pipeline ended)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- controls ------------------------------------------------------------------------
    def _set_quietly(self, **changes: object) -> None:
        self.controls.update(**changes)
        self._notify()

    def _changed(self, state: ControlState) -> None:
        old, self._last_state = self._last_state, state
        if state.camera != old.camera:
            self.pipeline.reopen_source()
        if state.preview != old.preview:
            if state.preview:
                self.preview.show()
            else:
                self.preview.hide()
        changes = {k: getattr(state, k) for k in SAVED_CONTROLS if getattr(state, k) != getattr(old, k)}
        if changes and self._save_settings:
            self.save_note = config.save_changes(changes, self._config_file)

    # -- status and the control channel ------------------------------------------------
    def stats(self) -> Stats:
        return self.pipeline.stats()

    def state(self, stats: Stats | None = None) -> str:
        """The pipeline's state, but a pause or resume shows at once (the pipeline only sees it on its next frame)."""
        state = (stats or self.stats()).state
        if not self.controls.snapshot().enabled:
            return PAUSED
        return ANONYMIZING if state == PAUSED else state

    def status_line(self, stats: Stats | None = None) -> str:
        """E.g. "Anonymizing · 2 faces · 30 fps"; what the tray menu and preview show (the preview, every frame)."""
        s = stats or self.stats()
        state = self.state(s)
        if state == PAUSED:
            return f"PAUSED - real faces visible · {s.fps:.0f} fps"
        faces = f"{s.faces} face{'s' if s.faces != 1 else ''}"
        head = f"Behind: {s.behind}" if state == OVERLOADED and s.behind else state.capitalize()
        if s.light and state != PAUSED:
            head = f"{head} · {s.light[0].upper()}{s.light[1:]}"
        return f"{head} · {faces}{self._identity_part(s)} · {s.fps:.0f} fps"

    def _identity_part(self, s: Stats) -> str:
        """What "hide everyone but me" is doing, for the status line (empty in the default mode)."""
        if self.enrolling:
            return " · enrolling your face"
        if self.controls.snapshot().mode != "all-but-me":
            return ""
        gate = self.anonymizer.identity_gate()
        if not gate.enrolled:
            return " · no face enrolled: everyone hidden"
        if gate.error:
            return f" · recognizer failed, everyone hidden ({gate.error})"
        return " · you visible" if s.shown else " · you hidden"

    def status(self) -> dict:
        stats = self.stats()
        return {
            "state": self.state(stats),
            "line": self.status_line(stats),
            "controls": asdict(self.controls.snapshot()),
            "stats": asdict(stats),
            "save_note": self.save_note,
        }

    # -- "hide everyone but me" ------------------------------------------------------------
    def enrol(self, seconds: float) -> str:
        """Enrol the user from this camera's own frames for `seconds` (it owns the webcam); store only
        the embeddings and use them from the next frame. ValueError says why nothing was stored."""
        with self._enrol_lock:
            self.enrolling = True
            self._notify()
            try:
                settings = EnrolSettings()
                with open_enroller(settings) as enroller:
                    result = enroller.run_live(
                        self.pipeline.newest_frame, seconds, stop=lambda: not self.running, guide=self._guide
                    )
                line, calibration = save_enrolment(result, settings, self.store)
                self.anonymizer.set_enrolled(result.embeddings, calibration)
                self.identity_note = line
                return line
            except ValueError as exc:
                self.identity_note = f"not enrolled: {exc}"
                raise
            finally:
                self.enrolling = False
                self._notify()

    def _guide(self, advice: str) -> None:
        """Enrolment's advice, live in the tray's note while it runs."""
        self.identity_note = f"enrolling: {advice}"
        self._notify()

    def forget(self) -> str:
        """Delete the enrolment and stop showing anyone at once."""
        removed = self.store.forget()
        self.anonymizer.set_enrolled(np.zeros((0, EMBEDDING_SIZE), np.float32))
        self.identity_note = "your face is forgotten" if removed else "no face was enrolled"
        self._notify()
        return self.identity_note

    def handle(self, req: dict) -> dict:
        """One control request (already checked by `control.parse_request`); ValueError for bad values."""
        cmd = req["cmd"]
        if cmd == "on":
            self._set_quietly(enabled=True)
        elif cmd == "off":
            self._set_quietly(enabled=False)
        elif cmd == "toggle":
            self._set_quietly(enabled=not self.controls.snapshot().enabled)
        elif cmd == "show":
            self._set_quietly(preview=True)
        elif cmd == "set":
            key = req["key"].replace("-", "_")
            if key == "range":
                key = "detection_range"
            if key not in SETTABLE:
                raise ValueError(f"cannot set {req['key']!r}; settable: {', '.join(SETTABLE)}")
            self._set_quietly(**{key: coerce(key, req["value"])})
        elif cmd == "enroll":
            line = self.enrol(float(req.get("seconds", 6.0)))
            return {"ok": True, **self.status(), "line": line}
        elif cmd == "forget":
            line = self.forget()
            return {"ok": True, **self.status(), "line": line}
        elif cmd == "quit":
            self.request_stop()
            return {"ok": True, "quitting": True}
        return {"ok": True, **self.status()}


def coerce(key: str, value: object) -> object:
    """Turn a command-line string into the control's type (`intensity 80` -> 80); validation happens in controls."""
    kinds = {f.name: f.type for f in fields(ControlState)}
    if not isinstance(value, str):
        return value
    kind = kinds.get(key)
    try:
        if kind in ("int", int):
            return int(value)
        if kind in ("float", float):
            return float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number (got {value!r})") from None
    if kind in ("bool", bool):
        if value.lower() in ("on", "true", "yes", "1"):
            return True
        if value.lower() in ("off", "false", "no", "0"):
            return False
        raise ValueError(f"{key} must be on or off (got {value!r})")
    return value
