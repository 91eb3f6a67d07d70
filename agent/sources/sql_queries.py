"""The statements of the `sql` source, as SQLAlchemy Core builders (no connections here).

Each function returns a statement (or the pieces of one) for one database; ``cf`` is the
``cluster_name`` to filter on, or None when the database is one cluster's own (a Lens
deployment) or when every cluster is asked for. Values are always bound parameters.

Every figure is one grouped statement returning *additive sums* (``base.py``): Σ allocated,
Σ allocated·utilization, Σ utilization, row count. Nothing here pulls hourly rows into Python.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Sequence

from sqlalchemy import Select, String, and_, distinct, exists, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from agent.names import lookup_prefix
from agent.periods import naive
from agent.sources import schema as s
from agent.sources.base import UNKNOWN_USER, Scope

ANNOTATION = "annotation"
LOOKUP_LIMIT = 50  # names per prefix lookup: enough to suggest from, bounded on any store
MAX_EQUAL = 200  # spellings checked for an equal name in one statement
_SHORT_PREFIX = 4
_SEPARATORS = re.compile(r"[\s\-_./]")


def sums(allocated, utilization) -> list:
    return [
        func.coalesce(func.sum(allocated), 0.0).label("gpu_hours"),
        func.coalesce(func.sum(allocated * utilization), 0.0).label("weighted"),
        func.coalesce(func.sum(utilization), 0.0).label("util_sum"),
        func.count().label("rows"),
    ]


def cluster_names() -> Select:
    return select(s.cluster_hourly.c.cluster_name).distinct()


class unindexed(ColumnElement):
    """A column the database should not look up by index here: SQLite's unary ``+`` (its
    documented way to take a term out of index selection), the plain column elsewhere."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column) -> None:
        self.column = column
        self.type = column.type


@compiles(unindexed)
def _plain(element: unindexed, compiler, **kw) -> str:
    return compiler.process(element.column, **kw)


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler, **kw) -> str:
    return "+" + compiler.process(element.column, **kw)


def where(table, cf: str | None, start: datetime, end: datetime, *more) -> list:
    """Rows of ``table`` in ``[start, end)`` (and of cluster ``cf``), plus ``more``."""
    conds = [table.c.stat_hour >= naive(start), table.c.stat_hour < naive(end), *more]
    if cf is not None:
        conds.append(table.c.cluster_name == cf)
    return conds


def walk(column, conds: list, name: str, *, lo: str | None = None,
         hi: str | None = None) -> Select:
    """The distinct values of ``column`` among the rows matching ``conds`` (from ``lo``, below
    ``hi``), in order, one index probe each.

    ``SELECT DISTINCT`` reads every row of every value (a namespace has 840 hourly rows in five
    weeks, a workload running everywhere 40,000); with an index that leads with the columns
    ``conds`` fixes and then ``column`` (the Lens tables' unique keys), asking for "the
    smallest value after the previous one" over and over reads one entry per value. A
    recursive query, on PostgreSQL and SQLite alike; ``name`` names it (unique per statement).
    """
    bounds = ([column >= lo] if lo is not None else []) + ([column < hi] if hi is not None else [])
    first = select(func.min(column).label("v")).where(*bounds, *conds)
    steps = first.cte(name, recursive=True)
    after = [column > steps.c.v] + ([column < hi] if hi is not None else [])
    following = select(func.min(column)).where(*after, *conds).scalar_subquery()
    steps = steps.union_all(select(following).where(steps.c.v.isnot(None)))
    return select(steps.c.v.label("v")).where(steps.c.v.isnot(None))


def cluster_names_in(table) -> Select:
    """The ``cluster_name`` values of a table (its unique index leads with them)."""
    return walk(table.c.cluster_name, [], "cluster_names")


def distinct_pairs(column, table, cf, start, end, *conds) -> Select:
    """(cluster_name, value) pairs of the rows in the period: a plain DISTINCT, which SQLite
    answers quickly from its covering indexes (its planner walks ``walk`` by another one)."""
    return select(table.c.cluster_name, column).distinct().where(
        *where(table, cf, start, end, *conds))


def distinct_values(column, table, clusters: Sequence[str], start, end, *conds) -> Select:
    """(cluster, value) for every distinct ``column`` value of each cluster's rows in the
    period; ``conds`` fix the index columns between ``cluster_name`` and ``column``."""
    return union_all(*[
        select(literal(c, String).label("cluster"),
               walk(column, where(table, c, start, end, *conds), f"values_{i}").subquery().c.v)
        for i, c in enumerate(clusters)])


