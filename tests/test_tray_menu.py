"""The tray menu model without a display (pystray's dummy backend), driving a real running service."""

from __future__ import annotations

import time

import pytest
from test_control import faces_hidden, make_service, newest_after

from vcam.app import config
from vcam.app.autostart import Autostart
from vcam.app.icons import icon_image
from vcam.pipeline.controls import ControlState
from vcam.pipeline.live import ANONYMIZING, CURTAIN, NO_CAMERA, PAUSED


@pytest.fixture
def pystray(monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray

    return pystray


def submenu(menu, text):
    return {entry.text: entry for entry in menu.find(text).submenu.items}


def test_menu_items_drive_the_running_camera_and_the_config(
    sample_path, tmp_path, recording_backend, pystray, monkeypatch
):
    from vcam.app.tray import TrayMenu

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    service, original = make_service(sample_path, tmp_path)
    quits = []
    menu = TrayMenu(
        pystray, service, Autostart(platform="linux", command=["/opt/vcam"]), on_quit=lambda: quits.append(1)
    )
    service.start()
    try:
        assert service.anonymizer.wait_ready(30)
        status = menu.build().items[0]
        assert not status.enabled
        toggle = menu.find("Anonymize faces")
        assert toggle.checked and not toggle.default, "a click on the icon must never pause anonymization"

        t = time.monotonic()
        toggle(None)
        assert not toggle.checked and service.controls.snapshot().enabled is False
        assert (newest_after(recording_backend, t) == original).all()
        assert service.state() == PAUSED and "PAUSED" in status.text
        toggle(None)
        assert service.controls.snapshot().enabled

        for label, value in (("Low", 40), ("Maximum", 100), ("High", 85)):
            items = submenu(menu, "Intensity")
            items[label](None)
            assert service.controls.snapshot().intensity == value
            assert [e.text for e in submenu(menu, "Intensity").values() if e.checked] == [label]
            assert all(e.radio for e in items.values())
        t = time.monotonic()
        submenu(menu, "Style")["Pixelate"](None)
        assert service.controls.snapshot().style == "pixelate"
        assert faces_hidden(newest_after(recording_backend, t), original)
        submenu(menu, "Detection range")["Far"](None)
        assert service.controls.snapshot().detection_range == "far"
        assert [e.text for e in submenu(menu, "Detection range").values() if e.checked] == ["Far"]
        cameras = submenu(menu, "Camera")
        assert any(e.checked for e in cameras.values())

        saved, warnings = config.load(tmp_path / "config.toml")
        assert not warnings
        assert (saved.intensity, saved.style, saved.detection_range) == (85, "pixelate", "far")

        login = menu.find("Start at login")
        assert not login.checked
        login(None)
        entry = tmp_path / ".config" / "autostart" / "face-anonymizer-camera.desktop"
        assert login.checked and "Exec=/opt/vcam" in entry.read_text()
        login(None)
        assert not login.checked and not entry.exists()

        menu.find("Show preview")(None)
        assert service.controls.snapshot().preview
        menu.find("Quit")(None)
        assert quits == [1]
    finally:
        service.stop()


def test_bad_config_file_is_kept_and_the_change_still_applies(sample_path, tmp_path, recording_backend, pystray):
    from vcam.app.tray import TrayMenu

    bad = 'style = "invisible"\nintensity = 70\n'
    (tmp_path / "config.toml").write_text(bad)
    service, _ = make_service(sample_path, tmp_path)
    menu = TrayMenu(pystray, service, Autostart(platform="linux", home=tmp_path), on_quit=lambda: None)
    submenu(menu, "Intensity")["High"](None)
    assert service.controls.snapshot().intensity == 85
    assert (tmp_path / "config.toml").read_text() == bad, "a file with errors is never rewritten"
    assert "style" in service.save_note and "not saved" in service.save_note
    service.stop()


def test_no_menu_backend_toggles_on_click(sample_path, tmp_path, recording_backend, pystray):
    from vcam.app.tray import TrayMenu

    service, _ = make_service(sample_path, tmp_path, ControlState(camera="/dev/video7"))
    menu = TrayMenu(pystray, service, Autostart(platform="linux", home=tmp_path), on_quit=lambda: None, has_menu=False)
    toggle = menu.find("Anonymize faces")
    assert toggle.default and not menu.find("Show preview").default
    assert "Camera /dev/video7" in submenu(menu, "Camera"), "the configured camera is offered even when not found"
    service.stop()


def test_icons_differ_per_state():
    images = {state: icon_image(state).tobytes() for state in (ANONYMIZING, PAUSED, CURTAIN, NO_CAMERA)}
    assert len(set(images.values())) == 4
    assert icon_image(PAUSED).getpixel((32, 6))[:3] != icon_image(ANONYMIZING).getpixel((32, 6))[:3]


def test_hide_everyone_but_me_items(sample_path, tmp_path, recording_backend, pystray, monkeypatch):
    """The mode radio switches and is saved; "Keep my face visible…" on a camera showing two people is
    refused with the reason in the menu and leaves the mode as it was; "Forget my face" is offered only
    when a face is enrolled."""
    from vcam.app import tray
    from vcam.app.tray import TrayMenu
    from vcam.identity.recognizer import EMBEDDING_SIZE

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(tray, "ENROL_SECONDS", 1.5)
    service, _ = make_service(sample_path, tmp_path)
    menu = TrayMenu(pystray, service, Autostart(platform="linux", command=["/opt/vcam"]), on_quit=lambda: None)
    service.start()
    try:
        assert service.anonymizer.wait_ready(30)
        assert menu.find("Hide everyone").checked and not menu.find("Hide everyone but me").checked
        assert not menu.find("Forget my face").enabled
        menu.find("Hide everyone but me")(None)
        assert service.controls.snapshot().mode == "all-but-me"
        assert "no face enrolled: everyone hidden" in service.status_line()
        assert 'mode = "all-but-me"' in (tmp_path / "config.toml").read_text()
        menu.find("Hide everyone")(None)

        menu.find("Keep my face visible…")(None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (service.enrolling or not service.identity_note):
            time.sleep(0.1)
        note = menu.build().items[1]
        assert note.visible and "2 faces (be alone in the picture)" in note.text
        assert service.controls.snapshot().mode == "everyone" and not service.store.exists()

        import numpy as np

        from vcam.identity.impostors import Calibration

        service.store.save(np.eye(EMBEDDING_SIZE, dtype=np.float32)[:1], Calibration(0.4, 0.55, "test"))
        assert menu.find("Forget my face").enabled
        menu.find("Forget my face")(None)
        assert not service.store.exists() and "forgotten" in service.identity_note
    finally:
        service.stop()
