"""``gpureport scheduler run`` as a process, rendering with the fake renderer.

tests/test_scheduler.py counts firings, runs and emails across real processes (leader lock,
SIGTERM); rendering real reports would only make that slow. This is what the command does,
with ``render=fake_render`` passed to the same entry point:

    python -m tests.scheduler_process --config FILE [--poll-interval SECONDS]
"""

from __future__ import annotations

import argparse
import logging
import sys

from reporter.alerts import alert_jobs
from reporter.config import load_config
from reporter.scheduler import run_scheduler
from reporter.statedb import open_state
from tests.smtp_server import fake_render


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--poll-interval", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    with open_state(config.state.database_url) as state:
        return run_scheduler(config, render=fake_render, poll_interval=args.poll_interval,
                             state=state, extra_jobs=alert_jobs(config, state))


if __name__ == "__main__":
    sys.exit(main())
