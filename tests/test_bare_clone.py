"""A bare clone (no ../shared/eval) runs the tests on the shipped set; CI makes the full-set tests required."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from conftest import DATA, ROOT


def test_every_shipped_file_has_its_license_attribution_and_checksum():
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    readme = (DATA / "README.md").read_text()
    assert {f["type"] for f in files} == {"image", "video"}
    for entry in files:
        path = DATA / entry["file"]
        assert path.is_file(), entry["file"]
        assert entry["license"].startswith("CC-BY-4.0") and "Intel IoT Devkit" in entry["attribution"]
        assert path.name in readme or path.name.split("__")[-1] in readme, f"{path.name} not in tests/data/README.md"
        if "sha256" in entry:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["file"]
        if entry["type"] == "image":
            assert entry["gt_boxes"], f"{entry['file']}: a shipped image needs its face boxes"


def run_full_set_test(**env: str) -> subprocess.CompletedProcess:
    """One test that needs the full evaluation set, with that set missing."""
    environ = {**os.environ, "VCAM_EVAL_DIR": str(ROOT / "no-such-eval-set"), **env}
    if "VCAM_REQUIRE_EVAL" not in env:
        environ.pop("VCAM_REQUIRE_EVAL", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "test_metrics.py::test_manifest_invalid_boxes_are_ignored_not_dropped",
        ],
        cwd=ROOT / "tests",
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_full_set_its_tests_skip_with_a_reason_and_ci_makes_them_fail():
    skipped = run_full_set_test()
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    assert "needs the full evaluation set" in skipped.stdout
    required = run_full_set_test(VCAM_REQUIRE_EVAL="1")
    assert required.returncode != 0 and "1 error" in required.stdout, required.stdout  # the fixture fails
