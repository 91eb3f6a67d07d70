"""Idle nudges: tell the owners of idle GPUs, and escalate while they stay idle (issue 14 §2).

A schedule file with ``kind: nudge`` (``schedules/idle-nudges.yaml``) fires like any schedule;
``gpureport run idle-nudges`` runs it once. A run finds the users whose workloads held
``>= min_gpus`` GPUs below ``max_utilization`` % in each of the last ``hours`` full hours (the
idle definition the ``idle-gpus`` alert uses: ``reporter.alerts.dataview.DataView
.idle_workloads``), and sends each the notice that is due: the first to the user, the second
(``repeat_after`` later, still idle) copies the team's owners (config ``teams:``), the third
the platform (``escalate_to``). A user whose workloads stopped idling starts over.

Modules, one job each:

``schedule``   ``NudgeSchedule``: the schedule file of kind ``nudge``, validated
``finding``    idle users from the source (allow-list applied), the notice due to each
``addresses``  user -> where to reach them (config ``users:``, a pattern); a team's owners
``message``    the notice's words (EN, ZH; ``templates/nudge.*.j2``), its chat ``Summary``
``store``      the state database side: per-user escalation state, one row per notice sent
               (the unique key that makes each (schedule, user, episode, level, route) once)
``run``        one run: lease, find, claim, send, record; the dry-run listing; scheduler jobs

This package's ``__init__`` imports nothing, so ``reporter.schedules`` can load the schedule
model without the rest.
"""
