"""The analysts' web console: server-rendered pages, a JSON API, Atom feeds.

:func:`monitor.web.app.build_web_app` assembles it over a
:class:`monitor.web.deps.WebContext` (the settings, the store, the auth policy);
``monitor web`` serves it alone (:mod:`monitor.cli.web`), ``monitor run`` beside
the poller when ``web.enabled`` (:mod:`monitor.service.web`).  FastAPI and its
dependencies load only when the console is used: importing this package is cheap.
"""
