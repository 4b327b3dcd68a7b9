"""AzureMLService: the loopback service on a thread of the test process, and its test API.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (a free port), one thread per connection,
HTTP/1.1 keep-alive, TLS negotiated in the connection's own thread. Every request is logged
(method, path, query, JSON body) before it is answered; answers come from one
:class:`Router` over one :class:`Store`, under the store's lock.

:meth:`AzureMLService.env` is all a process needs to reach it through the real
``MLClient`` and the real ``DefaultAzureCredential`` (see ``__init__``'s docstring).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.exceptions import ResourceExistsError

from mlstack.content.blobstore import BlobEndpoint
from tests.support.azureml.assets import BY_LABEL
from tests.support.azureml.auth import Authority
from tests.support.azureml.cloud import CLOUD_NAME, Tls, metadata_url
from tests.support.azureml.errors import ServiceError, user_error
from tests.support.azureml.registries import Registries
from tests.support.azureml.routes import Reply, Request, Router
from tests.support.azureml.store import Store, workspace_id

LOOPBACK = "127.0.0.1"
_QUIET = (ConnectionError, TimeoutError, ssl.SSLError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, answer: Any) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.context, self.answer = context, answer
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:  # in the connection's thread: a slow handshake holds no one else up
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up, or does not trust our CA
        with self._open_lock:
            self._open.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], _QUIET):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            for tls in self._open:
                with contextlib.suppress(OSError):
                    tls.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 240  # an idle keep-alive connection is closed after four minutes, as ARM's
    server: _Server

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body, valid = (json.loads(raw) if raw else None), True
        except ValueError:
            body, valid = raw.decode(errors="replace"), False
        request = Request(self.command, unquote(url.path), query, body, headers)
        if valid:
            reply = self.server.answer(request)
        else:
            error = user_error("The request body is not valid JSON.")
            reply = Reply(error.status, error.body())
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace the service holds, and where its default datastore keeps blobs."""

    subscription_id: str
    resource_group: str
    name: str
    datastore: str
    container: str
    blob: BlobEndpoint

    @property
    def id(self) -> str:
        return workspace_id(self.subscription_id, self.resource_group, self.name)


class AzureMLService:
    """The loopback Azure ML service: ``start()``, add workspaces, hand ``env()`` to clients."""

    def __init__(self, *, page_size: int = 20) -> None:
        self.page_size = page_size
        self.store = Store()
        self._log: list[Request] = []
        self.failures: list[str] = []
        """Tracebacks of requests the service itself failed on (answered 500)."""
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._home: Path | None = None
        self.url = ""

    # -- life -------------------------------------------------------------------------------

    def start(self) -> AzureMLService:
        if self._server is not None:
            raise RuntimeError("the service is already started")
        self._home = Path(tempfile.mkdtemp(prefix="azureml-loopback-"))
        self.tls = Tls.create(self._home)
        self._server = _Server(self.tls.context, self._answer)
        self.url = f"https://{LOOPBACK}:{self._server.server_address[1]}"
        self.authority = Authority.create(self.url)
        self.cli = self.authority.write_cli(self._home / "bin")
        self._router = Router(self.store, self.authority, self.url, self.page_size)
        self.registries = Registries(self.store, self.authority, self.url)  # registries.py
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name="azureml-loopback", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
        self._server = self._thread = self._home = None

    def __enter__(self) -> AzureMLService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: Request) -> Reply:
        with self._log_lock:
            self._log.append(request)
        try:
            with self.store.lock:
                return self.registries.handle(request) or self._router.handle(request)
        except Exception as error:  # a bug of ours: say so, in the service's own error shape
            with self._log_lock:
                self.failures.append(traceback.format_exc())
            failure = ServiceError(500, "InternalServerError", f"loopback service bug: {error!r}")
            return Reply(failure.status, failure.body())

    # -- what clients need ------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bearer token the service accepts (the stand-in ``az`` prints it)."""
        return self.authority.token

    def env(self) -> dict[str, str]:
        """Environment variables that point MLClient + DefaultAzureCredential here."""
        if self._home is None:
            raise RuntimeError("start the service first")
        kept = [h for h in os.environ.get("NO_PROXY", "").split(",") if h]
        no_proxy = ",".join(dict.fromkeys([LOOPBACK, "localhost", *kept]))
        return {
            "ARM_CLOUD_METADATA_URL": metadata_url(self.url),
            # a custom cloud's registry discovery endpoint (azure-ai-ml reads it at load)
            "REGISTRY_DISCOVERY_ENDPOINT_URL": f"{self.url}/",
            "AZUREML_CURRENT_CLOUD": CLOUD_NAME,
            "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
            "PATH": f"{self.cli.parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "REQUESTS_CA_BUNDLE": str(self.tls.ca_file),
            "SSL_CERT_FILE": str(self.tls.ca_file),
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }

    # -- workspaces -------------------------------------------------------------------------

    def add_workspace(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        *,
        blob: BlobEndpoint,
        container: str | None = None,
        datastore: str = "workspaceblobstore",
        location: str = "westeurope",
    ) -> WorkspaceRef:
        """Register a workspace whose default blob datastore ``datastore`` is ``container``
        (created in ``blob``'s account, as Azure creates it with the workspace)."""
        workspace = self.store.add_workspace(subscription_id, resource_group, name, location)
        ref = WorkspaceRef(subscription_id, resource_group, name, datastore, "", blob)
        container = self.add_datastore(
            ref, datastore, blob=blob, container=container or f"azureml-blobstore-{workspace.guid}",
            default=True,
        )  # fmt: skip
        return WorkspaceRef(subscription_id, resource_group, name, datastore, container, blob)

    def add_datastore(
        self,
        workspace: WorkspaceRef,
        name: str,
        *,
        blob: BlobEndpoint,
        container: str | None = None,
        default: bool = False,
    ) -> str:
        """Another blob datastore (e.g. in a second Azurite account); returns its container."""
        container = container or f"{name}-{uuid.uuid4().hex[:12]}"
        with blob.client(pool=1) as service, contextlib.suppress(ResourceExistsError):
            service.create_container(container)
        found = self.store.find(workspace.id)
        with self.store.lock:
            found.add_datastore(
                name, account=blob.account, container=container, key=blob.key, default=default
            )
        return container

    def remove_workspace(self, workspace: WorkspaceRef) -> None:
        """Forget a workspace (requests under it then get ARM's 404)."""
        self.store.remove_workspace(
            workspace.subscription_id, workspace.resource_group, workspace.name
        )

    # -- inspection -------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request so far, oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def versions(
        self, kind: str, workspace: WorkspaceRef | str, name: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored versions of ``kind`` (data, model, environment), archived included, as the
        service would answer a GET, by name then creation order."""
        found = self.store.find(workspace if isinstance(workspace, str) else workspace.id)
        catalog = found.catalogs[BY_LABEL[kind].segment]
        with self.store.lock:
            names = [name] if name is not None else sorted(catalog.containers)
            return [
                version
                for each in names
                for version in catalog.versions(each, "All", "createdtime asc")
            ]
