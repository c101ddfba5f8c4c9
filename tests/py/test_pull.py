"""`f8 pull` against a local fake Hub (tests/py/fake_hub.py; never the real
Hub): the Hub endpoints with a redirect to a second host name, Range resumes
after a dropped connection and after Ctrl-C, a corrupted blob, a gated repo,
missing repos and revisions, no network, proxies, TLS verification, a cache
filled by the real huggingface_hub package reused offline with zero requests,
and f8's downloads read back by huggingface_hub. The served model is the
synthetic SmolLM2-tiny checkpoint (scripts/fixtures.sh)."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_hub import FakeHub, git_blob_id  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("F8_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
F8 = BUILD / "bin" / "f8"
CACHE = Path(os.environ.get("F8_CACHE", Path.home() / ".cache" / "f8"))
TINY = CACHE / "synthetic" / "smollm2-tiny"

pytestmark = [pytest.mark.skipif(not F8.exists(), reason=f"{F8} not built"),
              pytest.mark.skipif(not (TINY / "model.safetensors").exists(),
                                 reason=f"{TINY} not made (scripts/fixtures.sh synthetic)")]

# What must never be requested: weights in other formats, extra folders, docs.
JUNK = {"README.md": b"# tiny\n", ".gitattributes": b"*.safetensors filter=lfs\n",
        "pytorch_model.bin": b"\0" * 4096, "onnx/model.onnx": b"\1" * 2048,
        "original/consolidated.pth": b"\2" * 2048, "assets/logo.png": b"\x89PNG" + b"\3" * 1000,
        "model.gguf": b"GGUF" + b"\4" * 1000, "vocab.txt": b"a\nb\n"}
NEEDED = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "model.safetensors"}


@pytest.fixture
def hub():
    h = FakeHub()
    h.add_dir("org/tiny", TINY, extra=JUNK)
    h.tokens.update({"hf_good", "hf_other"})
    gated = h.add_dir("org/gated", TINY, gated=True)
    gated.granted.add("hf_good")
    h.start()
    yield h
    h.stop()


@pytest.fixture
def env(tmp_path, hub):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("HF_", "HUGGING", "TRANSFORMERS_", "F8_HOME")) and k.lower() not in
         ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    e.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hfhome"), F8_HOME=str(tmp_path / "f8home"),
             HF_HUB_DOWNLOAD_TIMEOUT="5", HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DISABLE_TELEMETRY="1",
             HF_HUB_DISABLE_XET="1")
    return e


def f8(env, *args, timeout=300, stdin=None):
    return subprocess.run([str(F8), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                          input=stdin)


def hub_dir(env):
    return Path(env.get("HF_HUB_CACHE") or Path(env["HF_HOME"]) / "hub")


def storage(env, repo="org/tiny"):
    return hub_dir(env) / ("models--" + repo.replace("/", "--"))


def model_path(env, name="org--tiny.f8"):
    return Path(env["F8_HOME"]) / "models" / name


def one_error(r):
    """Exactly one `f8: error:` line on stderr; returns it."""
    errs = [l for l in r.stderr.splitlines() if l.startswith("f8: error:")]
    assert len(errs) == 1, r.stderr
    return errs[0]


def resolve_gets(hub):
    return sorted({e["path"].split("/resolve/")[1].split("/", 1)[1] for e in hub.requests() if "/resolve/" in e["path"]})


def metadata(env, path):
    r = f8(env, "inspect", path, "--json")
    assert r.returncode == 0, r.stderr
    return {m["key"]: m["value"] for m in json.loads(r.stdout)["metadata"]}


def run_py(env, code):
    """huggingface_hub in a subprocess, so it reads HF_ENDPOINT / HF_HUB_CACHE from env."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---- the happy path ---------------------------------------------------------------------------

