"""Group commit: new items (and feeds' poll records) are written in batches, off the event loop.

Every new article used to cost one transaction (and one commit) in the
orchestrator's thread, and the event loop fetched nothing while the database
worked.  :class:`BatchWriter` takes items from many concurrent
``_new_entry`` tasks, writes whatever has queued up (up to ``max_batch``) in
one transaction in a worker thread, and hands each task its own result.
Items that trickle in (as extraction finishes them, one every few tens of
milliseconds) wait up to ``linger`` seconds for company, so a commit is
shared by several of them rather than paid by each.

A batch that fails is retried item by item, so one bad row (or a database
refusal) fails only the item it belongs to: the others are stored.

The same writer records the end of each feed's poll (``FeedRepository.record_many``):
a cycle of 1,000 feeds answering 304 used to cost 1,000 transactions, each blocking
the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchWriter(Generic[Item, Result]):
    """Serialises writes through one task; use as ``async with BatchWriter(...)``.

    ``add_many`` writes a batch in one transaction and returns one result per item,
    in order."""

    def __init__(
        self,
        add_many: Callable[[Sequence[Item]], list[Result]],
        max_batch: int = 64,
        linger: float = 0.05,
    ) -> None:
        self._add_many = add_many
        self._max_batch = max_batch
        self._linger = linger
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def __aenter__(self) -> BatchWriter[Item, Result]:
        self._task = asyncio.create_task(self._run(), name="monitor-batch-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._queue.put(None)
        if self._task is not None:
            await self._task

    async def add(self, item: Item) -> Result:
        """Store ``item``; returns what became of it once its batch is committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("BatchWriter used outside its 'async with' block")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = loop.time() + self._linger
            while len(batch) < self._max_batch:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    nxt = self._queue.get_nowait()
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
            await self._write(batch)

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        items = [item for item, _ in batch]
        self.batches += 1
        try:
            results = await asyncio.to_thread(self._add_many, items)
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(error)
                return
            log.warning("a batch of %d items failed; writing them one by one", len(batch))
            for entry in batch:
                await self._write([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
