"""scripts/release builds a release the Terraform Registry accepts.

The registry's requirements (developer.hashicorp.com/terraform/registry/providers/publishing,
"Manually Preparing a Release" and "Preparing and Adding a Signing Key"; the same layout as
hashicorp/terraform-provider-scaffolding-framework's .goreleaser.yml):

- one zip per platform, `terraform-provider-{NAME}_{VERSION}_{OS}_{ARCH}.zip`, holding the binary
  `terraform-provider-{NAME}_v{VERSION}`;
- `terraform-provider-{NAME}_{VERSION}_manifest.json`, the registry manifest;
- `terraform-provider-{NAME}_{VERSION}_SHA256SUMS`, a SHA-256 checksum of each zip and the manifest;
- `terraform-provider-{NAME}_{VERSION}_SHA256SUMS.sig`, a binary (not ASCII-armored) detached GPG
  signature of it, by an RSA or DSA key (not ECC) whose armored public key the registry holds.

Each test runs the script on a stand-in executable (the script takes BINARY as an argument, so
nothing is compiled) with its output in a temporary DRPAIR_DIST, never the repository's dist/.
Tests that hand the script a dangerous DRPAIR_DIST run a copy of it in a throwaway repository, so a
broken guard could only ever delete temporary files. Signing keys are throwaway RSA keys made in
temporary GNUPGHOMEs. A few seconds in all.
"""

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "scripts", "release")
PROVIDER = "terraform-provider-drpair"


def cargo_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        text = f.read()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


VERSION = cargo_version()
NAME = f"{PROVIDER}_{VERSION}"
ZIP = f"{NAME}_{{}}.zip"
MANIFEST = f"{NAME}_manifest.json"
SUMS = f"{NAME}_SHA256SUMS"
SIG = f"{SUMS}.sig"
KEY = f"{NAME}_signing-key.asc"
INNER = f"{PROVIDER}_v{VERSION}"
# The platform a bare BINARY argument is released for, in the registry's GOOS_GOARCH spelling.
HOST = "{}_{}".format(platform.system().lower(),
                      {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64",
                       "arm64": "arm64"}.get(platform.machine().lower(), platform.machine()))


def gpg(home, *args, check=True, input=None):
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
        input=input,
        capture_output=True,
        check=check,
    )


class Keyring:
    """A temporary GNUPGHOME with one generated key; its gpg-agent is stopped on close."""

    def __init__(self, algo, passphrase=""):
        # gpg-agent's socket lives in the home: keep its path short (Unix sockets allow ~107 bytes).
        home = tempfile.mkdtemp(prefix="drpair-key-")
        self.home = home
        self.passphrase = passphrase
        gpg(home, "--pinentry-mode", "loopback", "--passphrase", passphrase,
            "--quick-gen-key", f"drpair release test ({algo}) <release-test@example.invalid>",
            algo, "sign", "never")
        listing = gpg(home, "--with-colons", "--list-secret-keys").stdout.decode()
        self.fingerprint = re.search(r"^fpr:+([0-9A-F]{40}):", listing, re.M).group(1)

    def secret_armor(self):
        return gpg(self.home, "--pinentry-mode", "loopback", "--passphrase", self.passphrase,
                   "--armor", "--export-secret-keys", self.fingerprint).stdout.decode()

    def close(self):
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], check=False)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def rsa_key():
    key = Keyring("rsa2048")
    yield key
    key.close()


