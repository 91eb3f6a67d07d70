"""Past report runs and their files, for ``/api/gpu-analysis/reports`` and the web page.

The runs are the state database's records (what ``gpureport history`` lists); a run's files
are the paths it recorded. A file is served only if it is one of those paths, has the format's
suffix, and lies under the configured report directory (``report_dir``, default
``<data dir>/reports``) — a record cannot make the service read anything else. Where the files
were not kept (another machine's disk, cleaned up) the listing says so and the link is left out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.periods import iso
from agent.settings import data_dir
from reporter.config import Config
from reporter.statedb import StateDB

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
# served reports are self-contained documents: nothing to load, nothing to run
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def report_root(config: Config) -> Path:
    base = Path(config.report_dir).expanduser() if config.report_dir else data_dir() / "reports"
    return base.resolve()


def _kept(path: str, root: Path, fmt: str) -> Path | None:
    p = Path(path)
    if p.suffix.lower() != f".{fmt}":
        return None
    try:
        resolved = p.resolve()
    except OSError:
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def _time(value: datetime | None) -> str | None:
    return iso(value) if value else None


def list_reports(state: StateDB, config: Config, *, limit: int, offset: int,
                 base_url: str = "") -> dict:
    """Newest first: ``reports`` [{id, schedule, kind, period_start, period_end, status,
    started_at, finished_at, dry_run, files: {html, pdf} (links, only where kept)}]."""
    root = report_root(config)
    rows = state.list_runs(limit + offset)[offset:]
    out = []
    for r in rows:
        files = {}
        for fmt in FORMATS:
            if any(_kept(f, root, fmt) for f in (r.files or [])):
                files[fmt] = f"{base_url}/api/gpu-analysis/reports/{r.id}.{fmt}"
        out.append({"id": r.id, "schedule": r.schedule, "kind": r.kind,
                    "period_start": _time(r.period_start), "period_end": _time(r.period_end),
                    "status": r.status, "started_at": _time(r.started_at),
                    "finished_at": _time(r.finished_at), "dry_run": bool(r.dry_run),
                    "error": r.error, "files": files})
    return {"reports": out, "limit": limit, "offset": offset, "count": len(out)}


def report_file(state: StateDB, config: Config, run_id: int, fmt: str) -> Path | None:
    """The kept ``fmt`` file of run ``run_id``, or None."""
    if fmt not in FORMATS:
        return None
    run = state.get_run(run_id)
    if run is None:
        return None
    root = report_root(config)
    return next((p for p in (_kept(f, root, fmt) for f in (run.files or [])) if p), None)


__all__ = ["FORMATS", "REPORT_CSP", "list_reports", "report_file", "report_root"]
