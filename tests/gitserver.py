"""A real git server on loopback for push tests: ``git http-backend`` behind a small http.server.

HTTP Basic authentication is checked the way a forge checks a token over HTTPS: any user name,
the token as the password. Every request is logged (method, path, headers) so tests can assert
that no token travels in a URL or shows up where it should not.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class GitRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class GitServer:
    root: Path          # GIT_PROJECT_ROOT: bare repositories live under it
    token: str | None   # the password Basic auth must carry; None: no authentication
    port: int = 0
    requests: list[GitRequest] = field(default_factory=list)
    #: Answer a push with a report on no reference, without running receive-pack (a server that gave up).
    drop_pushes: bool = False

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    def bare(self, repo: str) -> Path:
        """Create (or return) the bare repository ``repo`` (e.g. 'platform/estate.git')."""
        path = self.root / repo
        if not path.exists():
            subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
        return path


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _authorised(self) -> bool:
            if server.token is None:
                return True
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            _user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return password == server.token

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            server.requests.append(GitRequest(self.command, self.path, dict(self.headers.items())))
            body = self._body() if self.command == "POST" else b""
            if not self._authorised():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            if server.drop_pushes and self.command == "POST" and path.endswith("/git-receive-pack"):
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-receive-pack-result")
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"0000")  # a flush packet: no report on any reference
                return
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(server.root), "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(server.root),
                "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1",
            }
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                                  timeout=300, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def git_server(root: Path, token: str | None) -> Iterator[GitServer]:
    """Serve the bare repositories under ``root`` on 127.0.0.1 until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    server = GitServer(root, token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
