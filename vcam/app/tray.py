"""The system-tray icon and its menu, built from the running service's LiveControls.

pystray is imported only here and only when a tray is wanted: on Linux
without a display its import raises (Xlib.error.DisplayNameError, not an
ImportError). Item texts and checked states are callables read when the menu
is drawn; after changes that did not come from the menu (`vcam ctl`, the
preview window closed, the camera lost) the icon and menu are refreshed.
Pausing anonymization is always an explicit menu choice, never a stray click,
except on backends without menus, where a click is the only control there is.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from vcam.app.autostart import Autostart
from vcam.app.icons import icon_image
from vcam.app.service import CameraService
from vcam.pipeline.preview import display_available
from vcam.pipeline.sources import list_cameras

INTENSITIES = (("Low", 40), ("Medium", 70), ("High", 85), ("Maximum", 100))
STYLES = (
    ("Blur", "blur"),
    ("Pixelate", "pixelate"),
    ("Solid", "solid"),
    ("Mask", "mask"),
    ("Emoji", "emoji"),
    ("Avatar", "avatar"),
)
RANGES = (("Near", "near"), ("Far", "far"), ("Auto", "auto"))
ENROL_SECONDS = 6.0
"""As `vcam enroll`: long enough to turn the head left, right, up and down once."""
ENROLLING = "Enrolling: look at the camera, turn your head slowly…"
NO_MENU_HELP = (
    "The tray backend here has no menus (pystray's Xorg backend): clicking the icon toggles anonymization. "
    "For the full menu install PyGObject and AppIndicator: "
    "sudo apt install gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev && "
    'pip install "face-anonymizer-camera[tray]" (or use a venv with --system-site-packages and python3-gi).'
)


class TrayUnavailable(Exception):
    """No tray can be shown here (no display, or pystray has no working backend)."""


def load_pystray() -> Any:
    """Import pystray, preferring AppIndicator on Linux; TrayUnavailable with the reason otherwise."""
    if not display_available():
        raise TrayUnavailable("no display (DISPLAY is not set): running without a tray; control it with `vcam ctl`")
    try:
        import pystray
    except Exception as exc:  # noqa: BLE001 - Xlib and GTK raise their own error types at import
        raise TrayUnavailable(f"no system tray available ({type(exc).__name__}: {exc})") from exc
    return pystray


class TrayMenu:
    """The menu model: pure logic over a service and an Autostart, testable with pystray's dummy backend."""

    def __init__(
        self,
        pystray: Any,
        service: CameraService,
        autostart: Autostart,
        *,
        on_quit: Callable[[], None],
        has_menu: bool = True,
        camera_menu: bool = True,
    ) -> None:
        self.pystray = pystray
        self.service = service
        self.controls = service.controls
        self.autostart = autostart
        self.on_quit = on_quit
        self.has_menu = has_menu
        self.camera_menu = camera_menu
        self.autostart_error: str | None = None

    def _set(self, **changes: object) -> Callable[..., None]:
        return lambda *_: self.controls.update(**changes)

    def _is(self, name: str, value: object) -> Callable[..., bool]:
        return lambda *_: getattr(self.controls.snapshot(), name) == value

    def _radio(self, name: str, choices: tuple[tuple[str, object], ...]) -> Any:
        item = self.pystray.MenuItem
        return self.pystray.Menu(
            *(
                item(label, self._set(**{name: value}), checked=self._is(name, value), radio=True)
                for label, value in choices
            )
        )

    def _camera_items(self) -> tuple[Any, ...]:
        cameras = [(c.label, c.spec) for c in list_cameras()]
        current = self.controls.snapshot().camera
        if current not in {spec for _, spec in cameras}:
            cameras.insert(0, (f"Camera {current}", current))
        return self._radio("camera", tuple(cameras)).items

    def _cameras(self) -> Any:
        # Listed again whenever the menu is rebuilt, so a webcam plugged in later shows up.
        return self.pystray.Menu(self._camera_items)

    def toggle_autostart(self, *_: object) -> None:
        try:
            if self.autostart.enabled():
                self.autostart.disable()
            else:
                self.autostart.enable()
            self.autostart_error = None
        except OSError as exc:
            self.autostart_error = f"start at login failed: {exc}"

    def enrol(self, *_: object) -> None:
        """The item "Keep my face visible…": enrol from the camera on a thread of its own (the menu stays
        live), then switch to "Hide everyone but me". The outcome shows in the menu."""

        def work() -> None:
            try:
                self.service.enrol(ENROL_SECONDS)
            except ValueError:
                return  # the service keeps the reason for the status line
            self.controls.update(mode="all-but-me")

        if not self.service.enrolling:
            threading.Thread(target=work, name="vcam-enrol", daemon=True).start()

    def toggle_enabled(self, *_: object) -> None:
        self.controls.update(enabled=not self.controls.snapshot().enabled)

    def build(self) -> Any:
        item, sep = self.pystray.MenuItem, self.pystray.Menu.SEPARATOR
        entries = [
            item(lambda *_: self.autostart_error or self.service.status_line(), None, enabled=False),
            item(
                lambda *_: self.service.identity_note or "",
                None,
                enabled=False,
                visible=lambda *_: bool(self.service.identity_note),
            ),
            sep,
            # Without menus the click is the only control, so it toggles; with menus a click must never pause.
            item(
                "Anonymize faces",
                self.toggle_enabled,
                checked=lambda *_: self.controls.snapshot().enabled,
                default=not self.has_menu,
            ),
            item("Intensity", self._radio("intensity", INTENSITIES)),
            item("Style", self._radio("style", STYLES)),
            item("Detection range", self._radio("detection_range", RANGES)),
        ]
        if self.camera_menu:
            entries.append(item("Camera", self._cameras()))
        entries += [
            sep,
            item("Hide everyone", self._set(mode="everyone"), checked=self._is("mode", "everyone"), radio=True),
            item(
                "Hide everyone but me",
                self._set(mode="all-but-me"),
                checked=self._is("mode", "all-but-me"),
                radio=True,
            ),
            item(
                lambda *_: ENROLLING if self.service.enrolling else "Keep my face visible…",
                self.enrol,
                enabled=lambda *_: not self.service.enrolling,
            ),
            item("Forget my face", lambda *_: self.service.forget(), enabled=lambda *_: self.service.store.exists()),
            sep,
            item(
                "Show preview",
                lambda *_: self.controls.update(preview=not self.controls.snapshot().preview),
                checked=lambda *_: self.controls.snapshot().preview,
                default=self.has_menu,
            ),
            item("Start at login", self.toggle_autostart, checked=lambda *_: self.autostart.enabled()),
            sep,
            item("Quit", lambda *_: self.on_quit()),
        ]
        return self.pystray.Menu(*entries)

    def find(self, text: str) -> Any:
        """The top-level item with this text (tests and the smoke test drive the menu through it)."""
        for entry in self.build().items:
            if entry.text == text:
                return entry
        raise KeyError(text)


