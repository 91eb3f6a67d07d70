"""The synthetic demo cluster: Lens-shaped rows with scripted scenarios (product.md §3).

``gpureport demo`` fills a database with what a Lens deployment would have written over about
five weeks (lens.md §5–§8), so that every question, report and alert has something real to
find. The data is built the way Lens builds it, top down from *workloads*: each workload has a
start, an end, a GPU count and a utilization model; hourly rows, snapshots and the
``gpu_workload`` table are all derived from that one list, so the tables agree with each other
hour by hour (namespace = Σ workloads, cluster = Σ namespaces, user/team = Σ their workloads).

Decisions, and why:

* **Determinism.** One ``random.Random(seed)`` draws every structural choice in a fixed order.
  Per-hour jitter comes from a splitmix64 hash of a per-workload seed (itself drawn from that
  ``Random``) and the hour index, so an hour's values do not depend on the order in which they
  are computed (the snapshot pass and the hourly pass agree). No global ``random``, no clock in
  the Lens rows: ``created_at``/``updated_at`` are derived from ``stat_hour``. Only the marker's
  ``generated_at`` is the wall clock: it records when the store was filled and is not Lens data.
* **Stationary background.** Week-over-week questions must find ml-team and nothing else, so
  every other namespace is a set of *slots* with a fixed GPU count and a fixed utilization level
  (a team that always trains on 8 GPUs), refilled by a chain of jobs with short gaps. Weekly and
  diurnal cycles repeat identically every week, so week-over-week changes are small noise.
* **Start/stop at 5-minute marks** (Lens samples every 5 minutes): a partial hour carries
  ``allocated = GPUs × minutes/60`` and ``sample_count = minutes/5`` exactly.
* **Snapshots**: one per cluster per hour at HH:30, plus every 5 minutes over the 3 hours up to
  and including the current hour's start. Per-pod lists and the top-level ``workloads`` map are
  filled only in those recent snapshots (older ones keep namespace and annotation aggregates and
  ``[]``/``{}``): the realtime view needs them, history does not, and the large profile would
  otherwise store hundreds of MB of JSON.
* **Label rows**: annotation ``primus-safe.user.name`` (``unknown`` without one, Lens'
  ``default_value``) and label ``team``. Lens' current job never persists label rows (lens.md §9.6);
  the demo writes them so label questions have data.
* **Writes**: one transaction per chunk (~100k rows of one cluster, cut at an hour boundary) with
  raw ``executemany`` on SQLite and ``COPY`` on PostgreSQL; only workload definitions stay in
  memory, never all rows. Secondary indexes are dropped for the load and rebuilt from
  ``schema.py`` at the end, then ``ANALYZE`` runs so readers' joins get sane plans.
* The marker (``reporter.store_marker``, table ``gpureport_store``) is gpureport's own. It is
  written *before* the data, so an interrupted run is still recognised as demo data and
  ``--reset`` can clean it up.
"""

from agent.errors import DemoError
from reporter.demo.writer import DemoSummary, generate, span

__all__ = ["generate", "span", "DemoSummary", "DemoError"]