@pytest.fixture
def binary(tmp_path):
    path = tmp_path / "stand-in-provider"
    path.write_bytes(b"#!/bin/sh\n# stands in for terraform-provider-drpair\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def sandbox(tmp_path):
    """The script's environment: its own TMPDIR (checked empty afterwards; short, so the script's
    gpg homes go there), and GNUPGHOME/HOME pointing at an empty "user keyring" that must stay
    untouched."""
    scratch = tempfile.mkdtemp(prefix="drpair-rel-")
    user_home = tmp_path / "home"
    user_gnupg = user_home / ".gnupg"
    user_gnupg.mkdir(parents=True, mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRPAIR_")}
    env.update(TMPDIR=str(scratch), HOME=str(user_home), GNUPGHOME=str(user_gnupg),
               DRPAIR_DIST=str(tmp_path / "dist"))
    yield env
    shutil.rmtree(scratch, ignore_errors=True)


def release(env, *args, script=RELEASE, **extra_env):
    return subprocess.run([script, *map(str, args)], env={**env, **extra_env},
                          capture_output=True, text=True, timeout=120)


def assert_left_nothing_behind(env):
    assert os.listdir(env["TMPDIR"]) == [], "temporary GNUPGHOMEs or staging left behind"
    assert os.listdir(env["GNUPGHOME"]) == [], "the user's keyring was touched"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_sums(dist):
    sums = {}
    with open(os.path.join(dist, SUMS)) as f:
        for line in f:
            digest, name = line.rstrip("\n").split("  ", 1)
            sums[name] = digest
    return sums


def verify(dist, sums_path, label):
    """gpg --verify in a fresh keyring holding only the published public key."""
    home = tempfile.mkdtemp(prefix=f"drpair-{label}-")
    try:
        gpg(home, "--import", os.path.join(dist, KEY))
        return gpg(home, "--status-fd", "1", "--verify", os.path.join(dist, SIG), str(sums_path),
                   check=False)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_signed_release_has_the_registry_layout_and_a_signature_that_verifies(
        tmp_path, sandbox, binary, rsa_key):
    # 1. Release with the key given through the environment.
    result = release(sandbox, binary, DRPAIR_GPG_PRIVATE_KEY=rsa_key.secret_armor())
    assert result.returncode == 0, result.stderr
    dist = sandbox["DRPAIR_DIST"]
    assert "NOT publishable" not in result.stdout

    # 2. Exactly the registry's files (and the public key to give it), named as it expects.
    assert sorted(os.listdir(dist)) == sorted([ZIP.format(HOST), MANIFEST, SUMS, SIG, KEY])

    # 3. The zip holds only the binary, named terraform-provider-drpair_vVERSION, executable.
    with zipfile.ZipFile(os.path.join(dist, ZIP.format(HOST))) as z:
        (entry,) = z.infolist()
        assert entry.filename == INNER
        assert (entry.external_attr >> 16) & 0o777 == 0o755
        assert z.read(entry) == binary.read_bytes()

    # 4. The manifest tells the registry the provider speaks protocol 6.
    with open(os.path.join(dist, MANIFEST)) as f:
        assert json.load(f) == {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}

    # 5. SHA256SUMS lists exactly the zip and the manifest, with their hashes.
    sums = read_sums(dist)
    assert sorted(sums) == sorted([ZIP.format(HOST), MANIFEST])
    for name, digest in sums.items():
        assert sha256(os.path.join(dist, name)) == digest, name

    # 6. A binary detached signature that verifies against the exported public key alone.
    with open(os.path.join(dist, SIG), "rb") as f:
        assert not f.read(5).startswith(b"-----"), "the registry needs a binary, not armored, signature"
    with open(os.path.join(dist, KEY)) as f:
        armored = f.read()
    assert armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE KEY" not in armored
    good = verify(dist, os.path.join(dist, SUMS), "good")
    assert good.returncode == 0, good.stderr.decode()
    validsig = re.search(r"^\[GNUPG:\] VALIDSIG .* ([0-9A-F]{40})$", good.stdout.decode(), re.M)
    assert validsig and validsig.group(1) == rsa_key.fingerprint

    # 7. A tampered SHA256SUMS does not verify.
    tampered = tmp_path / SUMS
    text = open(os.path.join(dist, SUMS)).read()
    tampered.write_text(("1" if text[0] != "1" else "2") + text[1:])
    bad = verify(dist, tampered, "tampered")
    assert bad.returncode != 0
    assert "BADSIG" in bad.stdout.decode()

    # 8. The signing keyring was temporary, and the user's keyring untouched.
    assert_left_nothing_behind(sandbox)


def test_every_platform_given_is_archived_checksummed_and_signed(sandbox, binary, rsa_key):
    result = release(sandbox, f"linux_amd64={binary}", f"darwin_arm64={binary}",
                     f"windows_amd64={binary}", DRPAIR_GPG_PRIVATE_KEY=rsa_key.secret_armor())
    assert result.returncode == 0, result.stderr
    dist = sandbox["DRPAIR_DIST"]
    platforms = ["darwin_arm64", "linux_amd64", "windows_amd64"]
    assert sorted(read_sums(dist)) == sorted([ZIP.format(p) for p in platforms] + [MANIFEST])
    for platform_ in platforms:
        with zipfile.ZipFile(os.path.join(dist, ZIP.format(platform_))) as z:
            inner = INNER + (".exe" if platform_ == "windows_amd64" else "")
            assert z.namelist() == [inner]
    assert verify(dist, os.path.join(dist, SUMS), "platforms").returncode == 0
    assert_left_nothing_behind(sandbox)


def test_release_without_a_key_fails_and_writes_nothing(sandbox, binary):
    result = release(sandbox, binary)
    assert result.returncode != 0
    assert "DRPAIR_GPG_PRIVATE_KEY" in result.stderr
    assert "--unsigned" in result.stderr
    assert not os.path.exists(sandbox["DRPAIR_DIST"])


@pytest.mark.parametrize("opt_out", ["flag", "env"])
def test_unsigned_release_only_when_asked_and_says_it_is_not_publishable(sandbox, binary,
                                                                         opt_out):
    if opt_out == "flag":
        result = release(sandbox, "--unsigned", binary)
    else:
        result = release(sandbox, binary, DRPAIR_RELEASE_UNSIGNED="1")
    assert result.returncode == 0, result.stderr
    assert "NOT publishable" in result.stdout
    dist = sandbox["DRPAIR_DIST"]
    assert sorted(os.listdir(dist)) == sorted([ZIP.format(HOST), MANIFEST, SUMS])
    assert_left_nothing_behind(sandbox)


def test_a_passphrase_protected_key_needs_its_passphrase(sandbox, binary):
    key = Keyring("rsa2048", passphrase="correct horse")
    try:
        armored = key.secret_armor()
        wrong = release(sandbox, binary, DRPAIR_GPG_PRIVATE_KEY=armored,
                        DRPAIR_GPG_PASSPHRASE="battery staple")
        assert wrong.returncode != 0
        assert "DRPAIR_GPG_PASSPHRASE" in wrong.stderr
        assert not os.path.exists(sandbox["DRPAIR_DIST"]), "a failed release left a dist behind"

        right = release(sandbox, binary, DRPAIR_GPG_PRIVATE_KEY=armored,
                        DRPAIR_GPG_PASSPHRASE="correct horse")
        assert right.returncode == 0, right.stderr
        assert verify(sandbox["DRPAIR_DIST"],
                      os.path.join(sandbox["DRPAIR_DIST"], SUMS), "protected").returncode == 0
        assert_left_nothing_behind(sandbox)
    finally:
        key.close()


def test_an_ecc_key_is_refused_because_the_registry_does_not_accept_it(sandbox, binary):
    key = Keyring("ed25519")
    try:
        result = release(sandbox, binary, DRPAIR_GPG_PRIVATE_KEY=key.secret_armor())
        assert result.returncode != 0
        assert "RSA and DSA" in result.stderr
        assert not os.path.exists(sandbox["DRPAIR_DIST"])
        assert_left_nothing_behind(sandbox)
    finally:
        key.close()


def test_a_failed_release_keeps_the_previous_dist(sandbox, binary):
    dist = sandbox["DRPAIR_DIST"]
    os.makedirs(dist)
    previous = os.path.join(dist, f"{PROVIDER}_0.0.1_SHA256SUMS")
    open(previous, "w").close()
    result = release(sandbox, binary, DRPAIR_GPG_PRIVATE_KEY="not a key")
    assert result.returncode != 0
    assert os.listdir(dist) == [os.path.basename(previous)]
    assert_left_nothing_behind(sandbox)


@pytest.fixture
def throwaway_repo(tmp_path):
    """A copy of the script in a repository of its own under tmp_path, so that a DRPAIR_DIST
    aimed at "the repository" or "its parent" can only ever reach temporary files."""
    repo = tmp_path / "outer" / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(RELEASE, repo / "scripts" / "release")
    for name in ["Cargo.toml", "terraform-registry-manifest.json"]:
        shutil.copy2(os.path.join(ROOT, name), repo / name)
    (tmp_path / "outer" / "bystander").write_text("must survive")
    return repo


@pytest.mark.parametrize("dist", ["repo", "repo/.", "repo/", "outer", "outer//", "outer/repo/..",
                                  "home", "home/..", "/"])
def test_a_dist_that_would_replace_the_repository_or_home_is_refused(
        tmp_path, sandbox, binary, throwaway_repo, dist):
    paths = {"repo": str(throwaway_repo), "outer": str(throwaway_repo.parent),
             "home": sandbox["HOME"]}
    head, _, rest = dist.partition("/")
    target = "/" if dist == "/" else paths.get(head, str(tmp_path / head)) + ("/" + rest if rest else "")
    result = release(sandbox, "--unsigned", binary, script=throwaway_repo / "scripts" / "release",
                     DRPAIR_DIST=target)
    assert result.returncode != 0, f"DRPAIR_DIST={target} was accepted"
    assert "DRPAIR_DIST" in result.stderr
    assert (throwaway_repo / "Cargo.toml").exists()
    assert (throwaway_repo.parent / "bystander").read_text() == "must survive"
    assert os.path.isdir(sandbox["GNUPGHOME"])


def test_a_dist_holding_anything_but_release_artifacts_is_refused(tmp_path, sandbox, binary):
    dist = tmp_path / "not-a-dist"
    (dist / "src").mkdir(parents=True)
    (dist / "notes.txt").write_text("keep me")
    result = release(sandbox, "--unsigned", binary, DRPAIR_DIST=str(dist))
    assert result.returncode != 0
    assert "not a release artifact" in result.stderr
    assert (dist / "notes.txt").read_text() == "keep me"
    assert (dist / "src").is_dir()


def test_target_triples_are_built_by_cargo_and_named_as_the_registry_spells_platforms(
        tmp_path, sandbox):
    # A stand-in `cargo` on PATH "builds" by writing the binary where cargo would put it.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "cargo-calls"
    (fake_bin / "cargo").write_text(f"""#!/bin/sh
echo "$*" >> {calls}
while [ $# -gt 0 ]; do [ "$1" = --target ] && triple=$2; shift; done
exe={PROVIDER}; case $triple in *windows*) exe=$exe.exe ;; esac
mkdir -p "$CARGO_TARGET_DIR/$triple/release"
printf '#!/bin/sh\\n# %s\\n' "$triple" > "$CARGO_TARGET_DIR/$triple/release/$exe"
chmod +x "$CARGO_TARGET_DIR/$triple/release/$exe"
""")
    (fake_bin / "cargo").chmod(0o755)
    env = {**sandbox, "PATH": f"{fake_bin}:{os.environ['PATH']}",
           "CARGO_TARGET_DIR": str(tmp_path / "target")}
    result = release(env, "--unsigned", "--target", "aarch64-apple-darwin",
                     "--target=x86_64-pc-windows-msvc", "--target", "aarch64-unknown-linux-musl")
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        f"build --release --locked --bin {PROVIDER} --target {triple}"
        for triple in ["aarch64-apple-darwin", "x86_64-pc-windows-msvc", "aarch64-unknown-linux-musl"]
    ]
    platforms = ["darwin_arm64", "linux_arm64", "windows_amd64"]
    assert sorted(read_sums(sandbox["DRPAIR_DIST"])) == sorted(
        [ZIP.format(p) for p in platforms] + [MANIFEST])

    unknown = release(env, "--unsigned", "--target", "riscv64gc-unknown-linux-gnu")
    assert unknown.returncode != 0
    assert "no registry platform for target riscv64gc-unknown-linux-gnu" in unknown.stderr
