"""A container credentials endpoint on 127.0.0.1, as ECS, EKS and Lambda extensions serve one.

botocore's container provider reads ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and sends
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` as the ``Authorization`` header; the answer is JSON with
``AccessKeyId``, ``SecretAccessKey``, ``Token`` and ``Expiration``. Each answer here is a new
set of credentials, and ``lifetime`` says how far ahead it expires: botocore refreshes
credentials that expire within 15 minutes (``ADVISORY_WINDOW``) when no other request is
refreshing them, and makes every request wait for a refresh within 10 (``MANDATORY_WINDOW``).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ADVISORY_WINDOW", "AUTH_TOKEN", "MANDATORY_WINDOW", "CredentialsServer"]

AUTH_TOKEN = "containerAuthToken0123"
ADVISORY_WINDOW = timedelta(minutes=15)
MANDATORY_WINDOW = timedelta(minutes=10)


class CredentialsServer:
    """Serves container credentials on a free port of 127.0.0.1 until ``stop()``.

    ``lifetime`` is how long each set served from now on is valid (it may be changed at any
    time). ``served`` lists every set handed out, in order, ``lifetimes`` how long each was
    given and ``expirations`` when each one expires. With ``malformed`` set, the answers are
    JSON without credentials in them.
    """

    def __init__(self, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.lifetime = lifetime
        self.served: list[dict[str, str]] = []
        self.lifetimes: list[timedelta] = []
        self.expirations: list[datetime] = []
        self.malformed = False
        self.refused = 0  # requests without the right Authorization header
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to put in ``AWS_CONTAINER_CREDENTIALS_FULL_URI``."""
        assert self._server is not None, "the credentials server is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/credentials"

    def start(self) -> CredentialsServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # Headers and body go out in separate writes: without this, Nagle's algorithm
            # holds the body back until the client acknowledges the headers.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != AUTH_TOKEN:
                    with owner._lock:
                        owner.refused += 1
                    self._answer(401, {"message": "missing or wrong authorization token"})
                    return
                if owner.malformed:
                    self._answer(200, {"Code": "Success", "Type": "AWS-HMAC"})
                    return
                self._answer(200, owner._next())

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per fetch on stderr would only be noise

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="CredentialsServer", daemon=True
        )
        self._thread.start()
        return self

    def _next(self) -> dict[str, str]:
        with self._lock:
            n = len(self.served)
            lifetime = self.lifetime
            expires = datetime.now(timezone.utc) + lifetime
            # DynamoDB Local refuses access key ids that are not alphanumeric.
            credentials = {
                "AccessKeyId": f"ASIACONTAINER{n:07d}",
                "SecretAccessKey": f"containerSecret{n:07d}",
                "Token": f"containerSessionToken{n:07d}",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            self.served.append(credentials)
            self.lifetimes.append(lifetime)
            self.expirations.append(expires)
            return credentials

    def stop(self) -> None:
        """Stop serving and end the thread; again is a no-op."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> CredentialsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
