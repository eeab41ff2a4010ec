"""The listening socket: one handler per connection, its bound address, and a clean stop.

wyoming's own ``AsyncServer`` keeps its handlers and its asyncio server private, and the server
needs both (to end every connection at shutdown, and to advertise the port it really bound when
asked for port 0), so this small class owns the asyncio server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class ConnectionHandler(Protocol):
    async def run(self) -> None: ...

    async def disconnect(self) -> None: ...


HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], ConnectionHandler]


class Listener:
    """Serves ``tcp://HOST:PORT`` or ``unix://PATH`` with a handler per connection."""

    def __init__(self, uri: str, handler_factory: HandlerFactory) -> None:
        parsed = urlparse(uri)
        if parsed.scheme == "tcp":
            if parsed.hostname is None or parsed.port is None:
                raise ValueError(f"'{uri}' needs a host and a port: tcp://HOST:PORT")
            self.host: str | None = parsed.hostname
            self.port: int | None = parsed.port
            self.path: Path | None = None
        elif parsed.scheme == "unix":
            self.host = self.port = None
            self.path = Path(parsed.netloc + parsed.path)
        else:
            raise ValueError(f"'{uri}' is not tcp://HOST:PORT or unix://PATH")
        self._factory = handler_factory
        self._handlers: set[ConnectionHandler] = set()
        self._server: asyncio.AbstractServer | None = None

    @property
    def is_tcp(self) -> bool:
        return self.path is None

    async def start(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        else:
            self._server = await asyncio.start_server(self._serve, host=self.host, port=self.port)
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stops listening and ends every open connection."""
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers):
            with contextlib.suppress(Exception):
                await handler.disconnect()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = self._factory(reader, writer)
        self._handlers.add(handler)
        try:
            await handler.run()
        finally:
            self._handlers.discard(handler)