class TrayApp:
    """Runs the icon on the calling (main) thread until Quit or until the service stops."""

    def __init__(self, pystray: Any, service: CameraService, autostart: Autostart, *, camera_menu: bool = True):
        self.pystray = pystray
        self.service = service
        self.has_menu = bool(getattr(pystray.Icon, "HAS_MENU", True))
        self.menu = TrayMenu(
            pystray, service, autostart, on_quit=self.quit, has_menu=self.has_menu, camera_menu=camera_menu
        )
        self._state = ""
        self._stop = threading.Event()
        self.icon = pystray.Icon("vcam", icon_image("starting"), "Face Anonymizer Camera", self.menu.build())
        service.add_listener(self.refresh)
        service.controls.subscribe(lambda _s: self.refresh())

    def refresh(self) -> None:
        """Redraw the icon if the state changed and rebuild the menu texts (safe from any thread)."""
        stats = self.service.stats()
        state = self.service.state(stats)
        if state != self._state:
            self._state = state
            self.icon.icon = icon_image(state)
        self.icon.title = f"Face Anonymizer Camera: {self.service.status_line(stats)}"
        with contextlib.suppress(Exception):  # some backends refuse updates before the icon is shown
            self.icon.update_menu()
        if not self.service.running:
            self.quit()

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        backend = type(icon).__module__.rsplit("_", 1)[-1]
        print(f"tray icon shown ({backend} backend{'' if self.has_menu else ', no menu'})", file=sys.stderr)
        if not self.has_menu:
            print(NO_MENU_HELP, file=sys.stderr)
        while not self._stop.wait(1.0):
            self.refresh()

    def quit(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self.service.stop()
        self.icon.stop()

    def run(self) -> None:
        try:
            self.icon.run(setup=self._setup)
        except Exception as exc:  # noqa: BLE001 - GLib raises on Quit when no notification daemon runs
            if not self._stop.is_set():
                raise TrayUnavailable(f"the tray stopped: {exc}") from exc
        finally:
            self.quit()
