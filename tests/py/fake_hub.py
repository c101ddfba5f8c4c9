"""A local stand-in for the Hugging Face Hub, for `f8 pull`'s tests (never the
real Hub). It speaks the parts of the Hub HTTP API that huggingface_hub and
f8 use, with the Hub's headers and error codes:

  GET  /api/models/{repo}/revision/{rev}[?blobs=true]   commit id + file list
  GET  /api/models/{repo}/tree/{rev}[/{path}]           (huggingface_hub >= 1.x)
  HEAD/GET /{repo}/resolve/{rev}/{file}                 regular file: 200 with
       ETag = git blob id; LFS file: 302 to the "CDN" on a second host name
       (localhost instead of 127.0.0.1) with X-Linked-Etag = sha256 and
       X-Linked-Size; always X-Repo-Commit
  HEAD/GET /cdn/{sha256}?X-Amz-Signature=...             the LFS bytes, with Range
       (refuses an Authorization header, as a signed S3 URL does)

Errors as the Hub sends them: 401 RepoNotFound without a token (404 with
one), 401/403 GatedRepo, 404 RevisionNotFound / EntryNotFound, 401 "Invalid
credentials in Authorization header". A renamed repo answers 307 with a
relative Location. Faults can be injected per blob: a disconnect after N
bytes, a stall, corrupted bytes, 503s, a server that ignores Range.
Everything served is logged (method, host, path, range, status, body bytes).

Run by hand: python3 tests/py/fake_hub.py ORG/NAME=DIR [...]  (prints HF_ENDPOINT)
"""
import hashlib
import json
import os
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".gguf", ".onnx", ".png", ".msgpack", ".h5")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubFile:
    def __init__(self, path, data, lfs):
        self.path, self.data, self.lfs = path, data, lfs
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.size = len(data)
        if lfs:
            self.pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                            f"size {self.size}\n").encode()
            self.blob_id = git_blob_id(self.pointer)
        else:
            self.pointer = None
            self.blob_id = git_blob_id(data)


class HubRepo:
    def __init__(self, repo_id, files, gated=False, private=False, branches=None):
        self.repo_id = repo_id
        self.files = {p: HubFile(p, d, p.endswith(LFS_SUFFIXES)) for p, d in files.items()}
        h = hashlib.sha1(repo_id.encode())
        for p in sorted(self.files):
            h.update(p.encode() + self.files[p].blob_id.encode())
        self.commit = h.hexdigest()
        self.refs = {"main": self.commit}
        for name in branches or []:
            self.refs[name] = self.commit
        self.gated, self.private = gated, private
        self.granted = set()  # tokens allowed past the gate / into the private repo


