"""The prompt-lab evaluation run against a real OpenAI-compatible server on loopback."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labpath import labs

RUN = labs.load("prompt-lab").directory / "run.py"


class ChatServer(ThreadingHTTPServer):
    """Answers POST /v1/chat/completions with OpenAI's response shape, from a fixed list."""

    def __init__(self, replies):
        super().__init__(("127.0.0.1", 0), Handler)
        self.replies, self.requests = list(replies), []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        n = len(self.server.requests)
        content = self.server.replies[min(n, len(self.server.replies)) - 1]
        reply = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    srv = ChatServer(['Here you go: {"fr": "Bonjour"}'])
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_sends_every_prompt_to_the_endpoint(server, tmp_path):
    tasks = tmp_path / "tasks.json"
    tasks.write_text(
        json.dumps(
            {
                "format_version": 1,
                "tasks": [
                    {
                        "name": "translate",
                        "template": 'Translate {text} as {{"fr": text}}',
                        "schema": {
                            "type": "object",
                            "properties": {"fr": {"type": "string"}},
                            "required": ["fr"],
                        },
                        "inputs": {"text": "hello"},
                    },
                ],
            }
        )
    )
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    done = run(
        "--base-url",
        url,
        "--model",
        "tiny",
        "--tasks",
        str(tasks),
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "tiny" and body["temperature"] == 0
    assert body["messages"] == [
        {"role": "user", "content": 'Translate hello as {"fr": text}'}
    ]
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["task"], r["ok"], r["attempts"], r["value"]) for r in rows] == [
        ("translate", True, 1, {"fr": "Bonjour"})
    ]
    assert "| translate | yes | 1 |" in (tmp_path / "out" / "results.md").read_text()


def test_run_with_the_stub_model_evaluates_every_task(tmp_path):
    done = run("--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(rows) >= 10
    # one task is never answered validly
    assert sum(r["ok"] for r in rows) == len(rows) - 1
    assert any(r["attempts"] > 1 and r["ok"] for r in rows)  # retries repair a reply
    assert "11 of 12 tasks valid" in done.stdout


def test_run_without_a_server_says_so_in_one_line(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run(
        "--base-url",
        f"http://127.0.0.1:{port}/v1",
        "--timeout",
        "5",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith(
        "Error: the model at http://127.0.0.1:"
    )
