"""The ingest stages, one module each, in pipeline order:

fetch (HTTP, the only I/O here) -> parse (feedparser, pure) -> extract
(trafilatura, pure, runs in a process pool) -> assemble (merge feed entry and
page into an :class:`~monitor.pipeline.types.ItemDraft`, pure).

:mod:`monitor.orchestrator` is the only module that calls them in order.
"""
