"""The Chalice app (API and admin portal) over HTTP on one local port: chalice's local server,
threaded, answering as API Gateway does (``infra.local.gateway``), and able to close its
keep-alive connections when the stack stops. Beside the app, the local gateway alone serves the
portal's local sign-in (``infra.local.sign_in``): a route the deployed API does not have."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any

from infra.local.sign_in import LocalSignIn


def _dev_server(app: Any, host: str, port: int, log_requests: bool, timeout: float, memory: int,
                sign_in: LocalSignIn | None = None) -> Any:
    """chalice's LocalDevServer with our handler and server classes; binds the port (OSError when
    it is taken)."""
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        LocalChalice,
        LocalDevServer,
        ThreadedHTTPServer,
    )

    from infra.local import gateway

    gateway.install()
    # what chalice.local.create_local_server does, once per process: a thread-local current_request
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice

    class RequestHandler(ChaliceRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            if log_requests:
                super().log_message(format, *args)

        def _generic_handle(self) -> None:
            if sign_in is not None and sign_in.serves(self.path):
                headers, body = self._parse_payload()
                status, answer = sign_in.answer(self.command, self.client_address[0], headers, body)
                self._send_http_response(status, {"Content-Type": "application/json", "Cache-Control": "no-store"},
                                         json.dumps(answer))
                return
            super()._generic_handle()

        # the base binds each do_<METHOD> to its own _generic_handle: bind them to this one
        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    class Server(ThreadedHTTPServer):
        allow_reuse_address = True
        # socketserver's listen backlog is 5: a burst of concurrent clients (the portal, a bulk
        # script, the race tests' 100 requests at once) got connections reset before any thread ran
        request_queue_size = 128

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.connections: set[socket.socket] = set()
            self.connections_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        def process_request(self, request: Any, client_address: Any) -> None:
            with self.connections_lock:
                self.connections.add(request)
            super().process_request(request, client_address)

        def shutdown_request(self, request: Any) -> None:
            with self.connections_lock:
                self.connections.discard(request)
            super().shutdown_request(request)

        def close_connections(self) -> None:
            with self.connections_lock:
                open_ = list(self.connections)
            for conn in open_:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    config = Config.create(chalice_stage="dev", app_name="orderdesk", chalice_app=app, lambda_timeout=int(timeout),
                           lambda_memory_size=memory)
    return LocalDevServer(app, config, host, port, handler_cls=RequestHandler, server_cls=Server)


class LocalHttpServer:
    """The port is bound at construction (so a taken port fails at once, with ``OSError``);
    requests are served from ``serve()`` on, in a thread of their own, until ``stop()``.

    ``timeout`` and ``memory`` are what the Lambda context reports to the app (the API
    function's limits in template.yaml); ``sign_in`` answers the local sign-in route."""

    def __init__(self, app: Any, host: str, port: int, *, log_requests: bool = False, timeout: float = 30,
                 memory: int = 512, sign_in: LocalSignIn | None = None) -> None:
        self._dev_server = _dev_server(app, host, port, log_requests, timeout, memory, sign_in)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._dev_server.server.server_port)

    @property
    def serving(self) -> bool:
        return self._thread is not None

    def serve(self) -> None:
        self._thread = threading.Thread(target=self._dev_server.server.serve_forever, name="local-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the keep-alive connections (a client would otherwise hold a thread)
        and free the port."""
        server = self._dev_server.server
        thread, self._thread = self._thread, None
        if thread is not None:
            server.shutdown()
            thread.join(timeout=10)
        server.close_connections()
        server.server_close()
