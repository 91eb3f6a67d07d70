"""The Lens HTTP API as a client: base URL, envelope, retries, paging (lens.md §1–§4).

``LensClient.get`` returns a response's ``data`` or raises ``SourceError``; ``rows`` reads
every hourly-stats row of a window, however the server pages it. The `lens` source
(``lens.py``) turns rows into figures and knows nothing of HTTP.

Contract points that shape the code (lens.md §9):

* Base URL = scheme + host + prefix from config; a URL without a path gets ``/v1``. Paths never
  end in ``/`` (the server would answer 301, which httpx does not follow).
* Success ⇔ HTTP 200 and ``meta.code`` 2000 (0 accepted, as the seed agent did). Errors arrive
  as HTTP 200 with another code; 4004 ``ClientSet for cluster <x> not found`` becomes
  ``NotFound("cluster", x, suggestions)``.
* Range filters are inclusive at both ends: callers ask for ``inclusive_end(end)``.
* Hourly-stats pages hold 1000 rows whatever ``page_size`` says. Pages are ordered by
  ``stat_hour`` only, so rows sharing an hour may move between page requests: rows are
  de-duplicated by ``id``; if a pass still misses rows, the window is split in halves by hour
  (small windows fit on one page and cannot shift), and a single hour with more than 1000 rows
  is re-read in other sort orders before giving up with a ``SourceError``.

Paging is bounded whatever the server says: a pass stops at the rows reported (``total``), at
an empty page, or at ``total_pages``; one read of a window makes at most ``max_pages``
(``MAX_PAGES``) requests, so a window reported to hold more rows than those pages can is
refused at once. ``total``/``total_pages`` that are not counts (``"lots"``, negative, more
pages than the rows could fill) and rows reported but never sent are a ``SourceError`` naming
the path — never an endless loop.

Network behaviour: every request has a timeout; connect errors, timeouts, HTTP 5xx and 429 are
retried ``retries`` times with exponential backoff; other non-200 statuses fail at once. Error
messages are one line and never show credentials that may be embedded in the configured URL.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from agent.errors import NotFound, SourceError
from agent.names import suggestions
from agent.periods import floor_hour, utc
from agent.text import mask_url

PAGE_ROWS = 1000  # what the server really puts on a page (lens.md §4.1)
MAX_PAGES = 1000  # requests one read of a window may make, splits and re-reads included
OK_CODES = (2000, 0)
_TIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})?$")


def normalize_base_url(url: str) -> str:
    """``http://host:8989`` -> ``http://host:8989/v1``; trailing slashes removed; no query.

    A URL without a scheme is taken as ``http://`` (``primus-lens-api:8989`` is how the seed's
    ``LENS_API_URL`` was usually written inside the cluster).
    """
    raw = (url or "").strip()
    if not raw:
        raise SourceError("Lens API URL is empty: set source.lens_url (env LENS_API_URL)")
    if "://" not in raw:
        raw = "http://" + raw
    try:
        u = httpx.URL(raw)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a config error
        raise SourceError(f"Lens API URL is not a URL ({type(exc).__name__})") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise SourceError(f"Lens API URL must be http(s)://host[:port][/prefix], got scheme "
                          f"'{u.scheme}'")
    path = u.path.rstrip("/") or "/v1"
    return str(u.copy_with(path=path, query=None, fragment=None))


def rfc3339(dt: datetime) -> str:
    """UTC with ``Z``; fractional seconds only when present (Go's RFC3339 accepts both)."""
    dt = utc(dt)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(value: Any) -> datetime:
    """An RFC3339(Nano) string or Unix seconds -> aware UTC. Nanoseconds are cut to micro."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    m = _TIME_RE.match(str(value).strip()) if value is not None else None
    if not m:
        raise SourceError(f"Lens API returned an unreadable timestamp {value!r}")
    day, clock, frac, zone = m.groups()
    text = f"{day}T{clock}" + (f".{frac[:6].ljust(6, '0')}" if frac else "")
    if zone and zone not in ("Z", "z"):
        text += zone
    dt = datetime.fromisoformat(text)
    return utc(dt)


def inclusive_end(end: datetime) -> datetime:
    """The inclusive bound that selects exactly the whole-second stamps ``< end``."""
    end = utc(end)
    return end.replace(microsecond=0) if end.microsecond else end - timedelta(seconds=1)


def count(value: Any, field: str, path: str) -> int:
    """A count the API reports (``total``, ``total_pages``): a non-negative integer or a
    ``SourceError`` naming the field, the value and the path."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"Lens API returned a {field} that is not a count for {path}: "
                          f"{str(value)[:40]!r}")
    if value < 0:
        raise SourceError(f"Lens API returned a negative {field} for {path}: {value}")
    return value


