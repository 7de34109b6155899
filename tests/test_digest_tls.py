"""Digest delivery over STARTTLS and implicit TLS with a login, to aiosmtpd on loopback.

The server's certificate is made here with the openssl command (for 127.0.0.1) and
trusted through ``SSL_CERT_FILE``, which ``ssl.create_default_context`` reads: the
client checks the certificate as it would a real server's.  The password comes from
the environment variable ``smtp.password_env`` names, and only from there.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from monitor.config import SmtpSettings
from monitor.deliver.digest import build
from monitor.deliver.mail import build_message, deliver
from monitor.deliver.render import render
from monitor.errors import NotifyError
from tests.digestdesk import Mailbox, free_port
from tests.test_digest_browser import sample_items

PASSWORD = "s3cret-from-env"


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == b"monitor"
        and data.password == PASSWORD.encode()
    )
    # handled=False on a refusal: the server answers 535 itself
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=["starttls", "ssl"])
def tls_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, int, Mailbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    box = Mailbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True}
    if request.param == "starttls":
        options |= {"tls_context": context, "require_starttls": True}
    else:
        # implicit TLS: the whole session is encrypted, which aiosmtpd does not see as TLS
        options |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield request.param, port, box
    controller.stop()


def _message() -> Any:
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    rendered = render(build("axis", sample_items(), start, end, "UTC"))
    return build_message(rendered, "m@example.org", ["a@example.org"], msg_id="<x@y>", date=end)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_tls_and_login_with_the_password_from_the_environment(
    tls_server: tuple[str, int, Mailbox],
) -> None:
    security, port, box = tls_server
    smtp = SmtpSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "username": "monitor",
            "password_env": "MONITOR_SMTP_PASSWORD",
            "from": "m@example.org",
            "timeout": 10,
        }
    )
    with pytest.raises(NotifyError, match=r"refused the digest: 535"):
        deliver(_message(), smtp, ["a@example.org"], {"MONITOR_SMTP_PASSWORD": "wrong"})
    assert box.messages == []
    deliver(_message(), smtp, ["a@example.org"], {"MONITOR_SMTP_PASSWORD": PASSWORD})
    assert len(box.messages) == 1
    assert box.messages[0]["Subject"] == "[monitor] axis: 4 stories, 7 matched items"
