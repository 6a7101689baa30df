"""``python -m localvision``: see ``localvision.cli``."""

from localvision.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