class _Budget:
    """Requests left for one read of a window."""

    def __init__(self, path: str, pages: int):
        self.path, self.pages, self.left = path, pages, pages

    def spend(self) -> None:
        if self.left <= 0:
            raise SourceError(f"Lens API {self.path}: more than {self.pages} pages for one "
                              "window; gave up (narrow the period)")
        self.left -= 1


class LensClient:
    """HTTP to one Lens API (``http://primus-lens-api:8989/v1``)."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, retries: int = 3,
                 backoff: float = 0.5, transport: httpx.BaseTransport | None = None,
                 max_pages: int = MAX_PAGES):
        self.max_pages = max(1, int(max_pages))
        self.base_url = normalize_base_url(base_url)
        self.shown_url = mask_url(self.base_url)
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                    headers={"Accept": "application/json",
                                             "User-Agent": "gpureport"})

    def close(self) -> None:
        self._client.close()

    # -- one request --------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``base + path`` and return the envelope's ``data`` (or raise SourceError)."""
        url = self.base_url + path
        full_path = httpx.URL(url).path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        last = ""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                resp = self._client.get(url, params=query)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise SourceError(f"Lens API {self.shown_url}: {type(exc).__name__}") from None
            except httpx.TransportError as exc:  # connect, timeout, reset, protocol
                detail = " ".join(str(exc).split())
                last = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            else:
                status = resp.status_code
                if status >= 500 or status == 429:
                    last = f"HTTP {status} for {full_path}"
                elif status != 200:
                    hint = (" (source.lens_url must include the API prefix, e.g. "
                            "http://primus-lens-api:8989/v1)") if status == 404 else ""
                    raise SourceError(f"Lens API {self.shown_url}: HTTP {status} for "
                                      f"{full_path}{hint}")
                else:
                    return self._envelope(resp, full_path, query)
            if attempt + 1 < attempts and self.backoff:
                time.sleep(self.backoff * (2 ** attempt))
        raise SourceError(f"Lens API {self.shown_url}: unreachable after {attempts} attempt"
                          f"{'s' if attempts != 1 else ''} ({last})")

    def _envelope(self, resp: httpx.Response, full_path: str, query: dict) -> Any:
        try:
            body = json.loads(resp.content)
        except ValueError:
            snippet = resp.content[:80].decode("utf-8", "replace")
            raise SourceError(f"Lens API returned a non-JSON body for {full_path}: "
                              f"{snippet!r}") from None
        meta = body.get("meta") if isinstance(body, dict) else None
        if not isinstance(meta, dict):
            raise SourceError(f"Lens API returned JSON without a meta envelope for {full_path}")
        code, message = meta.get("code"), " ".join(str(meta.get("message") or "").split())
        if code in OK_CODES:
            return body.get("data")
        cluster = query.get("cluster")
        if code == 4004 and cluster and message.startswith("ClientSet for cluster"):
            try:
                options = self.strings("/gpu-aggregation/clusters", {})
            except SourceError:
                options = []
            raise NotFound("cluster", str(cluster), suggestions(str(cluster), options))
        raise SourceError(f"Lens API error {code} for {full_path}: {message or '(no message)'}")

    def strings(self, path: str, params: dict[str, Any]) -> list[str]:
        """A bare array of strings (the metadata endpoints, lens.md §4.3)."""
        data = self.get(path, params)
        if data is None:
            return []
        if not isinstance(data, list):
            raise SourceError(f"Lens API returned {type(data).__name__} instead of a list for "
                              f"{path}")
        return [str(x) for x in data if x is not None]

    # -- paged hourly rows --------------------------------------------------------------------
    def rows(self, path: str, params: dict, lo: datetime, hi: datetime) -> list[dict]:
        """Every row with lo ≤ stat_hour ≤ hi, however the server shuffles ties between pages
        (at most ``max_pages`` requests)."""
        return self._paged(path, params, lo, hi, _Budget(path, self.max_pages))

    def _pass(self, path: str, params: dict, lo: datetime, hi: datetime, order: tuple[str, str],
              budget: _Budget) -> tuple[dict[Any, dict], int]:
        """Pages of one window in one order until ``total`` rows, an empty page or the last
        page: (rows by id, total)."""
        base = {**params, "start_time": rfc3339(lo), "end_time": rfc3339(hi),
                "page_size": PAGE_ROWS, "order_by": order[0], "order_direction": order[1]}
        seen: dict[Any, dict] = {}
        page, total = 1, 0
        while True:
            budget.spend()
            wrapper = self.get(path, {**base, "page": page})
            if isinstance(wrapper, list):  # the docs' bare-array shape: one page, no wrapper
                rows, total, pages = wrapper, len(wrapper), 1
            elif isinstance(wrapper, dict):
                rows = wrapper.get("data") or []
                total = count(wrapper.get("total"), "total", path)
                pages = count(wrapper.get("total_pages"), "total_pages", path)
                if pages > max(total, 1):  # more pages than rows to fill them
                    raise SourceError(f"Lens API reported {pages} pages for {total} rows of "
                                      f"{path}")
                if total > budget.pages * PAGE_ROWS:
                    raise SourceError(f"Lens API reported {total} rows of {path} for one "
                                      f"window, more than the {budget.pages} pages gpureport "
                                      "reads: ask about a shorter period")
            elif wrapper is None:
                rows, total, pages = [], 0, 0
            else:
                raise SourceError(f"Lens API returned an unexpected page for {path}")
            if not isinstance(rows, list):
                raise SourceError(f"Lens API returned a page whose data is not a list for {path}")
            for row in rows:
                if not isinstance(row, dict):
                    raise SourceError(f"Lens API returned a non-object row for {path}")
                key = row.get("id")
                seen[key if key is not None else json.dumps(row, sort_keys=True)] = row
            if not rows or len(seen) >= total or page >= pages:
                if total and not seen:
                    raise SourceError(f"Lens API reported {total} rows of {path} but sent none")
                return seen, total
            page += 1

    def _paged(self, path: str, params: dict, lo: datetime, hi: datetime,
               budget: _Budget) -> list[dict]:
        if lo > hi:
            return []
        seen, total = self._pass(path, params, lo, hi, ("time", "asc"), budget)
        if len(seen) >= total:
            return list(seen.values())
        mid = floor_hour(lo + (hi - lo) / 2)
        if mid <= lo:
            mid = floor_hour(lo) + timedelta(hours=1)
        if mid <= hi:  # two smaller windows; each eventually fits on one stable page
            return (self._paged(path, params, lo, mid - timedelta(seconds=1), budget)
                    + self._paged(path, params, mid, hi, budget))
        for order in (("time", "desc"), ("utilization", "asc"), ("utilization", "desc")):
            more, total = self._pass(path, params, lo, hi, order, budget)
            seen.update(more)
            if len(seen) >= total:
                return list(seen.values())
        raise SourceError(f"Lens API {self.shown_url}: {path} kept moving rows between pages "
                          f"({len(seen)} of {total} rows in the hour {rfc3339(lo)})")

    # -- /workloads (lens.md §4.5) --------------------------------------------------------------
    def workloads_page(self, params: dict[str, Any], page: int,
                       page_size: int) -> tuple[list[dict], int]:
        """One page of ``/workloads``: (items, total)."""
        data = self.get("/workloads", {**params, "page_num": page, "page_size": page_size}) or {}
        if not isinstance(data, dict):
            raise SourceError("Lens API returned an unexpected page for /workloads")
        items = data.get("data") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SourceError("Lens API returned /workloads items that are not objects")
        return items, count(data.get("total"), "total", "/workloads")
