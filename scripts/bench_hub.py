#!/usr/bin/env python3
"""A local Hugging Face hub for benchmarks (stdlib only).

    bench_hub.py --data DIR --repo ORG/NAME=FILE:MIB[,FILE:MIB...] [--repo ...]

Generates each FILE (random bytes, MIB mebibytes) under DIR once, remembers its sha256 in DIR/hashes.json,
then serves on 127.0.0.1:<free port> and prints `http://127.0.0.1:PORT` on stdout:

    GET  /api/models/ORG/NAME/revision/REV            {"id", "sha", "siblings": [{"rfilename"}]}
    GET  /api/models/ORG/NAME/tree/REV[?recursive=..]  [{"type": "file", "path", "size", "oid", "lfs"}]
    HEAD|GET /ORG/NAME/resolve/REV/PATH                the file, with Range, ETag, X-Repo-Commit
    GET  /_sent                                        {"bytes": N, "ranges": [[PATH, START], ...]}: file
                                                       bytes written to sockets so far, and where each GET began

`--rate MIB` paces file bodies to MIB MiB/s per request (256 KiB sendfile calls), so that a benchmark can stop a
client at a known point of a download (the kill -9 row).

Every file is served as an LFS file (its ETag is its sha256), which is what both ferry and huggingface_hub
expect of large weights. Bodies go out with sendfile so the server is not what a benchmark measures.
"""
import argparse
import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 16 << 20


def generate(path, mib, seed):
    """Write MIB MiB of random bytes to PATH; return its sha256."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        left = mib << 20
        while left:
            n = min(CHUNK, left)
            block = rng.randbytes(n)
            f.write(block)
            h.update(block)
            left -= n
    os.replace(tmp, path)
    return h.hexdigest()


def build(data, specs):
    """Repos as {repo: {"sha": commit, "files": {path: (disk path, size, sha256)}}}."""
    os.makedirs(data, exist_ok=True)
    hashes_path = os.path.join(data, "hashes.json")
    hashes = json.load(open(hashes_path)) if os.path.exists(hashes_path) else {}
    repos = {}
    for spec in specs:
        repo, files = spec.split("=", 1)
        entry = {"files": {}}
        for item in files.split(","):
            name, mib = item.rsplit(":", 1)
            key = f"{name}:{mib}"
            disk = os.path.join(data, key.replace("/", "_").replace(":", "_"))
            if key not in hashes or not os.path.exists(disk):
                print(f"bench_hub: generating {name} ({mib} MiB)", file=sys.stderr)
                hashes[key] = generate(disk, int(mib), key)
                json.dump(hashes, open(hashes_path, "w"))
            entry["files"][name] = (disk, int(mib) << 20, hashes[key])
        entry["sha"] = hashlib.sha1(spec.encode()).hexdigest()
        repos[repo] = entry
    return repos


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    repos = {}
    rate = 0  # MiB/s per request; 0 = unpaced
    sent = 0
    ranges = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def send_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self, code="RepoNotFound"):
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def find(self, org, name, rev):
        repo = self.repos.get(f"{org}/{name}")
        if repo is None or rev not in ("main", repo["sha"]):
            return None
        return repo

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/_sent":
            with Handler.lock:
                return self.send_json({"bytes": Handler.sent, "ranges": Handler.ranges})
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/(revision|tree)/([^/]+)(/.*)?", path)
        if m:
            org, name, what, rev = (unquote(g) for g in m.groups()[:4])
            repo = self.find(org, name, rev)
            if repo is None:
                return self.not_found()
            files = sorted(repo["files"].items())
            if what == "revision":
                return self.send_json({
                    "id": f"{org}/{name}", "modelId": f"{org}/{name}", "sha": repo["sha"],
                    "private": False, "gated": False, "disabled": False, "tags": [],
                    "siblings": [{"rfilename": p} for p, _ in files],
                })
            return self.send_json([
                {"type": "file", "path": p, "size": size,
                 "oid": hashlib.sha1(sha.encode()).hexdigest(),
                 "lfs": {"oid": sha, "size": size, "pointerSize": 134}}
                for p, (_, size, sha) in files
            ])
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)
        if not m:
            return self.not_found()
        org, name, rev, fpath = (unquote(g) for g in m.groups())
        repo = self.find(org, name, rev)
        if repo is None or fpath not in repo["files"]:
            return self.not_found("EntryNotFound")
        disk, size, sha = repo["files"][fpath]
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        status = 200
        if rng:
            r = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not r or int(r.group(1)) >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(r.group(1))
            end = min(int(r.group(2)), size - 1) if r.group(2) else size - 1
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{sha}"')
        self.send_header("X-Linked-Etag", f'"{sha}"')
        self.send_header("X-Linked-Size", str(size))
        self.send_header("X-Repo-Commit", repo["sha"])
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.flush()
        with Handler.lock:
            Handler.ranges.append([fpath, start])
        with open(disk, "rb") as f:
            if not self.rate:
                n = self.connection.sendfile(f, start, end - start + 1)
                with Handler.lock:
                    Handler.sent += n
                return
            began, pos, step = time.monotonic(), start, 256 << 10
            while pos <= end:
                n = self.connection.sendfile(f, pos, min(step, end - pos + 1))
                if not n:
                    return
                pos += n
                with Handler.lock:
                    Handler.sent += n
                ahead = began + (pos - start) / (self.rate << 20) - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--repo", action="append", required=True)
    ap.add_argument("--rate", type=int, default=0, help="pace file bodies to this many MiB/s per request")
    args = ap.parse_args()
    Handler.repos = build(args.data, args.repo)
    Handler.rate = args.rate
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    threading.current_thread().name = "bench_hub"
    main()
