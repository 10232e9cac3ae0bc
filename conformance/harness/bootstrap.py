"""Standard-library-only start-up: locate the repo, build the tool venv, re-exec into it.

Everything else in this package may import third-party modules (PyYAML, requests,
subunit, openstacksdk), because it only ever runs inside build/venv.
"""
import hashlib
import os
import subprocess
import sys
import time

HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE_DIR = os.path.dirname(HARNESS_DIR)
REPO_ROOT = os.path.dirname(CONFORMANCE_DIR)
BUILD_DIR = os.path.join(REPO_ROOT, "build")
VENV_DIR = os.environ.get("CONFORMANCE_VENV", os.path.join(BUILD_DIR, "venv"))
VENV_PY = os.path.join(VENV_DIR, "bin", "python")
REQUIREMENTS = os.path.join(CONFORMANCE_DIR, "requirements.txt")
CONSTRAINTS = os.path.join(CONFORMANCE_DIR, "constraints.txt")
STAMP = os.path.join(VENV_DIR, ".oxstack-conformance-requirements")
PIP_TIMEOUT_S = 1800


def log(msg):
    """Never raises: a closed console (e.g. `| head`) must not stop the cleanup that follows."""
    try:
        print("[conformance] %s" % msg, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _requirements_digest():
    h = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV_DIR)


def ensure_venv():
    """Create/refresh build/venv with the pinned tool chain. Returns seconds spent."""
    t0 = time.monotonic()
    digest = _requirements_digest()
    try:
        with open(STAMP) as f:
            if f.read().strip() == digest and os.path.exists(os.path.join(VENV_DIR, "bin", "tempest")):
                return 0.0
    except OSError:
        pass
    if sys.version_info < (3, 10):
        sys.exit("conformance: Python >= 3.10 needed to build the venv (have %s)" % sys.version.split()[0])
    if not os.path.exists(VENV_PY):
        log("creating virtualenv %s" % VENV_DIR)
        subprocess.run([sys.executable, "-m", "venv", VENV_DIR], check=True, timeout=300)
    log("installing pinned tools into %s (tempest, python-openstackclient, openstacksdk)" % VENV_DIR)
    pip = [VENV_PY, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-r", REQUIREMENTS, "-c", CONSTRAINTS], check=True, timeout=PIP_TIMEOUT_S)
    with open(STAMP, "w") as f:
        f.write(digest + "\n")
    return time.monotonic() - t0


def reexec_in_venv(script):
    """Run `script` (with the current argv) under the venv's Python, unless we are already there."""
    if in_venv():
        return
    spent = ensure_venv()
    env = dict(os.environ)
    env["CONFORMANCE_VENV_SECONDS"] = "%.1f" % spent
    os.execve(VENV_PY, [VENV_PY, script] + sys.argv[1:], env)
