"""``python -m rdapctl``."""

from rdapctl.cli import main

if __name__ == "__main__":
    main()
