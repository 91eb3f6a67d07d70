"""A small Prometheus HTTP API client: ``query_range`` with retries and one-line errors.

Connect errors, timeouts and 5xx answers are retried with exponential backoff (Prometheus
answers 503 while starting or when a query times out); 4xx answers are not, because the query
itself is wrong and Prometheus' ``error`` text says why. Every failure is a
``PrometheusError`` whose message is one line naming the server, what was asked and the cause.
The client also measures how long the caller waited on Prometheus (the benchmark reports it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from agent.errors import PrometheusError, TooManySamples
from agent.text import one_line


@dataclass
class Series:
    labels: dict[str, str]
    values: list[tuple[float, float]]  # (unix time, value)


class PrometheusClient:
    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5):
        self.url = url.rstrip("/")
        self.retries, self.backoff = retries, backoff
        self._http = httpx.Client(base_url=self.url, timeout=timeout,
                                  headers={"User-Agent": "gpureport-ingest"})
        self._lock = threading.Lock()
        self.queries = 0
        self.seconds_in_requests = 0.0  # summed over threads

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PrometheusClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: int,
                    what: str = "query") -> list[Series]:
        """POST /api/v1/query_range (POST: the expressions are several kB long)."""
        form = {"query": expr, "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}", "step": str(step_s)}
        data = self._post("/api/v1/query_range", form, what)
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError(f"Prometheus at {self.url}: unexpected answer to {what} "
                                  f"(resultType {data.get('resultType')!r})")
        out = []
        for item in data["result"]:
            values = []
            for ts, raw in item.get("values", []):
                v = float(raw)
                if v == v:  # NaN (0/0) carries no information
                    values.append((float(ts), v))
            out.append(Series(dict(item.get("metric", {})), values))
        return out

    def _post(self, path: str, form: dict, what: str) -> dict:
        attempt = 0
        while True:
            attempt += 1
            t0 = time.perf_counter()
            try:
                resp = self._http.post(path, data=form)
            except httpx.TimeoutException:
                cause = f"no answer within {self._http.timeout.read}s"
                resp = None
            except httpx.HTTPError as exc:
                cause = _connect_cause(exc)
                resp = None
            finally:
                with self._lock:
                    self.queries += 1
                    self.seconds_in_requests += time.perf_counter() - t0
            if resp is not None:
                if resp.status_code < 500:
                    return self._decode(resp, what)
                cause = _error_text(resp)
            if attempt > self.retries:
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                raise PrometheusError(f"Prometheus at {self.url} failed on {what}: {cause}{tries}")
            time.sleep(min(self.backoff * 2 ** (attempt - 1), 10.0))

    def _decode(self, resp: httpx.Response, what: str) -> dict:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            kind = resp.headers.get("content-type", "no content type").split(";")[0]
            raise PrometheusError(
                f"Prometheus at {self.url}: {what} got HTTP {resp.status_code} ({kind}) that is "
                "not a Prometheus API answer; is the URL the Prometheus server's base URL?")
        if body.get("status") != "success":
            text = f"{body.get('errorType', 'error')}: {body.get('error', '?')}"
            cls = TooManySamples if "too many samples" in text else PrometheusError
            raise cls(f"Prometheus at {self.url} refused {what} "
                      f"(HTTP {resp.status_code}) {one_line(text)}")
        return body.get("data") or {}


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("error"):
            return one_line(f"HTTP {resp.status_code} {body.get('errorType', '')}: {body['error']}")
    except ValueError:
        pass
    return f"HTTP {resp.status_code} {one_line(resp.text[:200])}".strip()


def _connect_cause(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return one_line(text)
