"""The rule-based understanding: how questions in the wild are read without a language model.

The bulk of the behaviour is the question set ``tests/data/questions.yaml`` (English, Chinese,
mixed; paraphrases, typos, follow-up fragments). ``test_question_set_accuracy`` prints how many
intents and entity sets the rules get right and fails below 95 % / 90 %. The focused tests below
document the behaviour the agent relies on: clarification options, "did you mean", periods in
both languages, and hostile input.

Expected periods are written out here as concrete datetimes for ``NOW`` (Thursday
2026-11-19 12:00 UTC), not computed by ``agent.periods``.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from agent.understand.model import Metadata
from agent.names import resolve_name
from agent.understand.rules import MAX_SCAN, detect_language, understand

UTC = timezone.utc
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
QUESTIONS = Path(__file__).parent / "data" / "questions.yaml"

# mirrors the demo data (reporter/demo.py): three clusters, ten namespaces, users, workloads
META = Metadata(
    clusters=["gpu-east", "gpu-west", "gpu-lab"],
    namespaces=["ml-team", "cv-team", "nlp-team", "ml-training", "research", "inference",
                "data-eng", "recsys", "speech", "platform-tools"],
    users=["user_a", "user_b", "user_c", "alice", "bob", "carol", "dave", "unknown"],
    workloads=["llm-eval-server", "user-a-train-w47-03", "user-b-finetune-w47-01", "resnet-train",
               "bert-finetune", "notebook-alice", "triton-serving", "speech-asr-train"],
    label_keys={"label": ["team"], "annotation": ["primus-safe.user.name"]},
    label_values={"team": ["ml", "cv", "nlp", "research", "infra", "serving"],
                  "primus-safe.user.name": ["user_a", "user_b", "user_c", "alice", "bob", "carol",
                                            "dave", "unknown"]},
)


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _day(s: str) -> datetime:
    x = date.fromisoformat(s)
    return d(x.year, x.month, x.day)


def expected_span(name: str) -> tuple[datetime, datetime] | None:
    """A period name of questions.yaml as [start, end) at NOW."""
    fixed = {
        "today": (d(2026, 11, 19), NOW),
        "yesterday": (d(2026, 11, 18), d(2026, 11, 19)),
        "this_week": (d(2026, 11, 16), NOW),
        "last_week": (d(2026, 11, 9), d(2026, 11, 16)),
        "this_month": (d(2026, 11, 1), NOW),
        "last_month": (d(2026, 10, 1), d(2026, 11, 1)),
        # baselines
        "same_span_last_week": (d(2026, 11, 9), d(2026, 11, 12, 12)),
        "same_span_last_month": (d(2026, 10, 1), d(2026, 10, 19, 12)),
        "same_span_yesterday": (d(2026, 11, 18), d(2026, 11, 18, 12)),
        "the_week_before": (d(2026, 11, 2), d(2026, 11, 9)),
        "previous_day": (d(2026, 11, 17), d(2026, 11, 18)),
        "none": None,
    }
    if name in fixed:
        return fixed[name]
    m = re.fullmatch(r"last_(\d+)_(days|hours)", name)
    if m:
        n = int(m[1])
        return (NOW - (timedelta(days=n) if m[2] == "days" else timedelta(hours=n)), NOW)
    m = re.fullmatch(r"previous_(\d+)_days", name)
    if m:
        n = int(m[1])
        return (NOW - timedelta(days=2 * n), NOW - timedelta(days=n))
    m = re.fullmatch(r"(\d{4})-W(\d{2})", name)
    if m:
        monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        return (_day(monday.isoformat()), _day(monday.isoformat()) + timedelta(weeks=1))
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2}|now)", name)
    if m:
        end = NOW if m[2] == "now" else _day(m[2]) + timedelta(days=1)
        return (_day(m[1]), end)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", name):
        return (_day(name), _day(name) + timedelta(days=1))
    raise ValueError(f"unknown period name {name!r} in questions.yaml")


def _span(p) -> tuple[datetime, datetime] | None:
    return None if p is None else (p.start, p.end)


def _label(u) -> str | None:
    return f"{u.label_key}={u.label_value}" if u.label_key and u.label_value else None


def _issue_keys(u) -> list[str]:
    return sorted(f"{i.kind}_{i.entity}" for i in u.issues)


def entity_errors(entry: dict, u) -> list[str]:
    """What differs between the expected entities of ``entry`` and the understanding ``u``."""
    errors: list[str] = []

    def check(field: str, actual, expected) -> None:
        if actual != expected:
            errors.append(f"{field}: got {actual!r}, expected {expected!r}")

    for field in ("namespace", "cluster", "user", "workload"):
        check(field, getattr(u, field), entry.get(field))
    check("label", _label(u), entry.get("label"))
    check("other", u.other, entry.get("other"))
    check("metric", u.metric, entry.get("metric", "utilization"))
    if "label_type" in entry:
        check("label_type", u.label_type, entry["label_type"])
    if "period" in entry:
        check("period", _span(u.period), expected_span(str(entry["period"])))
    if "baseline" in entry:
        check("baseline", _span(u.baseline), expected_span(str(entry["baseline"])))
    if "explicit" in entry:
        check("period_explicit", u.period_explicit, entry["explicit"])
    if "ranking" in entry:
        want_entity, want_by = entry["ranking"].split("/")
        if want_entity != "*":
            check("ranking_entity", u.ranking_entity, want_entity)
        if want_by != "*":
            check("ranking_by", u.ranking_by, want_by)
    if "limit" in entry:
        check("limit", u.limit, entry["limit"])
    if "target" in entry:
        check("discovery_target", u.discovery_target, entry["target"])
    if "label_key" in entry:
        check("label_key", u.label_key, entry["label_key"])
    want_issues = entry.get("issues", [])
    check("issues", _issue_keys(u), sorted(w.split(":")[0].strip() for w in want_issues))
    for w in want_issues:
        if ":" in w:
            key, suggestion = (x.strip() for x in w.split(":", 1))
            kind, entity = key.split("_", 1)
            issue = next((i for i in u.issues if i.kind == kind and i.entity == entity), None)
            got = issue.suggestions[:1] if issue else None
            check(f"{key} suggestion", got, [suggestion])
    return errors


def load_questions() -> list[dict]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def test_question_set_is_large_and_bilingual():
    entries = load_questions()
    chinese = [e for e in entries if detect_language(e["q"]) == "zh"]
    assert len(entries) >= 200
    assert len(chinese) >= 70


def test_question_set_holds_every_example_of_questions_md():
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "questions.md"
    if not spec.exists():
        pytest.skip("shared/spec/questions.md is not next to the work tree")
    asked = {e["q"] for e in load_questions()}
    examples: list[str] = []
    header: list[str] = []
    for line in spec.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
        elif not set(cells[0]) <= {"-"}:
            # the example table: its first column; the follow-up table: both turns
            examples += cells[:2] if header[0] == "turn 1" else cells[:1]
    missing = [q for q in examples if q not in asked]
    assert not missing, missing


def test_question_set_accuracy():
    entries = load_questions()
    intent_ok = entities_ok = 0
    failures = []
    for e in entries:
        u = understand(e["q"], NOW, META)
        errs = [] if u.intent == e["intent"] else [f"intent: got {u.intent}, expected {e['intent']}"]
        intent_ok += u.intent == e["intent"]
        ent = entity_errors(e, u)
        entities_ok += not ent
        if errs or ent:
            failures.append(f"  {e['q']!r}: " + "; ".join(errs + ent))
    n = len(entries)
    intent_acc, entity_acc = intent_ok / n, entities_ok / n
    print(f"\nrule understanding on {n} questions: intents {intent_ok}/{n} = {intent_acc:.1%}, "
          f"entities {entities_ok}/{n} = {entity_acc:.1%}")
    if failures:
        print("misread:\n" + "\n".join(failures))
    assert intent_acc >= 0.95, f"intent accuracy {intent_acc:.1%} < 95%"
    assert entity_acc >= 0.90, f"entity accuracy {entity_acc:.1%} < 90%"


# -- clarification -----------------------------------------------------------------------------

@pytest.mark.parametrize("q", ["I want to check GPU usage", "我想看看GPU使用情况"])
def test_a_bare_request_with_several_clusters_asks_which_cluster(q):
    u = understand(q, NOW, META)
    [issue] = u.issues
    assert (issue.kind, issue.entity) == ("missing", "cluster")
    assert issue.suggestions == ["gpu-east", "gpu-west", "gpu-lab"]


def test_a_bare_request_needs_no_cluster_when_one_is_configured_or_only_one_exists():
    u = understand("I want to check GPU usage", NOW, META, default_cluster="gpu-west")
    assert (u.cluster, u.issues) == ("gpu-west", [])
    single = Metadata(clusters=["only"], namespaces=["ml-team"])
    u = understand("I want to check GPU usage", NOW, single)
    assert (u.cluster, u.issues) == ("only", [])


def test_a_question_about_the_whole_cluster_is_not_a_clarification():
    u = understand("What's the GPU utilization trend over the past few days?", NOW, META)
    assert (u.intent, u.cluster, u.issues) == ("trend", None, [])
    assert u.confidence >= 0.6


def test_a_namespace_asked_for_but_not_named_lists_the_namespaces():
    u = understand("Query GPU utilization trend for a namespace", NOW, META)
    [issue] = u.issues
    assert (issue.kind, issue.entity) == ("missing", "namespace")
    assert issue.suggestions == META.namespaces


@pytest.mark.parametrize("q", ["trend for namespace ml-teem", "ml-teem's utilization this week",
                               "ml-teem这周的利用率"])
def test_a_typo_is_not_replaced_but_suggested(q):
    u = understand(q, NOW, META)
    assert u.namespace is None
    [issue] = u.issues
    assert (issue.kind, issue.entity, issue.text) == ("unknown", "namespace", "ml-teem")
    assert issue.suggestions[0] == "ml-team"


def test_separator_and_case_variants_of_a_real_name_resolve():
    for q in ("cvteam utilization", "CV_Team utilization", "how is the cv team doing"):
        assert understand(q, NOW, META).namespace == "cv-team", q


def test_resolve_name_exact_case_fuzzy():
    names = ["ml-team", "cv-team", "nlp-team", "ml-training"]
    assert resolve_name("ml-team", names) == ("ml-team", [])
    assert resolve_name("ML-TEAM", names) == ("ml-team", [])
    assert resolve_name("nlp-taem", names) == (None, ["nlp-team"])
    assert resolve_name("zzzzzz", names) == (None, [])
    assert resolve_name("", names) == (None, [])
    # a tie goes to the name with the same beginning
    assert resolve_name("gpu-weast", ["gpu-east", "gpu-west"])[1][0] == "gpu-west"


@pytest.mark.parametrize("q, cluster", [
    ("how fresh is the data", None),
    ("When was the data last updated?", None),
    ("is the data up to date", None),
    ("is the gpu-west data stale?", "gpu-west"),
    ("how old is the data on gpu-east", "gpu-east"),
    ("数据更新到什么时候", None),
    ("数据是最新的吗", None),
    ("gpu-east的数据更新到哪天了", "gpu-east"),
])
def test_questions_about_how_recent_the_data_is_are_freshness(q, cluster):
    u = understand(q, NOW, META)
    assert (u.intent, u.cluster, u.issues) == ("freshness", cluster, [])
    assert u.confidence >= 0.6


@pytest.mark.parametrize("q, intent", [
    ("what is the latest GPU usage", "realtime"),  # the latest *figures*, not the data's age
    ("最新的GPU分配情况", "realtime"),
    ("show me the current allocation", "realtime"),
])
def test_latest_figures_stay_realtime(q, intent):
    assert understand(q, NOW, META).intent == intent


def test_two_entities_of_a_kind_make_a_comparison():
    u = understand("Compare GPU usage between ml-team and cv-team", NOW, META)
    assert (u.intent, u.namespace, u.other_kind, u.other) == ("compare", "ml-team", "namespace", "cv-team")
    assert _span(u.period) == (NOW - timedelta(days=7), NOW)
    assert u.confidence >= 0.6


@pytest.mark.parametrize("q, low, high", [
    ("Why did ml-team drop?", 0.6, 1.0),                      # clear cue and entity
    ("Compare ml-team and cv-team", 0.6, 1.0),
    ("现在集群有多少GPU在使用？", 0.6, 1.0),
    ("I want to check GPU usage", 0.6, 0.6),                   # understood: ask for the cluster
    ("and last week?", 0.0, 0.59),                             # a fragment: intent is the last turn's
    ("Tell me about gpu-west", 0.0, 0.59),                     # vague: the LLM may do better
    ("asdfghjkl", 0.0, 0.3),                                   # nonsense
])
def test_confidence_says_how_sure_the_rules_are(q, low, high):
    assert low <= understand(q, NOW, META).confidence <= high


# -- periods -----------------------------------------------------------------------------------

@pytest.mark.parametrize("q, span", [
    ("utilization last 3 days", (NOW - timedelta(days=3), NOW)),
    ("utilization over the past three days", (NOW - timedelta(days=3), NOW)),
    ("过去三天的利用率", (NOW - timedelta(days=3), NOW)),
    ("过去3天的利用率", (NOW - timedelta(days=3), NOW)),
    ("近七天的利用率", (NOW - timedelta(days=7), NOW)),
    ("最近两周的利用率", (NOW - timedelta(days=14), NOW)),
    ("过去十五天的利用率", (NOW - timedelta(days=15), NOW)),
    ("过去二十四小时的利用率", (NOW - timedelta(hours=24), NOW)),
    ("近一周的利用率", (NOW - timedelta(days=7), NOW)),
    ("今天的利用率", (d(2026, 11, 19), NOW)),
    ("上个月的利用率", (d(2026, 10, 1), d(2026, 11, 1))),
    ("本月的利用率", (d(2026, 11, 1), NOW)),
    ("utilization since Tuesday", (d(2026, 11, 17), NOW)),
    ("utilization 2026-11-01..2026-11-03", (d(2026, 11, 1), d(2026, 11, 4))),
    ("utilization over the last week", (NOW - timedelta(days=7), NOW)),
    ("utilization last week", (d(2026, 11, 9), d(2026, 11, 16))),
])
def test_periods_in_english_and_chinese(q, span):
    u = understand(q, NOW, META)
    assert _span(u.period) == span
    assert u.period_explicit


def test_a_vague_period_defaults_to_seven_days_and_says_so():
    for q in ("utilization over the past few days", "最近几天的利用率"):
        u = understand(q, NOW, META)
        assert _span(u.period) == (NOW - timedelta(days=7), NOW), q
        assert u.period_explicit is False, q


def test_this_week_on_monday_midnight_is_an_ambiguous_period_not_a_crash():
    monday = d(2026, 11, 16)
    u = understand("ml-team utilization this week", monday, META)
    assert [(i.kind, i.entity) for i in u.issues] == [("ambiguous", "period")]
    assert "this week" in u.issues[0].text
    # a drilldown without a period falls back to last week vs the week before
    u = understand("Why did ml-team drop?", monday, META)
    assert _span(u.period) == (d(2026, 11, 9), d(2026, 11, 16))
    assert _span(u.baseline) == (d(2026, 11, 2), d(2026, 11, 9))
    assert u.issues == []


def test_an_impossible_range_is_reported_not_raised():
    """Reported as an invalid period (the graph refuses it with exit 2, answers.md §1)."""
    u = understand("utilization 2026-11-10..2026-11-01", NOW, META)
    assert [(i.kind, i.entity) for i in u.issues] == [("invalid", "period")]


def test_the_future_has_no_data():
    u = understand("ml-team utilization next week", NOW, META)
    assert [(i.kind, i.entity) for i in u.issues] == [("invalid", "period")]
    assert "'next week'" in u.issues[0].text


@pytest.mark.parametrize("q, start, end", [
    ("genomics allocation rate in october", "2026-10-01", "2026-11-01"),
    ("gpu-east utilization in august 2026", "2026-08-01", "2026-09-01"),
    ("gpu-east 10月的利用率", "2026-10-01", "2026-11-01"),
    ("2026年8月 ml-team", "2026-08-01", "2026-09-01"),
    ("robotics usage q4", "2026-10-01", None),
    ("this quarter gpu-west", "2026-10-01", None),
    ("last quarter on gpu-lab", "2026-07-01", "2026-10-01"),
    ("ml-team 上季度", "2026-07-01", "2026-10-01"),
    ("gpu-east今年的平均利用率", "2026-01-01", None),
    ("ml-team last year", "2025-01-01", "2026-01-01"),
    ("ml-team in 2025", "2025-01-01", "2026-01-01"),
    ("gpu-lab usage since nov 10", "2026-11-10", None),
    ("gpu-east 11月10日以来", "2026-11-10", None),
    ("gpu-west between nov 3 and nov 7", "2026-11-03", "2026-11-08"),
    ("gpu-east 从11月2日到11月8日的GPU使用情况", "2026-11-02", "2026-11-09"),
    ("gpu-lab 第46周 用卡情况", "2026-11-09", "2026-11-16"),
])
def test_calendar_periods(q, start, end):
    """Months, quarters, years, "since DATE", "between A and B" in English and Chinese; a
    calendar period holding now ends at now."""
    u = understand(q, NOW, META)
    assert u.issues == [] and u.period_explicit
    assert u.period.start == datetime.fromisoformat(start + "T00:00:00+00:00")
    assert u.period.end == (NOW if end is None else datetime.fromisoformat(end + "T00:00:00+00:00"))


@pytest.mark.parametrize("q, phrase", [
    ("gpu-east usage last fiscal year", "fiscal"), ("gpu-west 上个财年用了多少卡时", "财年"),
    ("gpu-lab utilization over the christmas holidays", "christmas"), ("春节期间gpu-east的利用率", "春节"),
    ("ml-team usage in 2027", "2027"), ("gpu-west usage on feb 30", "feb 30"),
    ("gpu-east between nov 12 and nov 3", "nov 12"), ("下个月的利用率会是多少", "下个月"),
])
def test_unusable_periods_are_invalid_not_replaced(q, phrase):
    u = understand(q, NOW, META)
    assert [(i.kind, i.entity) for i in u.issues] == [("invalid", "period")] and phrase in u.issues[0].text


def test_time_zone_moves_calendar_boundaries():
    from zoneinfo import ZoneInfo

    u = understand("utilization today", NOW, META, tz=ZoneInfo("Asia/Shanghai"))
    # 20:00 in Shanghai: the local day began at 16:00 UTC the day before
    assert _span(u.period) == (d(2026, 11, 18, 16), NOW)


# -- hostile input -----------------------------------------------------------------------------

@pytest.mark.parametrize("q", ["", "   ", "\n\t", None])
def test_empty_question_is_help(q):
    u = understand(q, NOW, META)
    assert (u.intent, u.confidence, u.issues) == ("help", 0.0, [])


def test_sql_injection_in_a_typed_namespace_is_an_unknown_name_without_suggestions():
    u = understand("trend for namespace '; DROP TABLE x;--", NOW, META)
    assert u.namespace is None
    [issue] = u.issues
    assert (issue.kind, issue.entity, issue.suggestions) == ("unknown", "namespace", [])
    assert "DROP TABLE" in issue.text


@pytest.mark.parametrize("q", [
    "' OR 1=1 --",
    "ml-team'; DELETE FROM gpu_workload; --",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)> utilization of ml-team",
    "Robert'); DROP TABLE namespace_gpu_hourly_stats;--",
    "\x00\x01\x02 utilization",
    "🙂🙂🙂 GPU 利用率 ？？？",
])
def test_hostile_strings_are_just_text(q):
    u = understand(q, NOW, META)
    assert u.intent in ("trend", "compare", "drilldown", "realtime", "discovery", "ranking", "help")
    for name in (u.namespace, u.cluster, u.user, u.workload, u.other):
        assert name is None or name in META.namespaces + META.clusters + META.users + META.workloads


def test_a_name_pasted_with_terminal_colour_codes_is_still_the_name():
    """The escape sequence and the bell are removed before reading: the namespace is not split
    into words that match nothing and are then dropped (an answer about the whole cluster)."""
    u = understand("how is ml-\x1b[31mteam\x07 doing last week on gpu-east", NOW, META)
    assert (u.namespace, u.cluster, u.issues) == ("ml-team", "gpu-east", [])
    assert u.question.startswith("how is ml-\x1b[31m")  # the question itself is kept as asked


def test_a_quote_inside_a_quoted_name_is_part_of_the_name():
    [issue] = understand("how is namespace 'o\"brien' doing last week", NOW, META).issues
    assert (issue.kind, issue.entity, issue.text) == ("unknown", "namespace", 'o"brien')


def test_key_value_text_inside_a_quoted_name_is_the_name_not_a_label_filter():
    """``namespace '<img src=x …>'`` asks for that namespace (which does not exist): its
    ``src=x`` is not read as a label filter; outside quotes ``team=nlp`` still is one."""
    [issue] = understand("utilization of namespace '<img src=x onerror=alert(1)>'", NOW,
                         META).issues
    assert (issue.kind, issue.entity, issue.text) == \
        ("unknown", "namespace", "<img src=x onerror=alert(1)>")
    [issue] = understand("gpu hours of 命名空间「a=b」 last week", NOW, META).issues
    assert (issue.entity, issue.text) == ("namespace", "a=b")
    labelled = understand("utilization of team=nlp last week", NOW, META)
    assert labelled.entities_json()["label"] == "team=nlp" and labelled.issues == []


def test_a_10000_character_question_is_read_quickly_and_only_its_start():
    q = "Why did ml-team's utilization drop this week? " + "blah ml-teem gpu-eats " * 600
    q = q[:10_000]
    assert len(q) == 10_000
    t0 = time.perf_counter()
    u = understand(q, NOW, META)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.2, elapsed
    assert (u.intent, u.namespace) == ("drilldown", "ml-team")
    # words beyond the scanned prefix are never read
    tail = "x" * (MAX_SCAN + 10) + " namespace cv-team"
    assert understand(tail, NOW, META).namespace is None


def test_language_detection():
    assert detect_language("ml-team这周的利用率") == "zh"
    assert detect_language("What is ml-team's utilization?") == "en"
    assert understand("现在集群有多少GPU在使用？", NOW, META).language == "zh"


# -- the same questions against a store: names looked up, not listed ---------------------------

@pytest.fixture(scope="module")
def meta_store(tmp_path_factory) -> str:
    """A SQLite Lens store holding exactly the names of ``META`` (one hour of rows each)."""
    from sqlalchemy import create_engine, insert

    from agent.sources import schema as s

    url = f"sqlite:///{tmp_path_factory.mktemp('meta') / 'meta.db'}"
    eng = create_engine(url)
    s.metadata.create_all(eng)
    hour = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    with eng.begin() as c:
        c.execute(insert(s.cluster_hourly), [dict(cluster_name=n, stat_hour=hour)
                                             for n in META.clusters])
        c.execute(insert(s.namespace_hourly), [dict(cluster_name="gpu-east", namespace=n,
                                                    stat_hour=hour) for n in META.namespaces])
        c.execute(insert(s.label_hourly), [
            dict(cluster_name="gpu-east", dimension_type=t, dimension_key=k, dimension_value=v,
                 stat_hour=hour)
            for t, keys in META.label_keys.items() for k in keys for v in META.label_values[k]])
        c.execute(insert(s.workload_hourly), [
            dict(cluster_name="gpu-east", namespace="ml-team", workload_name=n,
                 workload_type="Job", stat_hour=hour) for n in META.workloads])
    eng.dispose()
    return url


def _reading(u) -> tuple:
    issues = [(i.kind, i.entity, i.text, tuple(i.suggestions) if i.kind == "unknown"
               else tuple(sorted(i.suggestions))) for i in u.issues]
    return (u.intent, round(u.confidence, 6), u.entities_json(), u.other, u.discovery_target,
            u.label_type, u.label_key, u.ranking_entity, u.ranking_by, u.limit, issues)


def test_names_looked_up_in_a_store_read_the_question_set_as_the_full_lists_do(meta_store):
    """Every question of questions.yaml reads the same through the catalogue (workload names
    looked up per word, small catalogues fetched on demand) as against the full lists."""
    from agent.cache import MemoryCache
    from agent.catalog import Catalog
    from agent.sources.sql import SqlSource

    src = SqlSource(meta_store)
    cache = MemoryCache()
    differ = []
    for e in load_questions():
        want = _reading(understand(e["q"], NOW, META))
        got = _reading(understand(e["q"], NOW, Catalog(src, NOW, cache=cache)))
        if got != want:
            differ.append(f"{e['q']!r}: {got} != {want}")
    src.close()
    assert not differ, "\n".join(differ[:10])