def user_join(user_annotation: str, namespace: str | None = None, label: Scope | None = None):
    """(user expression, FROM clause) — the user chain of ``base.py`` over workload rows:
    the row's annotation, its ``owner_name``, the top-level ``gpu_workload``'s annotation.

    ``namespace``: the rows are of this namespace only (the caller's condition), so the
    top-level workloads are looked up in it only — the databases do not push the join's
    condition into the grouped subquery, which otherwise reads every workload ever seen.
    ``label`` (a label scope): the top-level workloads' value of its key comes along, for
    ``label_match``."""
    w, gw = s.workload_hourly, s.gpu_workload
    top_conds = [func.coalesce(gw.c.parent_uid, "") == ""]
    if namespace is not None:
        top_conds.append(gw.c.namespace == namespace)
    extra = []
    if label is not None and label.kind == "label" and label.label_key:
        column = gw.c.annotations if label.label_type == ANNOTATION else gw.c.labels
        extra.append(func.max(column[label.label_key].as_string()).label("lv"))
    top = (select(gw.c.namespace.label("ns"), gw.c.name.label("nm"),
                  func.max(gw.c.annotations[user_annotation].as_string()).label("u"), *extra)
           .where(*top_conds)
           .group_by(gw.c.namespace, gw.c.name)
           .subquery("top_user"))
    user = func.coalesce(
        func.nullif(w.c.annotations[user_annotation].as_string(), ""),
        func.nullif(w.c.owner_name, ""),
        func.nullif(top.c.u, ""),
        literal(UNKNOWN_USER),
    )
    joined = w.outerjoin(top, and_(top.c.ns == w.c.namespace, top.c.nm == w.c.workload_name))
    return user, joined


def label_match(scope: Scope, joined) -> list:
    """A label scope's condition on workload rows (``joined``: ``user_join(..., label=scope)``):
    the row's ``labels`` (``annotations``) JSON holds the scope's value under its key, or, when
    the row carries none (Lens writes ``{}`` today, lens.md §5), its top-level workload's does
    — so a label team's users and workloads are its own rows only. Other scopes: none."""
    if scope.kind != "label" or not scope.label_key:
        return []
    w = s.workload_hourly
    column = w.c.annotations if scope.label_type == ANNOTATION else w.c.labels
    top = joined.right
    value = func.coalesce(func.nullif(column[scope.label_key].as_string(), ""), top.c.lv)
    return [value == scope.label_value]


def users_of_workloads(user_annotation: str, cf, start, end, namespace: str | None) -> Select:
    w = s.workload_hourly
    user, joined = user_join(user_annotation, namespace)
    conds = where(w, cf, start, end)
    if namespace is not None:
        conds.append(w.c.namespace == namespace)
    return select(user).distinct().select_from(joined).where(*conds)


def workload_list(user_annotation: str, cf, start, end, namespace: str | None,
                  user: str | None, workload: str | None = None) -> Select:
    w = s.workload_hourly
    user_col, joined = user_join(user_annotation, namespace)
    conds = where(w, cf, start, end)
    if namespace is not None:
        conds.append(w.c.namespace == namespace)
    if workload is not None:
        conds.append(w.c.workload_name == workload)
    if user is not None:
        conds.append(user_col == user)
    return (select(w.c.cluster_name, w.c.namespace, w.c.workload_name,
                   func.max(w.c.workload_type), user_col.label("user"))
            .select_from(joined).where(*conds)
            .group_by(w.c.cluster_name, w.c.namespace, w.c.workload_name, user_col))


def capacity(cf, start, end) -> Select:
    c = s.cluster_hourly
    return select(func.coalesce(func.sum(c.c.total_gpu_capacity), 0)).where(
        *where(c, cf, start, end))


def workload_count(conds: list, joined=None) -> Select:
    """Distinct workloads among the workload rows matching ``conds`` (complete conditions)."""
    w = s.workload_hourly
    inner = select(w.c.cluster_name, w.c.namespace, w.c.workload_name)
    if joined is not None:
        inner = inner.select_from(joined)
    inner = inner.where(*conds).distinct().subquery()
    return select(func.count()).select_from(inner)


