"""`python -m obtui` behaves exactly like the `obtui` console script."""

from obtui.cli.main import main

raise SystemExit(main())
