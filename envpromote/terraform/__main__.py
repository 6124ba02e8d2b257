"""``python -m envpromote.terraform ARGS``: run the resolved engine with ARGS (exit code passed on)."""

from envpromote.terraform.engine import main

raise SystemExit(main())
