"""``monitor web``: the analysts' console on its own (``monitor run`` serves it too when
``web.enabled``)."""

from __future__ import annotations

import contextlib
import logging

import typer

from monitor.cli.common import EXIT_USAGE, Context, fail, handle_errors, setup_logging

log = logging.getLogger(__name__)


def web(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Address to listen on (default: web.bind)."),
    port: int = typer.Option(
        None, "--port", min=0, max=65535, help="Port (default: web.port; 0: any free port)."
    ),
) -> None:
    """Serve the web console: pages, the JSON API (/openapi.json) and Atom feeds.

    On 127.0.0.1, ::1 or localhost with no secret set, no login is asked.

    On any other address every request needs a login, and the console starts only with
    MONITOR_WEB_TOKENS="ana:TOKEN,omar:TOKEN" (or MONITOR_WEB_TOKEN=TOKEN) set.

    Example: monitor web --port 8080
    """
    import os

    from monitor.service.web import bind_socket, url_of
    from monitor.web.auth import policy_for
    from monitor.web.deps import FileSettings, WebContext

    context: Context = ctx.obj
    settings = context.settings
    bind = host or settings.web.bind
    listen_port = settings.web.port if port is None else port
    with handle_errors(), context.store() as store:
        setup_logging(context.verbose, logging.INFO, settings.service.log_format)
        policy = policy_for(bind, os.environ)
        how = "--host/--port" if host or port is not None else "web.bind and web.port in the config"
        sock = bind_socket(bind, listen_port, how)
        import uvicorn

        from monitor.web.app import build_web_app

        app = build_web_app(
            WebContext(
                settings=FileSettings(settings.config_path, settings),
                store=store,
                config_path=settings.config_path,
                auth=policy,
            )
        )
        login = "login required" if policy.required else "no login (localhost)"
        typer.echo(f"web console on {url_of(sock)} ({login}); Ctrl-C stops it", err=True)
        server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        if not server.started:
            fail("the web console did not start (see the log above)", EXIT_USAGE)


def register(app: typer.Typer) -> None:
    app.command("web")(web)