class FakeHub:
    def __init__(self):
        self.repos = {}
        self.aliases = {}          # old repo id -> new (307)
        self.tokens = set()        # tokens that exist
        self.log = []
        self.lock = threading.Lock()
        self.disconnect_after = {}  # sha256 -> [bytes, ...]: one per GET, then served normally
        self.stall_after = {}       # sha256 -> bytes: send that many, then wait for `release`
        self.release = threading.Event()
        self.corrupt = set()        # sha256s served with one byte flipped
        self.fail_status = {}       # path (url path) -> [status, ...] served first
        self.ignore_range = False
        self.server = None

    # ---- set-up -------------------------------------------------------------
    def add_repo(self, repo_id, files, **kw):
        r = HubRepo(repo_id, files, **kw)
        self.repos[repo_id] = r
        return r

    def add_dir(self, repo_id, directory, extra=None, **kw):
        files = {}
        for root, _, names in os.walk(directory):
            for n in names:
                full = os.path.join(root, n)
                rel = os.path.relpath(full, directory)
                if rel.startswith(".") or n.startswith("."):
                    continue
                with open(full, "rb") as f:
                    files[rel] = f.read()
        files.update(extra or {})
        return self.add_repo(repo_id, files, **kw)

    def start(self, certfile=None, keyfile=None):
        """certfile/keyfile: serve HTTPS (both host names must be in the certificate)."""
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if certfile:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.endpoint = f"{scheme}://127.0.0.1:{self.port}"
        self.cdn = f"{scheme}://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # ---- what happened ------------------------------------------------------
    def requests(self):
        with self.lock:
            return list(self.log)

    def clear_log(self):
        with self.lock:
            self.log.clear()

    def body_bytes(self, sha256):
        """Bytes of the LFS blob `sha256` sent to clients so far (all GETs)."""
        return sum(e["sent"] for e in self.requests() if e["path"].startswith(f"/cdn/{sha256}"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub = None

    def log_message(self, *a):  # quiet
        pass

    def do_HEAD(self):
        self._handle(head=True)

    def do_GET(self):
        self._handle(head=False)

    # ---- plumbing -------------------------------------------------------------
    def _record(self, status, sent=0):
        with self.hub.lock:
            self.hub.log.append({"method": self.command, "host": self.headers.get("Host", ""),
                                 "path": self.path, "range": self.headers.get("Range"),
                                 "auth": self.headers.get("Authorization"), "status": status, "sent": sent})

    def _reply(self, status, headers=None, body=b"", head=False):
        self.send_response(status)
        hdrs = dict(headers or {})
        hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        self._record(status, 0 if head else len(body))

    def _error(self, status, code=None, message=None, head=False, extra=None):
        h = {"Content-Type": "application/json"}
        if code:
            h["X-Error-Code"] = code
        if message:
            h["X-Error-Message"] = message
        h.update(extra or {})
        self._reply(status, h, json.dumps({"error": message or code or str(status)}).encode(), head)

    def _token(self):
        a = self.headers.get("Authorization", "")
        return a[7:] if a.startswith("Bearer ") else None

    def _check_access(self, repo_id, head):
        """The Hub's answers for a repo this caller may not see. True = go on."""
        tok = self._token()
        if tok is not None and tok not in self.hub.tokens:
            self._error(401, None, "Invalid credentials in Authorization header", head)
            return None
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and tok not in repo.granted):
            self._error(401 if tok is None else 404, "RepoNotFound", "Repository not found", head)
            return None
        if repo.gated and tok not in repo.granted:
            self._error(401 if tok is None else 403, "GatedRepo",
                        f"Access to model {repo_id} is restricted. You must have access to it and be "
                        "authenticated to access it. Please log in.", head)
            return None
        return repo

    def _commit_of(self, repo, rev, head):
        rev = urllib.parse.unquote(rev)
        if rev in repo.refs:
            return repo.refs[rev]
        if len(rev) >= 7 and repo.commit.startswith(rev):
            return repo.commit
        self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        return None

    def _split(self, path):
        """'/org/name/rest' -> (repo_id, rest); aliases redirected by the caller."""
        parts = path.lstrip("/").split("/", 2)
        if len(parts) < 3:
            return None, None
        return parts[0] + "/" + parts[1], parts[2]

    def _handle(self, head):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        fails = self.hub.fail_status.get(path)
        if fails:
            status = fails.pop(0)
            return self._error(status, None, "injected", head, {"Retry-After": "0"})
        if path.startswith("/cdn/"):
            return self._cdn(path[5:], head)
        if path.startswith("/api/models/"):
            repo_id, rest = self._split(path[len("/api/models"):])
            if repo_id in self.hub.aliases:
                new = self.hub.aliases[repo_id]
                return self._reply(307, {"Location": f"/api/models/{new}/{rest}" + (f"?{url.query}" if url.query else "")},
                                   b"", head)
            repo = self._check_access(repo_id, head)
            if repo is None:
                return
            kind, _, rev_and_path = rest.partition("/")
            rev, _, sub = rev_and_path.partition("/")
            commit = self._commit_of(repo, rev, head)
            if commit is None:
                return
            if kind == "revision":
                return self._api_revision(repo, commit, "blobs" in query and query["blobs"][0].lower() == "true", head)
            if kind == "tree":
                return self._api_tree(repo, urllib.parse.unquote(sub), query.get("recursive", ["false"])[0].lower() == "true", head)
            return self._error(404, None, "unknown api", head)
        repo_id, rest = self._split(path)
        if repo_id and rest.startswith("resolve/"):
            if repo_id in self.hub.aliases:
                return self._reply(307, {"Location": f"/{self.hub.aliases[repo_id]}/{rest}"}, b"", head)
            repo = self._check_access(repo_id, head)
            if repo is None:
                return
            rev, _, fpath = rest[len("resolve/"):].partition("/")
            commit = self._commit_of(repo, rev, head)
            if commit is None:
                return
            f = repo.files.get(urllib.parse.unquote(fpath))
            if f is None:
                return self._error(404, "EntryNotFound", f"{fpath} does not exist on \"{rev}\"", head,
                                   {"X-Repo-Commit": commit})
            if f.lfs:
                return self._reply(302, {"Location": f"{self.hub.cdn}/cdn/{f.sha256}?X-Amz-Signature=fake",
                                         "X-Repo-Commit": commit, "X-Linked-Etag": f'"{f.sha256}"',
                                         "X-Linked-Size": str(f.size), "ETag": f'"{f.blob_id}"'}, b"", head)
            return self._send_bytes(f.data, f.blob_id, head, {"X-Repo-Commit": commit}, key=None)
        return self._error(404, None, "not found", head)

    def _api_revision(self, repo, commit, blobs, head):
        sib = []
        for p in sorted(repo.files):
            f = repo.files[p]
            e = {"rfilename": p}
            if blobs:
                e["blobId"] = f.blob_id
                e["size"] = f.size
                if f.lfs:
                    e["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": len(f.pointer)}
            sib.append(e)
        body = {"_id": "fake", "id": repo.repo_id, "modelId": repo.repo_id, "sha": commit, "private": repo.private,
                "gated": "manual" if repo.gated else False, "disabled": False, "tags": [], "siblings": sib}
        self._reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode(), head)

    def _api_tree(self, repo, sub, recursive, head):
        out, dirs = [], set()
        prefix = sub.rstrip("/") + "/" if sub else ""
        for p in sorted(repo.files):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if "/" in rest and not recursive:
                dirs.add(prefix + rest.split("/")[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for i in range(len(parts)):
                    dirs.add(prefix + "/".join(parts[: i + 1]))
            f = repo.files[p]
            e = {"type": "file", "oid": f.blob_id, "size": f.size, "path": p}
            if f.lfs:
                e["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": len(f.pointer)}
            out.append(e)
        out += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in sorted(dirs)]
        self._reply(200, {"Content-Type": "application/json"}, json.dumps(out).encode(), head)

    def _cdn(self, rest, head):
        sha = rest.split("?")[0]
        if self.headers.get("Authorization"):
            # A signed storage URL rejects a second authentication.
            return self._error(400, None, "Only one auth mechanism allowed", head)
        for repo in self.hub.repos.values():
            for f in repo.files.values():
                if f.lfs and f.sha256 == sha:
                    return self._send_bytes(f.data, f.sha256, head, {}, key=sha)
        return self._error(404, None, "no such object", head)

    def _send_bytes(self, data, etag, head, extra, key):
        if key in self.hub.corrupt:
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        total = len(data)
        start, status = 0, 200
        rng = self.headers.get("Range")
        h = {"ETag": f'"{etag}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        h.update(extra)
        if rng and not self.hub.ignore_range:
            spec = rng.strip()
            if not spec.startswith("bytes=") or not spec[6:].endswith("-"):
                return self._error(400, None, "only 'bytes=N-' ranges here", head)
            start = int(spec[6:-1])
            if start >= total:
                return self._reply(416, {"Content-Range": f"bytes */{total}"}, b"", head)
            status = 206
            h["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
        body = data[start:]
        h["Content-Length"] = str(len(body))
        self.send_response(status)
        for k, v in h.items():
            self.send_header(k, v)
        self.end_headers()
        if head:
            self._record(status, 0)
            return
        cut, stall = None, None
        with self.hub.lock:
            q = self.hub.disconnect_after.get(key)
            if q:
                cut = q.pop(0)
            if key in self.hub.stall_after:
                stall = self.hub.stall_after.pop(key)
        sent = 0
        limit = len(body) if cut is None else min(cut, len(body))
        if stall is not None:
            limit = min(stall, len(body))
        try:
            while sent < limit:
                n = min(65536, limit - sent)
                self.wfile.write(body[sent:sent + n])
                sent += n
            self.wfile.flush()
            if stall is not None:
                self._record(status, sent)
                self.hub.release.wait(60)
                self._drop()
                return
            if sent < len(body):  # the injected disconnect
                self._record(status, sent)
                self._drop()
                return
        except (BrokenPipeError, ConnectionResetError):
            self._record(status, sent)
            self.close_connection = True
            return
        self._record(status, sent)

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


if __name__ == "__main__":
    import sys

    hub = FakeHub()
    for arg in sys.argv[1:]:
        rid, _, d = arg.partition("=")
        hub.add_dir(rid, d)
    hub.start()
    print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()