def scope_rows(scope: Scope, user_annotation: str, cf, start, end):
    """(table, conditions, FROM clause or None) selecting the rows behind a scope."""
    if scope.kind == "cluster":
        return s.cluster_hourly, where(s.cluster_hourly, cf, start, end), None
    if scope.kind == "namespace":
        n = s.namespace_hourly
        return n, where(n, cf, start, end, n.c.namespace == scope.namespace), None
    if scope.kind == "label" or (scope.kind == "user" and scope.namespace is None):
        lb = s.label_hourly
        if scope.kind == "user":
            conds = [lb.c.dimension_type == ANNOTATION, lb.c.dimension_key == user_annotation,
                     lb.c.dimension_value == scope.user]
        else:
            conds = [lb.c.dimension_type == scope.label_type,
                     lb.c.dimension_key == scope.label_key,
                     lb.c.dimension_value == scope.label_value]
        return lb, where(lb, cf, start, end, *conds), None
    w = s.workload_hourly
    conds = where(w, cf, start, end)
    if scope.namespace is not None:
        conds.append(w.c.namespace == scope.namespace)
    joined = None
    if scope.user is not None:
        user, joined = user_join(user_annotation, scope.namespace)
        conds.append(user == scope.user)
    if scope.kind == "workload":
        conds.append(w.c.workload_name == scope.workload)
    return w, conds, joined


def totals(table, conds: list, joined, *, with_capacity: bool = False) -> Select:
    """The sums of the rows behind a scope (``scope_rows``); ``cap``: Σ total_gpu_capacity."""
    cols = sums(table.c.allocated_gpu_count, table.c.avg_utilization)
    if with_capacity:
        cols.append(func.coalesce(func.sum(table.c.total_gpu_capacity), 0).label("cap"))
    stmt = select(*cols)
    if joined is not None:
        stmt = stmt.select_from(joined)
    return stmt.where(*conds)


def namespace_children(cf, start, end) -> tuple[Select, Select]:
    """(sums per namespace, distinct workloads per namespace)."""
    n, w = s.namespace_hourly, s.workload_hourly
    stmt = (select(n.c.namespace, *sums(n.c.allocated_gpu_count, n.c.avg_utilization))
            .where(*where(n, cf, start, end)).group_by(n.c.namespace))
    counts = (select(w.c.namespace, func.count(distinct(w.c.workload_name)))
              .where(*where(w, cf, start, end)).group_by(w.c.namespace))
    return stmt, counts


def label_children(dimension_type: str, key: str, cf, start, end) -> Select:
    lb = s.label_hourly
    return (select(lb.c.dimension_value, *sums(lb.c.allocated_gpu_count, lb.c.avg_utilization))
            .where(*where(lb, cf, start, end, lb.c.dimension_type == dimension_type,
                          lb.c.dimension_key == key))
            .group_by(lb.c.dimension_value))


def workload_children(scope: Scope, child: str, user_annotation: str, cf, start, end) -> Select:
    """Users (with their distinct workload count) or workloads of a workload-row scope, or
    (``user+workload``) the rows of both at once, grouped by workload and user."""
    w = s.workload_hourly
    user, joined = user_join(user_annotation, scope.namespace, scope)
    conds = where(w, None, start, end)
    if scope.namespace is not None:
        conds.append(w.c.namespace == scope.namespace)
    if cf is not None:
        # With a namespace, (namespace, stat_hour) reads only the period's rows. Offered the
        # cluster too, SQLite takes the unique (cluster, namespace, workload, hour) key for its
        # workload order and reads the namespace's whole history (24,444 rows for 1,596).
        cluster = unindexed(w.c.cluster_name) if scope.namespace is not None else w.c.cluster_name
        conds.append(cluster == cf)
    if scope.user is not None:
        conds.append(user == scope.user)
    if scope.kind == "workload":
        conds.append(w.c.workload_name == scope.workload)
    conds += label_match(scope, joined)
    total = sums(w.c.allocated_gpu_count, w.c.avg_utilization)
    if child == "user+workload":  # both levels at once: a group per (workload, user)
        return (select(w.c.namespace, w.c.workload_name, user.label("u"),
                       func.max(w.c.workload_type).label("kind"), *total)
                .select_from(joined).where(*conds)
                .group_by(w.c.namespace, w.c.workload_name, user))
    if child == "user":
        return (select(user.label("u"), *total,
                       func.count(distinct(w.c.namespace + literal("/") + w.c.workload_name))
                       .label("n"))
                .select_from(joined).where(*conds).group_by(user))
    return (select(w.c.namespace, w.c.workload_name, func.max(w.c.workload_type).label("kind"),
                   func.max(user).label("u"), *total)
            .select_from(joined).where(*conds).group_by(w.c.namespace, w.c.workload_name))


def series(table, conds: list, joined) -> Select:
    stmt = select(table.c.stat_hour, *sums(table.c.allocated_gpu_count, table.c.avg_utilization))
    if joined is not None:
        stmt = stmt.select_from(joined)
    return stmt.where(*conds).group_by(table.c.stat_hour)


def capacity_series(cf, start, end) -> Select:
    c = s.cluster_hourly
    return (select(c.c.stat_hour, func.sum(c.c.total_gpu_capacity))
            .where(*where(c, cf, start, end)).group_by(c.c.stat_hour))


