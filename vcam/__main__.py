"""`python -m vcam` is the same as `vcam`."""

from vcam.cli import entry

raise SystemExit(entry())