def test_pull_fetches_only_what_convert_reads_into_the_hub_cache_layout(hub, env):
    repo = hub.repos["org/tiny"]
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    out = model_path(env)
    assert r.stdout.splitlines()[-1] == str(out) and out.stat().st_size > 0
    # Only the files `f8 convert` reads, nothing in JUNK.
    assert set(resolve_gets(hub)) == NEEDED
    st = storage(env)
    assert (st / "refs" / "main").read_bytes() == repo.commit.encode()  # the commit, nothing else
    snap = st / "snapshots" / repo.commit
    for name in NEEDED:
        link = snap / name
        assert link.is_symlink(), name
        f = repo.files[name]
        etag = f.sha256 if f.lfs else f.blob_id  # X-Linked-Etag for LFS, ETag (git blob id) otherwise
        assert os.readlink(link) == f"../../blobs/{etag}", name
        assert link.read_bytes() == (TINY / name).read_bytes(), name
    assert sorted(p.name for p in (st / "blobs").iterdir()) == sorted(
        (repo.files[n].sha256 if repo.files[n].lfs else repo.files[n].blob_id) for n in NEEDED)
    # The LFS blob came from the second host name, the rest from the endpoint.
    for e in hub.requests():
        if e["path"].startswith("/cdn/"):
            assert e["host"].startswith("localhost:"), e
        else:
            assert e["host"].startswith("127.0.0.1:"), e
    # Where it came from, in the file.
    meta = metadata(env, out)
    assert meta["general.source.repo"] == "org/tiny"
    assert meta["general.source.revision"] == "main"
    assert meta["general.source.commit"] == repo.commit


def test_pulled_model_equals_a_local_convert(hub, env, tmp_path):
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    local = tmp_path / "local.f8"
    c = f8(env, "convert", TINY, "-o", local, "-q")
    assert c.returncode == 0, c.stderr
    a = json.loads(f8(env, "inspect", model_path(env), "--json", "--tensors").stdout)
    b = json.loads(f8(env, "inspect", local, "--json", "--tensors").stdout)
    assert a["tensors"] == b["tensors"]  # names, dtypes, shapes, scales, checksums
    g1 = f8(env, "generate", "-m", model_path(env), "-p", "The capital", "-n", "8", "--temp", "0")
    g2 = f8(env, "generate", "-m", local, "-p", "The capital", "-n", "8", "--temp", "0")
    assert g1.returncode == 0 and g1.stdout == g2.stdout


def test_second_pull_is_up_to_date_with_one_request(hub, env):
    assert f8(env, "pull", "org/tiny").returncode == 0
    before = model_path(env).stat().st_mtime_ns
    hub.clear_log()
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stderr
    assert r.stdout.strip() == str(model_path(env))
    assert [e["path"].split("?")[0] for e in hub.requests()] == ["/api/models/org/tiny/revision/main"]
    assert model_path(env).stat().st_mtime_ns == before


def test_convert_options_name_the_file_and_bad_ones_fail_before_any_request(hub, env):
    r = f8(env, "pull", "org/tiny", "--weights", "e5m2", "--scale", "block", "--block", "64", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(model_path(env, "org--tiny--e5m2-block64.f8"))
    meta = metadata(env, r.stdout.strip())
    assert meta["quant.weights"] == "e5m2" and meta["quant.scale"] == "block"
    hub.clear_log()
    bad = f8(env, "pull", "org/tiny", "--weights", "e9m9")
    assert bad.returncode == 2 and "--weights" in one_error(bad)
    assert hub.requests() == []
    for spec in ["org/a/b", "org/na--me", "org/tiny@", "org/tiny@../x"]:
        b = f8(env, "pull", spec)
        assert b.returncode == 2, spec
        one_error(b)
    assert hub.requests() == []


def test_revision_branch_and_commit(hub, env):
    repo = hub.repos["org/tiny"]
    repo.refs["dev"] = repo.commit
    r = f8(env, "pull", "org/tiny@dev", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(model_path(env, "org--tiny--dev.f8"))
    assert (storage(env) / "refs" / "dev").read_text() == repo.commit
    r = f8(env, "pull", f"org/tiny@{repo.commit}", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(model_path(env, f"org--tiny--{repo.commit}.f8"))
    assert not (storage(env) / "refs" / repo.commit).exists()  # a commit needs no ref


def test_renamed_repo_redirect_is_followed(hub, env):
    hub.aliases["old-org/tiny"] = "org/tiny"
    r = f8(env, "pull", "old-org/tiny", "-q")
    assert r.returncode == 0, r.stderr
    assert any(e["status"] == 307 for e in hub.requests())


def test_sharded_checkpoint_fetches_the_index_and_its_shards_only(hub, env, tmp_path):
    # Split the tiny model's tensors over two shards with an index, beside a
    # consolidated.safetensors that must not be fetched.
    raw = (TINY / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    names = sorted(header)
    half = len(names) // 2
    d = tmp_path / "sharded"
    shutil.copytree(TINY, d, ignore=shutil.ignore_patterns("model.safetensors", ".complete"))
    parts = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for fname, keys in parts.items():  # the same tensors (bytes as they are), split in two files
        h, body = {}, b""
        for k in keys:
            a, b = header[k]["data_offsets"]
            h[k] = {"dtype": header[k]["dtype"], "shape": header[k]["shape"],
                    "data_offsets": [len(body), len(body) + b - a]}
            body += data[a:b]
        hj = json.dumps(h).encode()
        hj += b" " * (-len(hj) % 8)
        (d / fname).write_bytes(len(hj).to_bytes(8, "little") + hj + body)
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: f for f, ks in parts.items() for k in ks}}))
    shutil.copy(TINY / "model.safetensors", d / "consolidated.safetensors")
    hub.add_dir("org/sharded", d)
    r = f8(env, "pull", "org/sharded", "-q")
    assert r.returncode == 0, r.stderr
    got = {e["path"].split("/resolve/")[1].split("/", 1)[1] for e in hub.requests()
           if "/resolve/" in e["path"] and "org/sharded" in e["path"]}
    assert got == (NEEDED - {"model.safetensors"}) | {"model.safetensors.index.json", *parts}


