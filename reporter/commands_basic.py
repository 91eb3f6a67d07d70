"""``gpureport demo`` and ``gpureport doctor``."""

from __future__ import annotations

import click

from agent.errors import ConfigError, ReportError
from agent.text import mask_url, one_line
from reporter.cli import Command


@click.command(cls=Command)
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option("--profile", type=click.Choice(["small", "large"]), default="small", show_default=True,
              help="small: 3 clusters, ~700 GPUs; large: benchmark size (>4,000 GPUs, >1.5M rows).")
@click.option("--reset", is_flag=True, help="Replace demo data already in the store.")
@click.pass_obj
def demo(app, seed: int, profile: str, reset: bool) -> None:
    """Fill the embedded store with three synthetic clusters and their scripted scenarios.

    The data ends at --now (default: the current hour) and covers the four ISO weeks before the
    current one. It is written only to source.database_url, and only if that database is empty
    or already holds demo data: a real Lens database is refused.
    """
    from reporter.config import ensure_data_dir
    from reporter.demo import generate

    cfg = app.config
    if cfg.source.kind == "lens":
        raise ConfigError("demo writes the embedded SQL store; source.kind is 'lens' "
                          "(unset LENS_API_URL / GPUREPORT_SOURCE)")
    if cfg.source.databases:
        raise ConfigError("demo writes source.database_url; source.databases points at Lens "
                          "databases, which gpureport never writes")
    ensure_data_dir()

    def progress(msg: str) -> None:
        if app.verbose:
            click.echo(msg, err=True)

    summary = generate(cfg.source.database_url, seed=seed, profile=profile, now=app.now,
                       reset=reset, progress=progress)
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    click.echo(f"demo data ({profile}, seed {seed}) written to {mask_url(cfg.source.database_url)}")
    click.echo(f"  clusters: {', '.join(summary.clusters)}; {summary.namespaces} namespaces; "
               f"{summary.gpus:,} GPUs")
    click.echo(f"  hours: {summary.start:%Y-%m-%d %H:%M} .. {summary.end:%Y-%m-%d %H:%M} UTC")
    click.echo(f"  rows: {rows}")
    click.echo('  try: gpureport ask "Why is ml-team\'s utilization lower this week than last week?"')


def _check(name: str, fn) -> tuple[str, bool, str]:
    try:
        return name, True, fn()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as a line
        return name, False, one_line(exc)


@click.command(cls=Command)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def doctor(app, as_json: bool) -> None:
    """Print the effective configuration (secrets masked) and check each configured service."""
    import json

    import yaml

    from agent.sources import make_source
    from reporter.render.fonts import check_fonts
    from reporter.statedb import open_state

    cfg = app.config
    checks = [_check("source", lambda: _ping_source(cfg.source.kind, make_source(cfg.source)))]
    checks.append(_check("fonts", lambda: _fonts(check_fonts())))
    url = cfg.state.database_url
    checks.append(_check("state database", lambda: _ping_state(url, open_state(url))))
    if cfg.llm.enabled:
        checks.append(_check("llm", lambda: _ping_llm(cfg.llm)))
    if cfg.smtp.host:
        checks.append(_check("smtp", lambda: _ping_smtp(cfg.smtp)))
    prom_url = cfg.prometheus.url or cfg.source.prometheus_url
    if prom_url:
        checks.append(_check("prometheus", lambda: _ping_prometheus(prom_url, cfg.prometheus.timeout)))
    if as_json:
        click.echo(json.dumps({"config": cfg.masked(),
                               "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks]},
                              indent=2))
    else:
        click.echo("# effective configuration (secrets masked)")
        click.echo(yaml.safe_dump(cfg.masked(), sort_keys=False).rstrip())
        click.echo("")
        for name, ok, detail in checks:
            click.echo(f"{'ok  ' if ok else 'FAIL'}  {name}: {detail}")
        for name, text in (("llm", "rules only (no LLM key)"), ("smtp", "not configured"),
                           ("prometheus", "not configured")):
            if name not in {c[0] for c in checks}:
                click.echo(f"-     {name}: {text}")
    if not all(ok for _, ok, _ in checks):
        raise click.exceptions.Exit(1)


def _ping_source(kind: str, source) -> str:
    try:
        return f"{kind}: {source.ping()}"
    finally:
        source.close()


def _fonts(found: list) -> str:
    """Latin and CJK fonts for PDFs (``reporter.render.fonts.check_fonts``: WeasyPrint finds
    them through fontconfig): a missing one fails the check with the package that provides it."""
    found = sorted(found, key=lambda c: c.ok)  # what is missing first
    detail = "; ".join(c.line() for c in found)
    if not all(c.ok for c in found):
        raise ReportError(detail)
    return detail


def _ping_state(url: str, state) -> str:
    with state:
        return f"{mask_url(url)} (schema {state.revision()})"


def _ping_llm(llm) -> str:
    import httpx

    base = (llm.base_url or "https://api.openai.com/v1").rstrip("/")
    r = httpx.get(f"{base}/models", timeout=min(llm.timeout, 10.0),
                  headers={"Authorization": f"Bearer {llm.api_key.get_secret_value()}"})
    if r.status_code >= 400:
        raise RuntimeError(f"{base}/models answered HTTP {r.status_code}")
    return f"{base} answers (model {llm.model or 'default'})"


def _ping_smtp(smtp) -> str:
    import smtplib
    import ssl

    cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    kwargs = {"context": ssl.create_default_context()} if smtp.ssl else {}
    with cls(smtp.host, smtp.port, timeout=min(smtp.timeout, 10.0), **kwargs) as conn:
        code, _ = conn.ehlo()
        if code >= 400:
            raise RuntimeError(f"EHLO refused ({code})")
    return f"{smtp.host}:{smtp.port} answers"


def _ping_prometheus(url: str, timeout: float) -> str:
    import httpx

    r = httpx.get(url.rstrip("/") + "/api/v1/status/buildinfo", timeout=min(timeout, 10.0))
    r.raise_for_status()
    return f"{url} (Prometheus {r.json().get('data', {}).get('version', '?')})"


__all__ = ["demo", "doctor"]
