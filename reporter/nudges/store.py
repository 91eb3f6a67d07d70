"""The state database side of nudges: where each user's escalation stands, and the notices.

``nudge_state`` holds one row per (schedule, user): the idle spell (``episode``), the level of
its last notice (0 = none yet), when it went out. ``nudge_notices`` holds one row per notice
and route (``email``, ``slack:#ml-gpu``, ...), written *before* the send as ``sending``:

* its unique key (schedule, user, episode, level, route) is the claim — of two runs that both
  decide to send a user's 2nd notice by email, one inserts the row and sends, the other finds
  the row and does not (``claim_notice``). A row that ended ``failed`` (nothing was accepted)
  is taken again by the next run with a compare-and-swap; ``sent``, ``no_address`` and
  ``sending`` rows never are (a run that died while sending leaves ``sending``: maybe sent, so
  not sent twice).
* the level advances (``advance``) when at least one route of the notice was sent, or the user
  has no address at all (``no_address``: escalation is how someone gets told then).

``due`` is the escalation rule, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from reporter.statedb import StateDB
from reporter.statedb.models import nudge_notices as notices, nudge_state as states

MAX_LEVEL = 3


@dataclass(frozen=True)
class UserState:
    """A user's row of ``nudge_state`` (a new user: episode 1, level 0)."""

    user: str
    episode: int = 1
    level: int = 0
    last_notice_at: datetime | None = None
    idle_since: datetime | None = None
    stored: bool = False
    clusters: frozenset[str] = frozenset()  # of the workloads last seen idle


def due(state: UserState, now: datetime, repeat_after: timedelta) -> tuple[int | None, str]:
    """(the level of the notice due now or None, why) for a user who is idle now."""
    if state.level == 0:
        return 1, "idle now, not told yet in this idle spell"
    if state.level >= MAX_LEVEL:
        return None, (f"notice {state.level} of {MAX_LEVEL} already sent "
                      f"{_when(state.last_notice_at)}; nothing more to escalate")
    ready = (state.last_notice_at or now) + repeat_after
    if now < ready:
        return None, (f"notice {state.level} sent {_when(state.last_notice_at)}; still idle, "
                      f"notice {state.level + 1} not before {_when(ready)}")
    return state.level + 1, (f"still idle {_hours(now - state.last_notice_at)} after notice "
                             f"{state.level} ({_when(state.last_notice_at)})")


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "-"


def _hours(td: timedelta | None) -> str:
    return f"{td.total_seconds() / 3600:.0f} h" if td is not None else "-"


# --------------------------------------------------------------------------------------------
def load_states(db: StateDB, schedule: str) -> dict[str, UserState]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(states).where(states.c.schedule == schedule)).all()
    return {r.user: UserState(r.user, r.episode, r.level, r.last_notice_at, r.idle_since, True,
                              frozenset(w.get("cluster", "") for w in r.workloads or []))
            for r in rows}


def mark_idle(db: StateDB, schedule: str, state: UserState, now: datetime,
              workloads: list[dict[str, Any]], idle_gpu_hours: float) -> None:
    """Record that ``state.user`` is idle now (creates the row of a new user)."""
    values = {"last_idle_at": now, "workloads": workloads, "idle_gpu_hours": idle_gpu_hours,
              "updated_at": now}
    with db.engine.begin() as conn:
        if state.stored:
            conn.execute(update(states).where(and_(states.c.schedule == schedule,
                                                   states.c.user == state.user))
                         .values(idle_since=state.idle_since or now, **values))
            return
        try:
            with conn.begin_nested():
                conn.execute(insert(states).values(schedule=schedule, user=state.user,
                                                   episode=state.episode, level=0,
                                                   idle_since=now, **values))
        except IntegrityError:  # a concurrent run inserted it first: same facts
            pass


