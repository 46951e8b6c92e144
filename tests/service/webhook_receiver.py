"""A webhook receiver for the tests: an HTTP server on loopback, in a
thread, that records every POST (time, headers, body) and answers as told:
a list of statuses to answer in turn (then 200), a function of the event,
or "hang" (never answers until closed)."""

import hashlib
import hmac
import http.server
import json
import threading
import time


def verify(secret, headers, body, tolerance=300):
    """The receiver's side of ccf-signature: t=<unix>,v1=<hex HMAC-SHA256>."""
    parts = dict(p.split("=", 1) for p in headers["ccf-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < tolerance


class Receiver:
    def __init__(self, answers=(), hang=False, delay=0.0, status_for=None, ssl_context=None):
        self.answers = list(answers)
        self.status_for = status_for
        self.hang = hang
        self.delay = delay
        self.got = []  # (monotonic time, headers dict (lower-case), body bytes)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.closing = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered: the status line, headers and body leave in one
            # write (flushed after each request), not in three small
            # packets that Nagle and delayed ACKs hold 40 ms each.
            wbufsize = 1 << 16

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.cond:
                    outer.got.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                    status = outer.answers.pop(0) if outer.answers else 200
                    if outer.status_for:
                        status = outer.status_for(json.loads(body))
                    outer.cond.notify_all()
                if outer.hang:
                    outer.closing.wait(120)
                    return
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        if ssl_context is not None:  # HTTPS: the handshake in each handler thread
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True,
                                                        do_handshake_on_connect=False)
            self.url = f"https://localhost:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.got]

    def event_ids(self):
        return [e["event_id"] for e in self.events()]

    def wait_for(self, pred, timeout=20):
        """Until pred(events) holds; the events."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                evs = [json.loads(b) for _, _, b in self.got]
                if pred(evs):
                    return evs
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: condition not met in {timeout} s; got {evs}")
                self.cond.wait(min(left, 0.5))

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