def latest_snapshot(cf, at: datetime) -> Select:
    sn = s.snapshots
    conds = [sn.c.snapshot_time <= naive(at), sn.c.dimension_type == "cluster"]
    if cf is not None:
        conds.append(sn.c.cluster_name == cf)
    return (select(sn.c.cluster_name, sn.c.snapshot_time, sn.c.total_gpu_capacity,
                   sn.c.allocated_gpu_count, sn.c.allocation_details)
            .where(*conds).order_by(sn.c.snapshot_time.desc()).limit(1))


def newest_hour(cf) -> Select:
    c = s.cluster_hourly
    stmt = select(func.max(c.c.stat_hour))
    return stmt.where(c.c.cluster_name == cf) if cf is not None else stmt


def coverage(cf, start, end) -> tuple[Select, Select]:
    """(cluster, distinct hours with rows in the period), (cluster, first hour ever) — both
    read the cluster table's (cluster_name, stat_hour) index."""
    c = s.cluster_hourly
    hours = (select(c.c.cluster_name, func.count(distinct(c.c.stat_hour)))
             .where(*where(c, cf, start, end)).group_by(c.c.cluster_name))
    first = select(c.c.cluster_name, func.min(c.c.stat_hour)).group_by(c.c.cluster_name)
    if cf is not None:
        first = first.where(c.c.cluster_name == cf)
    return hours, first


def idle_workloads(user_annotation: str, cf, start, end, min_gpus: float,
                   max_utilization: float) -> Select:
    w = s.workload_hourly
    user, joined = user_join(user_annotation)
    conds = where(w, cf, start, end, w.c.allocated_gpu_count >= float(min_gpus),
                  w.c.avg_utilization < float(max_utilization))
    return (select(w.c.namespace, w.c.workload_name, func.max(w.c.workload_type).label("kind"),
                   func.max(user).label("u"), *sums(w.c.allocated_gpu_count, w.c.avg_utilization))
            .select_from(joined).where(*conds).group_by(w.c.namespace, w.c.workload_name))


# -- workload names: looked up, not listed --------------------------------------------------
def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefixes(word: str) -> list[str]:
    """The beginnings names are looked up by, for one word (lower case: Kubernetes names are).

    Two: its first ``_SHORT_PREFIX`` letters/digits (finds ``resnet-train`` for ``resnettrain``
    or ``resnet_trian``), and its first 60 % with every separator written ``-`` (finds
    ``user-a-train-w47-03`` for ``user_a_trian_w47_03`` among the many names beginning
    ``user``; Kubernetes names separate with ``-``).
    """
    low = word.lower()
    short = lookup_prefix(word, _SHORT_PREFIX)
    long = _SEPARATORS.sub("-", low[:max(len(short) + 1, -(-len(low) * 3 // 5))])
    out = [short] if short else []
    if len(low) > _SHORT_PREFIX and len(long) > len(short) and long != short:
        out.append(long)
    return out


def _names_from(prefix: str, conds: list, limit: int, name: str) -> Select:
    """Up to ``limit`` distinct workload names beginning with ``prefix`` (with rows matching
    ``conds``), in order (``walk`` over the name index)."""
    names = walk(s.workload_hourly.c.workload_name, conds, name, lo=prefix,
                 hi=_next(prefix)).subquery()
    return (select(names.c.v.label("name"))
            .where(names.c.v.like(_like_escape(prefix) + "%", escape="\\")).limit(limit))


def workload_lookup(cf, start, end, words: Sequence[str], exact: Sequence[str],
                    limit: int = LOOKUP_LIMIT) -> Select:
    """One statement: the names equal to any word (as written or in lower case; the first
    ``MAX_EQUAL`` spellings), and per ``words[i]`` the names its prefixes find (tagged ``i``;
    -1 for equal names). Every branch reads the index on ``workload_name`` and is bounded."""
    w = s.workload_hourly
    col = w.c.workload_name
    conds = where(w, cf, start, end)
    branches = []
    equal = list(dict.fromkeys(v for word in (*words, *exact) for v in (word, word.lower())))
    for name in equal[:MAX_EQUAL]:  # one index probe each (a name may have 40,000 rows)
        branches.append(select(literal(-1).label("k"), literal(name, String).label("name"))
                        .where(exists().where(col == name, *conds)))
    for i, word in enumerate(words):
        for j, prefix in enumerate(prefixes(word)):
            found = _names_from(prefix, conds, limit, f"names_{i}_{j}").subquery()
            branches.append(select(literal(i).label("k"), found.c.name))
    return union_all(*branches) if len(branches) > 1 else branches[0]
