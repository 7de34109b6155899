"""The long-running service (``monitor run``): one scheduler, the poll tick, components.

Scheduling state (``next_fetch_at``, leases) lives in the database, so a
restart or a second worker on another machine picks up where things stand;
every tick is the same work as ``monitor run --once --due``.

Everything else the service does is a :class:`~monitor.service.core.Component`
with its own jobs on the same scheduler: the configuration reload, the HTTP
endpoint, housekeeping, digests and alerts.  See :mod:`monitor.service.core`.
"""

from monitor.service.core import Component, Service, ServiceHealth

__all__ = ["Component", "Service", "ServiceHealth"]