def reset(db: StateDB, schedule: str, users: Sequence[str], now: datetime) -> None:
    """Users whose workloads stopped idling: a new episode at level 0."""
    with db.engine.begin() as conn:
        for user in users:
            conn.execute(update(states).where(and_(
                states.c.schedule == schedule, states.c.user == user, states.c.level > 0))
                .values(level=0, episode=states.c.episode + 1, idle_since=None, reset_at=now,
                        workloads=[], idle_gpu_hours=None, updated_at=now))


def advance(db: StateDB, schedule: str, user: str, episode: int, level: int,
            now: datetime) -> None:
    """The notice of ``level`` went out: the user's escalation stands there now."""
    with db.engine.begin() as conn:
        conn.execute(update(states).where(and_(
            states.c.schedule == schedule, states.c.user == user, states.c.episode == episode,
            states.c.level < level)).values(level=level, last_notice_at=now, updated_at=now))


# --------------------------------------------------------------------------------------------
def claim_notice(db: StateDB, *, run_id: int | None, schedule: str, user: str, episode: int,
                 level: int, route: str, channel: str, target: str,
                 workloads: list[dict[str, Any]], idle_gpu_hours: float, now: datetime,
                 status: str = "sending") -> int | None:
    """Insert the notice's row (``sending``, or ``no_address``); its id, or None when another
    run has it (sent, being sent, or recorded). A ``failed`` row is taken over."""
    values = dict(run_id=run_id, schedule=schedule, user=user, episode=episode, level=level,
                  route=route, channel=channel, target=target, status=status,
                  workloads=workloads, idle_gpu_hours=idle_gpu_hours, at=now)
    try:
        with db.engine.begin() as conn:
            return int(conn.execute(insert(notices).values(**values)
                                    .returning(notices.c.id)).scalar_one())
    except IntegrityError:
        pass
    key = and_(notices.c.schedule == schedule, notices.c.user == user,
               notices.c.episode == episode, notices.c.level == level, notices.c.route == route)
    with db.engine.begin() as conn:
        row = conn.execute(select(notices.c.id, notices.c.status).where(key)).first()
        if row is None or row.status != "failed":
            return None
        taken = conn.execute(update(notices).where(and_(notices.c.id == row.id,
                                                        notices.c.status == "failed"))
                             .values(**values, error=None, message_id=None)).rowcount
        return int(row.id) if taken == 1 else None


def finish_notice(db: StateDB, notice_id: int, status: str, *, message_id: str | None = None,
                  error: str | None = None, now: datetime) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(notices).where(notices.c.id == notice_id).values(
            status=status, message_id=message_id, error=error, at=now))


def list_notices(db: StateDB, *, schedule: str | None = None, run_ids: Sequence[int] = (),
                 limit: int = 200) -> list[Any]:
    query = select(notices).order_by(notices.c.at.desc(), notices.c.id.desc()).limit(limit)
    if schedule:
        query = query.where(notices.c.schedule == schedule)
    if run_ids:
        query = query.where(notices.c.run_id.in_(list(run_ids)))
    with db.engine.connect() as conn:
        return list(conn.execute(query).all())


def notices_by_run(db: StateDB, run_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The notices of each nudge run (``history`` lists them under the run)."""
    out: dict[int, list[Any]] = {}
    if run_ids:
        for n in sorted(list_notices(db, run_ids=run_ids, limit=10000),
                        key=lambda n: (n.user, n.level, n.route)):
            out.setdefault(n.run_id, []).append(n)
    return out


def list_states(db: StateDB, schedule: str | None = None) -> list[Any]:
    query = select(states).order_by(states.c.schedule, states.c.level.desc(), states.c.user)
    if schedule:
        query = query.where(states.c.schedule == schedule)
    with db.engine.connect() as conn:
        return list(conn.execute(query).all())


__all__ = ["UserState", "MAX_LEVEL", "due", "load_states", "mark_idle", "reset", "advance",
           "claim_notice", "finish_notice", "list_notices", "list_states", "notices_by_run"]
