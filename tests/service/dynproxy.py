"""A loopback HTTP proxy in front of dynalite that shows each DynamoDB
request and its answer to an observer, and passes both on unchanged
(dynalite checks that requests are signed, not the signature, so the
changed Host does not matter). test_aws_deploy.py keeps the CreateTable
requests with it; bench/lambda.py counts the reads of a cold start."""
import http.client
import http.server
import threading
from urllib.parse import urlsplit


class DynamoProxy:
    """observe(action, request body, answer body), action being the
    X-Amz-Target's last part ("CreateTable"), called from the proxy's
    threads for every request. url: where to send requests; close() stops."""

    def __init__(self, upstream, observe):
        up = urlsplit(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                c = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                c.request("POST", self.path, body, dict(self.headers))
                r = c.getresponse()
                data = r.read()
                c.close()
                observe(action, body, data)
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
