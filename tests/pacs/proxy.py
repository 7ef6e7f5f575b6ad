"""A TCP proxy that cuts every connection after a byte budget: a network failure in the middle of a transfer."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["CuttingProxy"]


class CuttingProxy:
    """Forward ``127.0.0.1:port`` to ``target``; once ``budget`` bytes went through (both ways, all
    connections), the link is down: the connection that crossed the budget is cut, later ones on arrival.

    Args:
        target_port: where to forward (on 127.0.0.1).
        budget: bytes allowed before the cut.
        port: where to listen (0: a free port).
    """

    def __init__(self, *, target_port: int, budget: int, port: int = 0) -> None:
        self.target_port = target_port
        self.budget = budget
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._down = threading.Event()
        self._sent = 0
        self._lock = threading.Lock()

    def __enter__(self) -> CuttingProxy:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink, client, upstream), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, *pair: socket.socket) -> None:
        try:
            while not self._down.is_set():
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    allowed = max(0, self.budget - self._sent)
                    self._sent += len(data)
                if len(data) > allowed:
                    self._down.set()
                    sink.sendall(data[:allowed])
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in pair:  # cut both directions, as a dropped link would
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
