"""Events from an agent run's worker thread to the event loop (``reporter.serve.work.Handoff``):
every item arrives, in the order pushed, and a burst wakes the loop once rather than once per
event (a run's status and data events come in bursts of a few milliseconds)."""

from __future__ import annotations

import threading

import anyio

from reporter.serve.work import Handoff


def test_a_burst_from_a_thread_arrives_whole_in_order_with_few_wake_ups():
    wake_ups = 0

    async def main() -> list[int]:
        nonlocal wake_ups
        handoff = Handoff()
        put = handoff._put_pending

        def counted() -> None:
            nonlocal wake_ups
            wake_ups += 1
            put()

        handoff._put_pending = counted
        got: list[int] = []

        def run() -> None:
            for i in range(500):
                handoff.push(i)

        async with anyio.create_task_group() as tg:
            async def read() -> None:
                async with handoff.receive:
                    async for item in handoff.receive:
                        got.extend([item, *handoff.ready()])

            tg.start_soon(read)
            await anyio.to_thread.run_sync(run)
            handoff.close()
        return got

    assert anyio.run(main) == list(range(500))
    assert 1 <= wake_ups < 500


def test_items_pushed_after_the_reader_left_are_dropped_quietly():
    async def main() -> None:
        handoff = Handoff()
        handoff.receive.close()  # the client went away
        thread = threading.Thread(target=lambda: [handoff.push(i) for i in range(10)])
        thread.start()
        thread.join()
        await anyio.sleep(0.01)  # the hand-over runs, finds no reader, and says nothing
        handoff.close()

    anyio.run(main)
