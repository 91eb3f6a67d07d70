"""The check vocabulary of the off-script set (documented at the top of tests/data/offscript.yaml).

A check is a function ``(ctx, spec) -> None | str``: ``None`` when the answer holds, else one
line saying what was seen instead. Checks read the ``ask --json`` object through ``Ctx.j`` and
never raise on an unexpected shape: a missing key is ``MISSING`` and fails the check. Names
starting with ``_`` are implicit: every entry gets them from its expected exit code and language.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from tests.conftest import NOW_ISO
from tests.offscript_facts import Facts, ts


@dataclass
class Entry:
    """One question of the set: what is asked, of which store, at which now, and its checks."""

    section: str
    index: int
    q: str
    lang: str
    expect: dict
    args: list[str] = field(default_factory=list)
    now: str = NOW_ISO
    store: str = "demo"

    @property
    def id(self) -> str:
        return f"{self.section}[{self.index}]"


MISSING = object()


def get(obj: Any, path: str) -> Any:
    """``a.b.0.c`` inside dicts and lists; MISSING when any step is absent."""
    for part in str(path).split(".") if path else []:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.lstrip("-").isdigit() and -len(obj) <= int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return MISSING
    return obj


def rows_in(obj: Any) -> list[dict]:
    """Every dict that sits in a list anywhere inside ``obj`` (table rows of any figure)."""
    out = []
    if isinstance(obj, dict):
        for v in obj.values():
            out += rows_in(v)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict):
                out.append(v)
            out += rows_in(v)
    return out


def numbers_in(obj: Any, skip: tuple[str, ...] = ("series",)) -> list[float]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)] if math.isfinite(obj) else []
    if isinstance(obj, dict):
        return [n for k, v in obj.items() if k not in skip for n in numbers_in(v, skip)]
    if isinstance(obj, list):
        return [n for v in obj for n in numbers_in(v, skip)]
    return []


NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def number_tokens(text: str) -> list[str]:
    return re.findall(NUMBER, text)


def has_text(haystack: str, needle: Any) -> bool:
    """``needle`` (a string, or a list of alternatives) occurs in ``haystack``, ignoring case."""
    if isinstance(needle, list):
        return any(has_text(haystack, n) for n in needle)
    return str(needle).casefold() in haystack.casefold()


def has_number(text: str, want: Any) -> bool:
    """``want`` (a number, or a list of alternatives) is one of the numbers written in ``text``."""
    if isinstance(want, list):
        return any(has_number(text, w) for w in want)
    return any(abs(float(t.replace(",", "")) - float(want)) < 1e-9 for t in number_tokens(text))


def same_instant(a: Any, b: Any) -> bool:
    try:
        return ts(a) == ts(b)
    except (TypeError, ValueError):
        return False


def approx(a: Any, b: Any, tol: float = 1e-6) -> bool:
    return (isinstance(a, (int, float)) and not isinstance(a, bool) and b is not None
            and abs(a - b) <= tol * max(1.0, abs(b)))


@dataclass
class Ctx:
    """One answer under test: its entry, what the run printed, the parsed JSON, the store's facts."""

    entry: Entry
    exit_code: int
    stdout: str
    stderr: str
    out: Any  # the parsed --json object, or MISSING
    facts: Facts

    @property
    def expect(self) -> dict:
        return self.entry.expect

    def j(self, path: str) -> Any:
        return get(self.out, path) if isinstance(self.out, dict) else MISSING

    @property
    def figures(self) -> Any:
        return self.j("figures")

    def strings(self, *keys: str) -> str:
        """The strings (or lists of strings) under ``keys`` of the JSON answer, one per line."""
        out = []
        for key in keys:
            value = self.j(key)
            out += [value] if isinstance(value, str) else \
                [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
        return "\n".join(out)

    @property
    def text(self) -> str:
        """Everything a reader sees: answer, insights (which include the notes), warnings."""
        return self.strings("answer", "insights", "notes", "warnings")

    @property
    def prose(self) -> str:
        """The answer's own sentences, without the warnings (coverage is not a figure)."""
        return self.strings("answer", "insights", "notes")

    @property
    def warnings(self) -> list:
        w = self.j("warnings")
        return w if isinstance(w, list) else []

    @property
    def now(self) -> datetime:
        return ts(self.entry.now)

    def period(self, spec: dict | None = None) -> tuple[datetime, datetime]:
        p = (spec or {}).get("period") or self.expect["period"]
        return ts(p["start"]), ts(p["end"])

    def scope(self, spec: dict | None = None) -> tuple[str, str | None]:
        spec, ents = spec or {}, self.expect.get("entities", {})
        return spec.get("cluster", ents.get("cluster")), spec.get("namespace", ents.get("namespace"))


Check = Callable[[Ctx, Any], "str | None"]
CHECKS: dict[str, Check] = {}


def check(name: str):
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn
    return register


def short(value: Any, n: int = 160) -> str:
    text = repr(value) if value is not MISSING else "<missing>"
    return text if len(text) <= n else text[:n] + "…"


@check("exit")
def _exit(c: Ctx, want: int):
    if c.exit_code != want:
        return f"exit {c.exit_code}, stderr {short(c.stderr.strip())}, answer {short(c.j('answer'))}"


@check("intent")
def _intent(c: Ctx, want):
    allowed = want if isinstance(want, list) else [want]
    if c.j("intent") not in allowed:
        return f"intent {short(c.j('intent'))}"


@check("entities")
def _entities(c: Ctx, want: dict):
    bad = {k: c.j(f"entities.{k}") for k, v in want.items() if c.j(f"entities.{k}") != v}
    if bad:
        return "entities " + ", ".join(f"{k}={short(v)}" for k, v in bad.items())


def _period_at(c: Ctx, path: str, want: dict | None):
    got = c.j(path)
    if want is None:
        return None if got is None else f"{path} {short(got)} (want null)"
    if not (isinstance(got, dict) and same_instant(got.get("start"), want["start"])
            and same_instant(got.get("end"), want["end"])):
        return f"{path} {short(got)}"


@check("period")
def _period(c: Ctx, want):
    return _period_at(c, "entities.period", want)


@check("baseline")
def _baseline(c: Ctx, want):
    return _period_at(c, "entities.baseline", want)


@check("figure_period")
def _figure_period(c: Ctx, want):
    for spec in want if isinstance(want, list) else [want]:
        if (msg := _period_at(c, f"figures.{spec['path']}", spec)):
            return msg


@check("warnings")
def _warnings(c: Ctx, want):
    w = c.j("warnings")
    if not isinstance(w, list):
        return f"warnings {short(w)}"
    if want == "empty":
        return None if not w else f"warnings {short(w, 300)}"
    if want == "nonempty":
        return None if w else "warnings []"
    text = "\n".join(map(str, w))
    fails = []
    if "count" in want and len(w) != want["count"]:
        fails.append(f"{len(w)} warnings")
    fails += [f"no {n!r}" for n in want.get("contains", []) if not has_text(text, n)]
    fails += [f"has {n!r}" for n in want.get("not_contains", []) if has_text(text, n)]
    fails += [f"no number {n!r}" for n in want.get("numbers", []) if not has_number(text, n)]
    if fails:
        return f"warnings {'; '.join(fails)}: {short(w, 300)}"


@check("figures_null")
def _figures_null(c: Ctx, paths):
    bad = {p: c.j(f"figures.{p}") for p in paths if c.j(f"figures.{p}") is not None}
    if bad:
        return "not null: " + ", ".join(f"{p}={short(v)}" for p, v in bad.items())


@check("figures_nonnull")
def _figures_nonnull(c: Ctx, paths):
    bad = {p: c.j(f"figures.{p}") for p in paths if c.j(f"figures.{p}") in (None, MISSING)}
    if bad:
        return "null or missing: " + ", ".join(bad)


@check("no_figures")
def _no_figures(c: Ctx, want: bool):
    f = c.figures
    if f is MISSING:
        return "figures missing"
    if bool(numbers_in(f, skip=())) == want:
        return f"figures {short(f)}"


def _option_matches(option: Any, want: str) -> bool:
    if isinstance(option, dict):
        return any(_option_matches(v, want) for v in option.values())
    return isinstance(option, str) and (option == want or want in re.split(r"[\s/=:,()]+", option))


@check("options_include")
def _options_include(c: Ctx, want: list):
    opts = c.j("options")
    if c.j("needs_clarification") is not True or not isinstance(opts, list):
        return f"needs_clarification {short(c.j('needs_clarification'))}, options {short(opts)}"
    missing = [w for w in want if not any(_option_matches(o, w) for o in opts)]
    if missing:
        return f"options {short(opts)} lack {missing}"


@check("options_exclude")
def _options_exclude(c: Ctx, want: list):
    opts = c.j("options")
    if not isinstance(opts, list):
        return f"options {short(opts)}"
    extra = [w for w in want if any(_option_matches(o, w) for o in opts)]
    if extra:
        return f"options {short(opts)} include {extra}"


def _rows(c: Ctx, path: str) -> list | str:
    rows = c.j(f"figures.{path}")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return f"figures.{path} {short(rows)}"
    return rows


@check("rows_have_cluster")
def _rows_have_cluster(c: Ctx, path: str):
    rows = _rows(c, path)
    if isinstance(rows, str):
        return rows
    clusters = [r.get("cluster") for r in rows]
    if not all(isinstance(x, str) and x for x in clusters) or len(set(clusters)) < 2:
        return f"clusters of figures.{path}: {short(clusters)}"


@check("rows_include")
def _rows_include(c: Ctx, want: dict):
    rows = _rows(c, want["path"])
    if isinstance(rows, str):
        return rows
    missing = [w for w in want["rows"] if not any(all(r.get(k) == v for k, v in w.items()) for r in rows)]
    if missing:
        seen = [{k: r.get(k) for k in ("cluster", "name")} for r in rows[:12]]
        return f"figures.{want['path']} lacks {missing}; has {short(seen, 300)}"


@check("ranks")
def _ranks(c: Ctx, kind: str):
    items = _rows(c, "items")
    if isinstance(items, str):
        return items
    wrong = [r.get("name") for r in items if not c.facts.is_name(kind, r.get("name"))]
    if wrong:
        return f"items not {kind}: {short(wrong)}"


@check("family_rows")
def _family_rows(c: Ctx, want: list):
    rows = rows_in(c.figures)
    for spec in want:
        hits = [r for r in rows if r.get("name") == spec["name"]]
        if not hits:
            names = sorted({str(r.get("name")) for r in rows if "name" in r})
            return f"no row {spec['name']!r}; rows {short(names, 300)}"
        for r in hits:
            members = r.get("members")
            if not (isinstance(members, list) and len(members) >= 2
                    and all(isinstance(m, str) for m in members)):
                return f"{spec['name']} members {short(members)}"
            if "members" in spec and len(members) != spec["members"]:
                return f"{spec['name']} has {len(members)} members, want {spec['members']}"
            if "max_abs_impact_pp" in spec and not (
                    isinstance(r.get("impact_pp"), (int, float))
                    and abs(r["impact_pp"]) <= spec["max_abs_impact_pp"]):
                return f"{spec['name']} impact_pp {short(r.get('impact_pp'))}"


@check("no_row_matching")
def _no_row_matching(c: Ctx, pattern: str):
    names = [r.get("name") for r in rows_in(c.figures) if isinstance(r.get("name"), str)]
    if not names:
        return f"no named rows in figures {short(c.figures)}"
    hits = [n for n in names if re.search(pattern, n)]
    if hits:
        return f"rows {short(hits)} match {pattern!r}"


@check("series_len")
def _series_len(c: Ctx, n: int):
    s = c.j("figures.series")
    if not isinstance(s, list) or len(s) != n:
        return f"series of {len(s) if isinstance(s, list) else short(s)} points"


@check("series_step_hours")
def _series_step(c: Ctx, hours: int):
    s = c.j("figures.series")
    try:
        times = [ts(p["time"]) for p in s]
    except (TypeError, KeyError, ValueError):
        return f"series {short(s)}"
    steps = {(b - a) / timedelta(hours=1) for a, b in zip(times, times[1:])}
    if len(times) < 2 or steps != {hours}:
        return f"series steps {sorted(steps)} hours"


@check("daily_figures")
def _daily_figures(c: Ctx, _want):
    cluster, namespace = c.scope()
    days = c.facts.daily(cluster, namespace, *c.period())
    if len(days) < 2:
        return f"set error: {len(days)} full days"
    n = len(days)
    xm, ym = (n - 1) / 2, sum(v for _, v in days) / n
    slope = sum((i - xm) * (v - ym) for i, (_, v) in enumerate(days)) / sum((i - xm) ** 2 for i in range(n))
    fails = []
    for key, (day, value) in (("first", days[0]), ("last", days[-1])):
        got = c.j(f"figures.{key}")
        if not (isinstance(got, dict) and got.get("day") == day and approx(got.get("avg_utilization"), value)):
            fails.append(f"{key} {short(got)} want {{day: {day}, avg_utilization: {value:.4f}}}")
    if not approx(c.j("figures.slope_pp_per_day"), slope):
        fails.append(f"slope_pp_per_day {short(c.j('figures.slope_pp_per_day'))} want {slope:.4f}")
    return "; ".join(fails) or None


@check("figures_match")
def _figures_match(c: Ctx, want):
    specs = [{"keys": want}] if want and isinstance(want[0], str) else want
    fails = []
    for spec in specs:
        cluster, namespace = c.scope(spec)
        exp = c.facts.aggregate(cluster, namespace, *c.period(spec))
        prefix = f"figures.{spec['path']}." if spec.get("path") else "figures."
        for key in spec["keys"]:
            got = c.j(prefix + key)
            if not approx(got, exp[key]):
                fails.append(f"{prefix}{key}={short(got)} want {exp[key]}")
    return "; ".join(fails) or None


PCT = re.compile(r"(" + NUMBER + r")\s*(%|pp|个百分点)")


@check("numbers_from_figures")
def _numbers_from_figures(c: Ctx, _want):
    pool = [abs(v) for v in numbers_in(c.figures)]
    tokens = PCT.findall(c.prose)
    if not tokens:
        return f"no percentage in the answer {short(c.prose)}"
    stray = []
    for number, _unit in tokens:
        value = float(number.replace(",", ""))
        decimals = len(number.split(".")[1]) if "." in number else 0
        if not any(abs(value - p) <= 0.5 * 10 ** -decimals + 1e-9 for p in pool):
            stray.append(number + _unit)
    if stray:
        return f"numbers not in figures: {stray}"


def lacks(label: str, text: str, want: list) -> str | None:
    """None when ``text`` holds every item of ``want`` (see ``has_text``), else what it lacks."""
    missing = [w for w in want if not has_text(text, w)]
    return f"{label} lacks {missing}: {short(text, 300)}" if missing else None


@check("answer_contains")
def _answer_contains(c: Ctx, want: list):
    return lacks("answer", c.text, want)


@check("first_sentence_contains")
def _first_sentence_contains(c: Ctx, want: list):
    """answers.md §1: the first sentence of the answer names its scope (cluster(s), period)."""
    answer = c.j("answer")
    if not isinstance(answer, str):
        return f"answer {short(answer)}"
    first = re.split(r"(?<=[.!?])\s|(?<=[。！？])|\n", answer.strip(), maxsplit=1)[0]
    return lacks("first sentence", first, want)


@check("answer_not_contains")
def _answer_not_contains(c: Ctx, want: list):
    found = [w for w in want if has_text(c.text, w)]
    if found:
        return f"answer has {found}: {short(c.text, 300)}"


@check("stderr_contains")
def _stderr_contains(c: Ctx, want: list):
    return lacks("stderr", c.stderr.strip(), want)


@check("all_clusters")
def _all_clusters(c: Ctx, _want):
    if c.j("entities.cluster") is not None:
        return f"entities.cluster {short(c.j('entities.cluster'))}"
    labelled = has_text(c.text, ["all clusters", "所有集群", "全部集群"])
    split = len({r.get("cluster") for r in rows_in(c.figures) if isinstance(r.get("cluster"), str)}) >= 2
    if not (labelled or split):
        return f"neither labelled 'all clusters' nor per-cluster rows: {short(c.text)}"


@check("history")
def _history(c: Ctx, spec: dict):
    period = c.period() if spec.get("window", "ran") != "now" else None
    want = c.facts.workloads(spec, period, c.now)
    names = {w["name"] for w in want}
    count, rows = c.j("figures.count"), c.j("figures.workloads")
    fails = []
    if count != len(want):
        fails.append(f"count {short(count)} want {len(want)}")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return "; ".join(fails + [f"workloads {short(rows)}"])
    if want and not rows:
        fails.append("workloads []")
    keys = ("name", "kind", "status", "user", "gpu_hours", "duration_hours", "start", "end")
    incomplete = [r.get("name") for r in rows if any(k not in r for k in keys)]
    if incomplete:
        fails.append(f"rows without {keys}: {short(incomplete)}")
    stray = [r.get("name") for r in rows if r.get("name") not in names]
    if stray:
        fails.append(f"rows not matching {spec}: {short(stray)}")
    if "limit" in spec and len(rows) > spec["limit"]:
        fails.append(f"{len(rows)} rows > limit {spec['limit']}")
    if spec.get("sort") and want and rows:
        key = {"duration": "duration_hours", "gpu_hours": "gpu_hours"}[spec["sort"]]
        best = max(w[key] for w in want)
        top = next((w for w in want if w["name"] == rows[0].get("name")), None)
        if top is None or abs(top[key] - best) > 1e-6:
            fails.append(f"first row {short(rows[0].get('name'))}, want the one with {key} {best:.1f}")
    return "; ".join(fails) or None


def implicit_checks(entry: Entry) -> dict:
    """Checks every entry gets from its expected exit code and language."""
    code = entry.expect.get("exit", 0)
    out = {"exit": code}
    if code in (0, 3):
        out["_json"] = True
        out["_language"] = "en" if entry.lang == "en" else "zh"
    elif code == 1:
        out["_one_line"] = True
    else:
        out["_no_traceback"] = True
    if code == 3:
        out["_clarification"] = True
    return out


@check("_json")
def _json(c: Ctx, _want):
    if not isinstance(c.out, dict):
        return f"stdout is not a JSON object: {short(c.stdout)}"


@check("_language")
def _language(c: Ctx, want: str):
    if c.j("language") != want:
        return f"language {short(c.j('language'))}"


@check("_one_line")
def _one_line(c: Ctx, _want):
    lines = [line for line in c.stderr.splitlines() if line.strip()]
    if len(lines) != 1 or "Traceback" in c.stderr:
        return f"stderr is not one line: {short(c.stderr, 300)}"


@check("_no_traceback")
def _no_traceback(c: Ctx, _want):
    """A usage error (exit 2) may be Click's own usage text; it is never a traceback."""
    if not c.stderr.strip() or "Traceback" in c.stderr:
        return f"stderr {short(c.stderr, 300)}"


@check("_clarification")
def _clarification(c: Ctx, _want):
    if c.j("needs_clarification") is not True or not c.j("options"):
        return f"needs_clarification {short(c.j('needs_clarification'))}, options {short(c.j('options'))}"
