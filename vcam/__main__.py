"""`python -m vcam` is the same as `vcam`."""

from vcam.cli import main

raise SystemExit(main())
