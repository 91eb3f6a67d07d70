"""``agent.sources.memo.MemoSource``: one query per distinct call for the length of a job."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from agent.errors import SourceError
from agent.sources.base import Scope
from agent.sources.memo import MemoSource

T0 = datetime(2026, 11, 16, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 23, tzinfo=timezone.utc)


class Counting:
    """A stand-in source: counts calls, optionally slow or failing once."""

    def __init__(self, delay: float = 0.0, fail_first: bool = False):
        self.calls: list[tuple] = []
        self.delay, self.fail_first = delay, fail_first
        self.lock = threading.Lock()

    def children_stats(self, scope, child, start, end, label_key=None, label_type="label"):
        with self.lock:
            self.calls.append(("children_stats", scope, child, label_key))
            fail = self.fail_first and len(self.calls) == 1
        time.sleep(self.delay)
        if fail:
            raise SourceError("database went away")
        return [f"{child}:{scope.cluster}"]

    def clusters(self):
        self.calls.append(("clusters",))
        return ["gpu-east"]

    def ping(self):
        self.calls.append(("ping",))
        return "ok"

    def close(self):
        self.calls.append(("close",))


def test_the_same_call_spelled_differently_is_one_query():
    src = Counting()
    memo = MemoSource(src)
    scope = Scope("cluster", "gpu-east")
    a = memo.children_stats(scope, "namespace", T0, T1)
    b = memo.children_stats(scope, "namespace", T0, T1, label_key=None)
    c = memo.children_stats(scope=scope, child="namespace", start=T0, end=T1, label_type="label")
    assert a == b == c == ["namespace:gpu-east"]
    assert len(src.calls) == 1
    memo.children_stats(scope, "user", T0, T1)  # other arguments: another query
    memo.children_stats(Scope("cluster", "gpu-west"), "namespace", T0, T1)
    assert len(src.calls) == 3


def test_lists_come_back_as_copies():
    memo = MemoSource(Counting())
    first = memo.clusters()
    first.append("scribbled")
    assert memo.clusters() == ["gpu-east"]


def test_connection_methods_are_not_remembered():
    src = Counting()
    memo = MemoSource(src)
    memo.ping(), memo.ping(), memo.close()
    assert src.calls == [("ping",), ("ping",), ("close",)]
    assert memo.wrapped is src


def test_concurrent_identical_calls_wait_for_the_first():
    src = Counting(delay=0.2)
    memo = MemoSource(src)
    scope = Scope("cluster", "gpu-east")
    out: list = []
    threads = [threading.Thread(target=lambda: out.append(
        memo.children_stats(scope, "namespace", T0, T1))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [["namespace:gpu-east"]] * 5
    assert len(src.calls) == 1


def test_a_failed_call_is_asked_again():
    src = Counting(fail_first=True)
    memo = MemoSource(src)
    scope = Scope("cluster", "gpu-east")
    with pytest.raises(SourceError):
        memo.children_stats(scope, "namespace", T0, T1)
    assert memo.children_stats(scope, "namespace", T0, T1) == ["namespace:gpu-east"]
    assert len(src.calls) == 2


def test_unknown_methods_are_the_sources_errors():
    with pytest.raises(AttributeError):
        MemoSource(Counting()).no_such_method()
