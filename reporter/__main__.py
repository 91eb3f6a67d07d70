"""``python -m reporter`` = ``gpureport``."""

from reporter.cli import main

main()
