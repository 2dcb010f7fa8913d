"""A minimal SMTP server for tests with a real worker (Python 3.12 has no smtpd module).

It keeps a message only once it has answered "250" to the end of DATA, as a real server takes
responsibility for a message only then. It can be down (nothing listening on its port), and it
can hold the next message: read it, then keep the client waiting for the "250" until released,
so a test can kill the sender mid-send. A held message whose sender has gone is dropped.
It counts connections, and can refuse given recipients (`refuse`: address -> reply to RCPT).
"""

import select
import socket
import socketserver
import threading
from email import message_from_bytes


class _Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def setup(self):
        super().setup()
        # Replies go out as written, as a mail server's do: without this, the second line of a
        # multi-line reply (EHLO) waits for the client's delayed ACK, some 40 ms a connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        sink: SmtpSink = self.server.sink
        with sink._lock:
            sink.connections += 1
        try:
            self.reply("220 sink.test ESMTP ready")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                verb = line.decode(errors="replace").strip()[:4].upper()
                if verb == "EHLO":
                    self.reply("250-sink.test")
                    self.reply("250 8BITMIME")
                elif verb == "RCPT":
                    address = line.decode(errors="replace").partition(":")[2].strip().strip("<>").lower()
                    refusal = sink.refuse.get(address)
                    self.reply(refusal or "250 OK")
                    if refusal and refusal.startswith("421"):
                        return  # "closing the channel"
                elif verb in ("HELO", "MAIL", "RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = self._read_data()
                    if sink._take_hold():
                        if not self._wait_for_release(sink):
                            return  # the sender is gone: the message was never accepted
                    self.reply("250 OK: queued")
                    sink._accept(data)
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")
        except (ConnectionError, OSError):
            return

    def _read_data(self) -> bytes:
        lines = []
        while True:
            line = self.rfile.readline()
            if not line or line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _wait_for_release(self, sink: "SmtpSink") -> bool:
        """Hold the reply until released; False if the client hung up meanwhile."""
        sink.held.set()
        while not sink._released.wait(0.1):
            if self._client_gone():
                sink.dropped += 1
                return False
        if self._client_gone():
            sink.dropped += 1
            return False
        return True

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages = []  # email.message.Message, in the order accepted
        self.dropped = 0
        self.connections = 0
        self.refuse: dict[str, str] = {}
        self.held = threading.Event()
        self._hold_next = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = None

    # --- up and down ---

    def start(self) -> "SmtpSink":
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.sink = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- holding a message ---

    def hold_next(self) -> None:
        self.held.clear()
        self._released.clear()
        self._hold_next = True

    def release(self) -> None:
        self._released.set()

    def _take_hold(self) -> bool:
        with self._lock:
            hold, self._hold_next = self._hold_next, False
            return hold

    def _accept(self, data: bytes) -> None:
        with self._lock:
            self.messages.append(message_from_bytes(data))

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.messages]
