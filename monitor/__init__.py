"""monitor: a media-monitoring RSS ingester.

The package is laid out as the pipeline it runs::

    config  ->  pipeline.fetch -> pipeline.parse -> pipeline.extract -> pipeline.assemble
                                                                  |
    orchestrator (the only module that knows the order)  ---->  storage

``monitor.cli`` is a thin Typer layer over these modules.
"""

__version__ = "0.1.0"
