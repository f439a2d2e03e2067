"""`python -m vcam` is the same as `vcam`."""

from vcam.app.cli import entry

raise SystemExit(entry())
