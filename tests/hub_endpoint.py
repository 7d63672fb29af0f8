"""A local HTTP endpoint speaking the part of the Hugging Face Hub API an upload uses.

It records every request (method, path, headers, body) and decodes committed files, so a test
can check what the real `huggingface_hub` client would have sent to the Hub: repo creation,
the model card check, the pre-upload negotiation and the commit with each file's bytes.
Model and dataset repos alike. Small files are answered "regular" (inline base64 in the commit);
weights (.gguf, .safetensors, .bin), parquet and anything over 10 MB go through Git LFS as on the
Hub: the batch negotiation, one PUT of the bytes (kept on disk, in `lfs`), and an `lfsFile`
entry in the commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class HubRecorder:
    def __init__(self):
        self.requests: list[dict] = []
        self.files: dict[str, bytes] = {}  # path -> bytes of regular files, latest commit wins
        self.lfs: dict[str, dict] = {}  # path -> {"oid", "size", "path" (its bytes on disk)}
        self.repo_files: dict[str, dict] = {}  # repo -> path -> bytes, or the lfs entry
        self.repos: dict[str, dict] = {}
        self.commits: list[dict] = []
        self.blobs = Path(tempfile.mkdtemp(prefix="hub-recorder-"))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append({"method": "POST", "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": body})
                status, reply = server.handle(self.path.split("?")[0], body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):  # an LFS upload: stream the bytes to disk, check their sha256
                size = int(self.headers.get("Content-Length") or 0)
                oid = self.path.rsplit("/", 1)[-1]
                h, blob = hashlib.sha256(), server.blobs / oid
                with open(blob, "wb") as f:
                    while size > 0:
                        chunk = self.rfile.read(min(size, 1 << 20))
                        h.update(chunk)
                        f.write(chunk)
                        size -= len(chunk)
                server.requests.append({"method": "PUT", "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": b""})
                self.send_response(200 if h.hexdigest() == oid else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                server.requests.append({"method": "GET", "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": b""})
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, path: str, body: bytes) -> tuple[int, dict]:
        if path == "/api/repos/create":
            req = json.loads(body)
            org = req.get("organization")
            repo = f"{org}/{req['name']}" if org else req["name"]
            self.repos[repo] = req
            return 200, {"url": f"{self.url}/{repo}", "name": repo}
        if path == "/api/validate-yaml":
            return 200, {}
        if path.endswith(".git/info/lfs/objects/batch"):
            objects = json.loads(body)["objects"]
            return 200, {"transfer": "basic", "objects": [
                {"oid": o["oid"], "size": o["size"],
                 "actions": {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}}}
                for o in objects]}
        parts = path.split("/")  # /api/{models,datasets}/<org>/<name>/<action>/<revision>
        if len(parts) >= 7 and parts[1] == "api" and parts[2] in ("models", "datasets"):
            repo, action = f"{parts[3]}/{parts[4]}", parts[5]
            if action == "preupload":
                files = json.loads(body)["files"]
                return 200, {"files": [{"path": f["path"], "uploadMode": _mode(f),
                                        "shouldIgnore": False} for f in files]}
            if action == "commit":
                lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                for x in lines:
                    if x["key"] == "file":
                        self.files[x["value"]["path"]] = base64.b64decode(x["value"]["content"])
                    elif x["key"] == "lfsFile":
                        v = x["value"]
                        self.lfs[v["path"]] = {"oid": v["oid"], "size": v["size"],
                                               "path": self.blobs / v["oid"]}
                    if x["key"] in ("file", "lfsFile"):
                        path = x["value"]["path"]
                        self.repo_files.setdefault(repo, {})[path] = (
                            self.files[path] if x["key"] == "file" else self.lfs[path])
                oid = hashlib.sha1(body).hexdigest()
                self.commits.append({"repo": repo, "repo_type": parts[2][:-1],
                                     "summary": header.get("summary"), "oid": oid})
                return 200, {"commitUrl": f"{self.url}/{repo}/commit/{oid}", "commitOid": oid}
        return 404, {"error": f"unknown endpoint {path}"}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()


def _mode(f: dict) -> str:
    big = f.get("size", 0) > 10 * 2**20
    # the Hub's default .gitattributes sends these through LFS
    return "lfs" if big or f["path"].endswith((".gguf", ".safetensors", ".bin", ".parquet")) else "regular"
