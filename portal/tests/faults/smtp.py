"""A scriptable SMTP server for the fault tests (Python 3.12 has no smtpd module).

Like feedback/tests/smtp_sink.py it keeps a message only once it has answered "250" to the end
of DATA (that is when a real server takes responsibility). On top of that a test can script it:

- `delay`: seconds to wait before the "250" (a slow server, so a batch is in flight);
- `gate`: while closed, every message waits before its "250"; a sender that dies meanwhile
  (SIGKILL) never gets it, and the message is dropped, as a real server drops it;
- `reply(stage, recipient)`: return e.g. "451 4.7.1 try later" to refuse at "connect",
  "mail", "rcpt" or "data" (the end of DATA), or None to go on;
- stop()/start(): nothing listening on the port (connection refused).

Every refusal and acceptance is recorded with its time, for the figures in docs/reliability.md.
"""

import select
import socket
import socketserver
import threading
import time
from email import message_from_bytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def refused(self, stage: str, rcpt: str) -> bool:
        reply = self.server.sink._scripted(stage, rcpt)
        if reply:
            self.send(reply)
            return True
        return False

    def handle(self):
        sink: SmtpSink = self.server.sink
        rcpt = ""
        try:
            if self.refused("connect", ""):
                return
            self.send("220 sink.test ESMTP ready")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                text = line.decode(errors="replace").strip()
                verb = text[:4].upper()
                if verb == "EHLO":
                    self.send("250-sink.test")
                    self.send("250 8BITMIME")
                elif verb == "MAIL":
                    rcpt = ""
                    if not self.refused("mail", ""):
                        self.send("250 OK")
                elif verb == "RCPT":
                    rcpt = text.partition(":")[2].strip().strip("<>").lower()
                    if not self.refused("rcpt", rcpt):
                        self.send("250 OK")
                elif verb in ("HELO", "RSET", "NOOP"):
                    self.send("250 OK")
                elif verb == "DATA":
                    self.send("354 End data with <CR><LF>.<CR><LF>")
                    data = self._read_data()
                    if self.refused("data", rcpt):
                        continue
                    if not self._wait(sink):
                        return  # the sender is gone: the message was never accepted
                    self.send("250 OK: queued")
                    sink._accept(data)
                elif verb == "QUIT":
                    self.send("221 Bye")
                    return
                else:
                    self.send("502 Command not implemented")
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

    def _wait(self, sink: "SmtpSink") -> bool:
        """Delay, and wait at a closed gate; False if the client hung up meanwhile."""
        with sink._lock:
            sink.waiting += 1
        try:
            until = time.monotonic() + sink.delay
            while True:
                if self._client_gone():
                    with sink._lock:
                        sink.dropped += 1
                    return False
                if time.monotonic() >= until and sink.gate.is_set():
                    return True
                time.sleep(0.02)
        finally:
            with sink._lock:
                sink.waiting -= 1

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
    request_queue_size = 64


class SmtpSink:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages = []  # email.message.Message, in the order accepted
        self.accepted_at: list[float] = []
        self.refusals: list[tuple[float, str, str, str]] = []  # (time, stage, rcpt, reply)
        self.dropped = 0
        self.waiting = 0  # messages read and waiting for their "250"
        self.delay = 0.0
        self.gate = threading.Event()
        self.gate.set()
        self.script = None  # callable(stage, rcpt) -> reply or None
        self._lock = threading.Lock()
        self._server = None

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

    def _scripted(self, stage: str, rcpt: str) -> str | None:
        reply = self.script(stage, rcpt) if self.script else None
        if reply:
            with self._lock:
                self.refusals.append((time.monotonic(), stage, rcpt, reply))
        return reply

    def _accept(self, data: bytes) -> None:
        with self._lock:
            self.messages.append(message_from_bytes(data))
            self.accepted_at.append(time.monotonic())

    @property
    def count(self) -> int:
        return len(self.messages)

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.messages]
