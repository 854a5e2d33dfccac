"""Run every benchmark (or the ones named): python -m bench [ingest] [dispatch] [scheduler]
[slack_once] [dashboard] [serve]."""

from __future__ import annotations

import sys

from bench import dashboard, dispatch, ingest, scheduler, serve, slack_once


def main() -> None:
    wanted = set(sys.argv[1:]) or {"ingest", "dispatch"}
    if "ingest" in wanted:
        ingest.report(ingest.run())
        print()
    if "dispatch" in wanted:
        dispatch.report(dispatch.run())
        print()
    if "scheduler" in wanted:
        scheduler.report(scheduler.run())
        print()
    if "slack_once" in wanted:
        slack_once.report(slack_once.run())
        print()
    if "dashboard" in wanted:
        dashboard.report(dashboard.run())
        print()
    if "serve" in wanted:
        serve.report(serve.run())


if __name__ == "__main__":
    main()