# ---- robustness ---------------------------------------------------------------------------------

def test_dropped_connection_resumes_with_range(hub, env):
    f = hub.repos["org/tiny"].files["model.safetensors"]
    hub.disconnect_after[f.sha256] = [f.size // 2]
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    gets = [e for e in hub.requests() if e["path"].startswith(f"/cdn/{f.sha256}") and e["method"] == "GET"]
    assert len(gets) == 2 and gets[0]["range"] is None
    assert gets[1]["range"] == f"bytes={f.size // 2}-" and gets[1]["status"] == 206
    assert hub.body_bytes(f.sha256) < 1.7 * f.size
    assert "resuming at byte" in r.stderr
    assert (storage(env) / "blobs" / f.sha256).read_bytes() == f.data


def test_server_ignoring_range_restarts_from_zero(hub, env):
    f = hub.repos["org/tiny"].files["model.safetensors"]
    hub.disconnect_after[f.sha256] = [f.size // 3]
    hub.ignore_range = True
    r = f8(env, "pull", "org/tiny", "-q")
    assert r.returncode == 0, r.stderr
    assert (storage(env) / "blobs" / f.sha256).read_bytes() == f.data


def test_transient_503s_are_retried(hub, env):
    f = hub.repos["org/tiny"].files["model.safetensors"]
    hub.fail_status["/api/models/org/tiny/revision/main"] = [503]
    hub.fail_status[f"/cdn/{f.sha256}"] = [503, 429]
    r = f8(env, "pull", "org/tiny", "-q")
    assert r.returncode == 0, r.stderr


def test_ctrl_c_leaves_a_resumable_download(hub, env):
    f = hub.repos["org/tiny"].files["model.safetensors"]
    stall = int(f.size * 0.6)
    hub.stall_after[f.sha256] = stall
    p = subprocess.Popen([str(F8), "pull", "org/tiny"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    part = storage(env) / "blobs" / (f.sha256 + ".incomplete")
    deadline = time.time() + 60
    while time.time() < deadline and not (part.exists() and part.stat().st_size >= stall):
        time.sleep(0.05)
    assert part.exists() and part.stat().st_size == stall
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    line = [l for l in err.splitlines() if l.startswith("f8: error:")]
    assert len(line) == 1 and "interrupted" in line[0] and "resume" in line[0], err
    assert part.stat().st_size == stall
    assert not (storage(env) / "blobs" / f.sha256).exists()
    assert not model_path(env).exists() and out == ""
    hub.release.set()
    hub.clear_log()
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    gets = [e for e in hub.requests() if e["path"].startswith(f"/cdn/{f.sha256}") and e["method"] == "GET"]
    assert [g["range"] for g in gets] == [f"bytes={stall}-"]
    assert stall + hub.body_bytes(f.sha256) < 1.7 * f.size  # both runs together
    assert (storage(env) / "blobs" / f.sha256).read_bytes() == f.data


def test_corrupted_blob_is_an_error_naming_the_file_and_is_not_kept(hub, env):
    f = hub.repos["org/tiny"].files["model.safetensors"]
    hub.corrupt.add(f.sha256)
    r = f8(env, "pull", "org/tiny")
    assert r.returncode == 1
    e = one_error(r)
    assert "model.safetensors" in e and "sha256 mismatch" in e and f.sha256 in e, e
    blobs = storage(env) / "blobs"
    assert not (blobs / f.sha256).exists() and not (blobs / (f.sha256 + ".incomplete")).exists()
    assert not list((storage(env) / "snapshots").glob("*/model.safetensors"))
    assert not model_path(env).exists() and r.stdout == ""
    hub.corrupt.clear()  # the Hub fixed: the next pull works
    assert f8(env, "pull", "org/tiny", "-q").returncode == 0


def test_corrupted_regular_file_fails_its_git_blob_id(hub, env):
    # A regular (non-LFS) file is checked against its git blob id.
    repo = hub.repos["org/tiny"]
    good = repo.files["config.json"]
    orig = good.data
    good.data = orig.replace(b"{", b"{ ", 1)  # served bytes no longer match the announced blob id
    try:
        r = f8(env, "pull", "org/tiny")
    finally:
        good.data = orig
    assert r.returncode == 1
    e = one_error(r)
    assert "config.json" in e and "sha1 mismatch" in e, e


# ---- auth and errors ------------------------------------------------------------------------------

def test_gated_repo_says_accept_the_licence_and_set_hf_token(hub, env):
    r = f8(env, "pull", "org/gated")
    assert r.returncode == 1
    e = one_error(r)
    assert "org/gated is gated" in e and "licence" in e and "HF_TOKEN" in e and f"{hub.endpoint}/org/gated" in e, e
    r = f8({**env, "HF_TOKEN": "hf_other"}, "pull", "org/gated")
    assert r.returncode == 1
    e = one_error(r)
    assert "gated" in e and "HF_TOKEN" in e and "no access" in e, e
    r = f8({**env, "HF_TOKEN": "hf_bad"}, "pull", "org/gated")
    assert r.returncode == 1 and "invalid credentials" in one_error(r)
    r = f8({**env, "HF_TOKEN": "hf_good"}, "pull", "org/gated", "-q")
    assert r.returncode == 0, r.stderr
    hub_auth = {e["auth"] for e in hub.requests() if not e["path"].startswith("/cdn/") and "org/gated" in e["path"]}
    assert "Bearer hf_good" in hub_auth
    assert all(e["auth"] is None for e in hub.requests() if e["path"].startswith("/cdn/"))  # never to the CDN


def test_token_file_under_hf_home(hub, env):
    home = Path(env["HF_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "token").write_text("hf_good\n")
    r = f8(env, "pull", "org/gated", "-q")
    assert r.returncode == 0, r.stderr


def test_missing_repo_and_revision_are_named(hub, env):
    r = f8(env, "pull", "org/nope")
    assert r.returncode == 1
    e = one_error(r)
    assert "org/nope" in e and "not found" in e, e
    r = f8({**env, "HF_TOKEN": "hf_good"}, "pull", "org/nope")  # with a token the Hub says 404
    e = one_error(r)
    assert r.returncode == 1 and "repository org/nope not found" in e, e
    r = f8(env, "pull", "org/tiny@v9")
    e = one_error(r)
    assert r.returncode == 1 and "revision 'v9'" in e and "org/tiny" in e, e


def test_repo_without_safetensors_is_refused_by_name(hub, env):
    hub.add_repo("org/binonly", {"config.json": (TINY / "config.json").read_bytes(), "pytorch_model.bin": b"\0" * 64})
    r = f8(env, "pull", "org/binonly")
    e = one_error(r)
    assert r.returncode == 1 and "model.safetensors" in e and "pytorch_model.bin" in e, e


def test_no_network_names_the_endpoint(env):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}"
    r = f8({**env, "HF_ENDPOINT": endpoint}, "pull", "org/tiny")
    assert r.returncode == 1
    e = one_error(r)
    assert f"cannot reach {endpoint}" in e, e
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_proxy_variables_are_used(hub, env):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    proxied = {**env, "http_proxy": f"http://127.0.0.1:{dead}"}
    r = f8(proxied, "pull", "org/tiny")
    assert r.returncode == 1 and str(dead) in one_error(r)  # it went to the proxy
    assert hub.requests() == []
    r = f8({**proxied, "NO_PROXY": "127.0.0.1,localhost"}, "pull", "org/tiny", "-q")
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls_certificates_are_verified(env, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=fake-hub", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    h = FakeHub()
    h.add_dir("org/tiny", TINY)
    h.start(certfile=str(cert), keyfile=str(key))
    try:
        e2 = {**env, "HF_ENDPOINT": h.endpoint}
        r = f8(e2, "pull", "org/tiny")
        assert r.returncode == 1
        assert "certificate" in one_error(r).lower()
        r = f8({**e2, "SSL_CERT_FILE": str(cert)}, "pull", "org/tiny", "-q")
        assert r.returncode == 0, r.stderr
    finally:
        h.stop()


# ---- huggingface_hub interoperability ---------------------------------------------------------------

def test_cache_filled_by_huggingface_hub_is_used_offline_with_zero_requests(hub, env):
    hf_path = run_py(env, """
        from huggingface_hub import snapshot_download
        print(snapshot_download("org/tiny"))
    """).strip()
    repo = hub.repos["org/tiny"]
    assert hf_path.endswith(f"snapshots/{repo.commit}")
    hub.clear_log()
    r = f8({**env, "HF_HUB_OFFLINE": "1"}, "pull", "org/tiny")
    assert r.returncode == 0, r.stderr
    assert hub.requests() == []  # not one request
    assert r.stdout.strip() == str(model_path(env))
    # Online, the same cache is reused: only the revision call, no file request.
    r = f8(env, "pull", "org/tiny", "--weights", "bf16", "-q")
    assert r.returncode == 0, r.stderr
    assert [e["path"].split("?")[0] for e in hub.requests()] == ["/api/models/org/tiny/revision/main"]


def test_offline_without_the_model_in_cache_says_so(hub, env):
    r = f8({**env, "HF_HUB_OFFLINE": "1"}, "pull", "org/tiny")
    assert r.returncode == 1
    e = one_error(r)
    assert "HF_HUB_OFFLINE" in e and "org/tiny@main" in e, e
    assert hub.requests() == []


def test_huggingface_hub_reads_what_f8_downloaded(hub, env):
    assert f8(env, "pull", "org/tiny", "-q").returncode == 0
    repo = hub.repos["org/tiny"]
    hub.clear_log()
    out = run_py({**env, "HF_HUB_OFFLINE": "1"}, """
        import json
        from huggingface_hub import snapshot_download, hf_hub_download, try_to_load_from_cache, scan_cache_dir
        snap = snapshot_download("org/tiny", local_files_only=True)
        st = hf_hub_download("org/tiny", "model.safetensors", local_files_only=True)
        cfg = try_to_load_from_cache("org/tiny", "config.json")
        info = scan_cache_dir()
        (r,) = [r for r in info.repos if r.repo_id == "org/tiny"]
        print(json.dumps({"snap": snap, "st": st, "cfg": cfg, "warnings": [str(w) for w in info.warnings],
                          "refs": sorted(r.refs), "files": sorted(f.file_name for rev in r.revisions for f in rev.files),
                          "size": r.size_on_disk}))
    """)
    got = json.loads(out)
    assert got["snap"].endswith(f"snapshots/{repo.commit}")
    assert Path(got["st"]).read_bytes() == (TINY / "model.safetensors").read_bytes()
    assert got["cfg"] and Path(got["cfg"]).read_bytes() == (TINY / "config.json").read_bytes()
    assert got["warnings"] == [] and got["refs"] == ["main"]
    assert set(got["files"]) == NEEDED
    assert hub.requests() == []


# ---- -m ORG/NAME, list, rm --------------------------------------------------------------------------

def test_m_repo_pulls_first_then_uses_the_file(hub, env, tmp_path):
    g = f8(env, "generate", "-m", "org/tiny", "-p", "The capital", "-n", "8", "--temp", "0")
    assert g.returncode == 0, g.stderr
    assert "org/tiny is not pulled yet" in g.stderr
    assert model_path(env).exists()
    ref = f8(env, "generate", "-m", model_path(env), "-p", "The capital", "-n", "8", "--temp", "0")
    assert g.stdout == ref.stdout  # stdout: the text only
    hub.clear_log()
    c = f8(env, "chat", "-m", "org/tiny", "-n", "4", "--temp", "0", stdin="Hi\n/quit\n")
    assert c.returncode == 0, c.stderr
    assert hub.requests() == [] and "not pulled" not in c.stderr  # the .f8 is there: no network
    # A path that exists always wins, even when it looks like ORG/NAME.
    (tmp_path / "org").mkdir()
    shutil.copy(model_path(env), tmp_path / "org" / "tiny")
    model_path(env).unlink()
    b = subprocess.run([str(F8), "bench", "-m", "org/tiny", "-p", "8", "-n", "4", "-r", "1"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert b.returncode == 0, b.stderr
    assert hub.requests() == [] and not model_path(env).exists()
    # Not a repo shape: the loader's own error, no pull.
    m = f8(env, "generate", "-m", "no-such-file.f8", "-p", "x")
    assert m.returncode != 0 and hub.requests() == []


def test_m_repo_failure_is_one_error(hub, env):
    g = f8(env, "generate", "-m", "org/nope", "-p", "x")
    assert g.returncode == 1
    assert "org/nope" in one_error(g) and g.stdout == ""


def test_list_and_rm(hub, env):
    assert f8(env, "pull", "org/tiny", "-q").returncode == 0
    assert f8(env, "pull", "org/tiny", "--weights", "e5m2", "-q").returncode == 0
    ls = f8(env, "list")
    assert ls.returncode == 0
    lines = ls.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "REVISION", "SIZE", "FORMAT"]
    assert any(l.startswith("org/tiny") and "main (" in l and "e4m3/channel" in l and "org--tiny.f8" in l
               for l in lines), ls.stdout
    assert any("e5m2/channel" in l and "org--tiny--e5m2.f8" in l for l in lines), ls.stdout
    js = json.loads(f8(env, "list", "--json").stdout)
    assert {m["format"] for m in js} == {"e4m3/channel", "e5m2/channel"}
    assert all(m["repo"] == "org/tiny" and m["commit"] == hub.repos["org/tiny"].commit for m in js)
    rm = f8(env, "rm", "org/tiny")
    assert rm.returncode == 0 and rm.stderr.count("deleted") == 2, rm.stderr
    assert json.loads(f8(env, "list", "--json").stdout) == []
    assert storage(env).exists()  # the Hub cache is left alone
    assert f8(env, "rm", "org/tiny").returncode == 1
    assert f8(env, "pull", "org/tiny", "-q").returncode == 0
    rm = f8(env, "rm", "org/tiny", "--purge")
    assert rm.returncode == 0, rm.stderr
    assert not storage(env).exists() and not model_path(env).exists()
    assert f8(env, "rm", "org/tiny@dev", "--purge").returncode == 2


def test_serve_m_repo_serves_it_under_the_repo_name(hub, env):
    import re
    import urllib.request
    p = subprocess.Popen([str(F8), "serve", "-m", "org/tiny", "--port", "0", "-t", "1"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port, log, deadline = None, [], time.time() + 120
        while time.time() < deadline and port is None:
            line = p.stderr.readline()
            if not line:
                break
            log.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            port = int(m.group(1)) if m else None
        assert port, "".join(log)
        assert any("not pulled yet" in l for l in log), "".join(log)
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                    models = json.load(r)
                break
            except OSError:
                time.sleep(0.2)
        assert [m["id"] for m in models["data"]] == ["org/tiny"]
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)


def test_pulled_model_stays_usable_when_the_hub_is_gone(hub, env):
    assert f8(env, "pull", "org/tiny", "-q").returncode == 0
    shutil.rmtree(storage(env))  # the checkpoint gone too: only the .f8 is left
    for e2 in ({**env, "HF_HUB_OFFLINE": "1"}, {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}):
        r = f8(e2, "pull", "org/tiny")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(model_path(env))
        assert "warning" in r.stderr and "using" in r.stderr


def test_two_pulls_at_once_download_the_blob_once(hub, env):
    # The second waits on the blob's lock (the one huggingface_hub takes too)
    # and then finds the blob complete.
    f = hub.repos["org/tiny"].files["model.safetensors"]
    hub.stall_after[f.sha256] = f.size // 2
    part = storage(env) / "blobs" / (f.sha256 + ".incomplete")
    a = subprocess.Popen([str(F8), "pull", "org/tiny", "-q"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (part.exists() and part.stat().st_size >= f.size // 2):
        time.sleep(0.05)
    b = subprocess.Popen([str(F8), "pull", "org/tiny", "--weights", "bf16"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    import threading
    b_err = []
    t = threading.Thread(target=lambda: b_err.extend(b.stderr), daemon=True)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline and not any("waiting for another download" in l for l in b_err):
        time.sleep(0.05)
    assert (storage(env).parent / ".locks" / "models--org--tiny" / f"{f.sha256}.lock").exists()
    hub.release.set()
    ra = a.communicate(timeout=120)
    b.wait(timeout=120)
    t.join(timeout=10)
    assert a.returncode == 0 and b.returncode == 0, (ra, b_err)
    assert any("waiting for another download of it to finish" in l for l in b_err), b_err
    gets = [e for e in hub.requests() if e["path"].startswith(f"/cdn/{f.sha256}") and e["method"] == "GET"]
    assert len(gets) == 2 and gets[1]["range"] == f"bytes={f.size // 2}-"  # a's start and a's resume only
    assert hub.body_bytes(f.sha256) == f.size
