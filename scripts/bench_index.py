#!/usr/bin/env python3
"""A local package index for the lock benchmark (scripts/bench.sh, row e).

Writes a PEP 503 index of real wheels and sdists (zip/tar written here) under --data, prints its /simple/ URL
on stdout once it serves, and writes the requirements file to --requirements. The graph looks like a training
stack: ~120 projects, several versions each, native packages with wheels per platform (manylinux x86_64 and
aarch64, win_amd64, macOS universal2/arm64/x86_64), pure wheels, and sdist-only pure packages whose PKG-INFO
is static (PEP 643). Every wheel has a PEP 658 .metadata file; pages come as PEP 691 JSON (with sizes and
requires-python, as public indexes give them) or PEP 503 HTML, by the Accept header. Deterministic (seeded).
"""
import argparse
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import random
import socketserver
import sys
import tarfile
import zipfile

PLATFORMS = [
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "win_amd64",
    "macosx_10_9_universal2",
    "macosx_11_0_arm64",
    "macosx_10_9_x86_64",
]
PYTHONS = ["cp310", "cp311", "cp312"]


def metadata(name, version, requires, requires_python=None, mv="2.1"):
    lines = [f"Metadata-Version: {mv}", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\n").encode()


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(name, version, tag, requires, requires_python=None):
    dist = name.replace("-", "_")
    di = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"__version__ = '{version}'\n".encode(),
        f"{di}/METADATA": metadata(name, version, requires, requires_python),
        f"{di}/WHEEL": f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: {'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n".encode(),
    }
    record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d in files.items()) + f"{di}/RECORD,,\n"
    files[f"{di}/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in files.items():
            z.writestr(zipfile.ZipInfo(p, date_time=(2024, 1, 1, 0, 0, 0)), d)
    return f"{dist}-{version}-{tag}.whl", buf.getvalue(), files[f"{di}/METADATA"], requires_python


def sdist(name, version, requires):
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    deps = ", ".join(f'"{r}"' for r in requires)
    members = {
        f"{root}/PKG-INFO": metadata(name, version, requires, mv="2.2"),
        f"{root}/pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=40.8.0"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n\n'
            f'[tool.setuptools]\npackages = ["{dist}"]\n'
        ).encode(),
        f"{root}/{dist}/__init__.py": b"",
    }
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as t:
            for p, d in members.items():
                info = tarfile.TarInfo(p)
                info.size = len(d)
                info.mtime = 1700000000
                t.addfile(info, io.BytesIO(d))
    return f"{root}.tar.gz", buf.getvalue()


def build(data, extra_wheels):
    rng = random.Random(17)
    n = 120
    names = [f"bench-{i:03d}" for i in range(n)]
    projects = {}
    for i, name in enumerate(names):
        kind = "native" if i % 5 == 0 else ("sdist" if i % 11 == 3 else "pure")
        versions = [f"{rng.randint(0, 3)}.{minor}.{rng.randint(0, 9)}" for minor in range(rng.randint(3, 8))]
        versions = sorted(set(versions), key=lambda v: tuple(int(x) for x in v.split(".")))
        files = []
        for vi, v in enumerate(versions):
            later = names[i + 1:]
            deps = []
            for d in rng.sample(later, min(len(later), rng.randint(0, 4))):
                deps.append(d if rng.random() < 0.6 else f"{d}>=0.1")
            if later and rng.random() < 0.15:
                deps.append(f"{rng.choice(later)}; sys_platform == 'win32'")
            rp = ">=3.11" if vi == len(versions) - 1 and i % 7 == 1 else None
            if kind == "native":
                for py in PYTHONS:
                    for plat in PLATFORMS:
                        files.append(wheel(name, v, f"{py}-{py}-{plat}", deps, rp))
            elif kind == "pure":
                files.append(wheel(name, v, "py3-none-any", deps, rp))
            if kind != "pure":
                files.append(sdist(name, v, deps) + (None, None))
        projects[name] = files
    for path in extra_wheels:
        fname = os.path.basename(path)
        project = fname.split("-")[0].lower().replace("_", "-")
        with open(path, "rb") as f:
            projects.setdefault(project, []).append((fname, f.read(), None, None))
    os.makedirs(os.path.join(data, "files"), exist_ok=True)
    for project, files in projects.items():
        d = os.path.join(data, "simple", project)
        os.makedirs(d, exist_ok=True)
        links = []
        entries = []
        for fname, blob, meta, rp in files:
            with open(os.path.join(data, "files", fname), "wb") as f:
                f.write(blob)
            sha = hashlib.sha256(blob).hexdigest()
            attr = ""
            entry = {"filename": fname, "url": f"../../files/{fname}", "hashes": {"sha256": sha}, "size": len(blob)}
            if meta is not None:
                with open(os.path.join(data, "files", fname + ".metadata"), "wb") as f:
                    f.write(meta)
                msha = hashlib.sha256(meta).hexdigest()
                attr = f' data-core-metadata="sha256={msha}"'
                entry["core-metadata"] = {"sha256": msha}
            if rp:
                attr += f' data-requires-python="{rp.replace(">", "&gt;")}"'
                entry["requires-python"] = rp
            links.append(f'<a href="../../files/{fname}#sha256={sha}"{attr}>{fname}</a><br/>')
            entries.append(entry)
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
        with open(os.path.join(d, "index.json"), "w") as f:
            json.dump({"meta": {"api-version": "1.1"}, "name": project, "files": entries}, f)
    # The top of the graph: what a user's requirements file names.
    return [names[i] for i in range(0, 24)]


JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class Index(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/simple/") and JSON_TYPE in self.headers.get("Accept", ""):
            page = os.path.join(os.getcwd(), path.lstrip("/"), "index.json")
            if os.path.isfile(page):
                with open(page, "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", JSON_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        super().do_GET()

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--requirements", required=True)
    ap.add_argument("--extra-wheels", default="", help="folder of real wheels to serve too (build backends)")
    a = ap.parse_args()
    extra = []
    if a.extra_wheels and os.path.isdir(a.extra_wheels):
        extra = [os.path.join(a.extra_wheels, f) for f in sorted(os.listdir(a.extra_wheels)) if f.endswith(".whl")]
    top = build(a.data, extra)
    with open(a.requirements, "w") as f:
        f.write("\n".join(top) + "\n")
    os.chdir(a.data)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    print(f"http://127.0.0.1:{httpd.server_address[1]}/simple/", flush=True)
    sys.stdout.close()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
