"""Start/stop an all-in-one `oxstack up` for a test run, or wrap an already running cloud.

Shared by scripts/conformance and conformance/cli/run. Contract with the binary
(see docs/CONFORMANCE.md, "Interface"):

  oxstack up --data-dir DIR      creates DIR, prints a line "oxstack is ready" on stdout
                                 and writes DIR/clouds.yaml (clouds `oxstack`,
                                 `oxstack-system`), DIR/admin-openrc.sh, DIR/admin-password;
                                 SIGTERM stops it.
  OXSTACK_<SERVICE>__PORT         port of each service, OXSTACK_SERVER__BIND_HOST bind host.
"""
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from . import bootstrap
from .bootstrap import log

# Config key (OXSTACK_<KEY>__PORT) -> default port. The harness shifts all of them by
# an offset so it never collides with a developer's cloud on the default ports.
SERVICE_PORTS = {
    "IDENTITY": 5000,
    "IMAGE": 9292,
    "COMPUTE": 8774,
    "PLACEMENT": 8778,
    "NETWORK": 9696,
    "BLOCKSTORE": 8776,
    "OBJECTSTORE": 8080,
}
DEFAULT_PORT_OFFSET = 10000
# tempest.conf [identity] option -> the oxstack setting enforcing it. The values come from
# features.toml [profiles.oxstack.identity], so the cloud enforces exactly what Tempest's
# security-compliance tests expect (lockout, password history, minimum password age).
IDENTITY_SETTINGS = {
    "user_lockout_failure_attempts": "OXSTACK_IDENTITY__LOCKOUT_FAILURE_ATTEMPTS",
    "user_lockout_duration": "OXSTACK_IDENTITY__LOCKOUT_DURATION_SECS",
    "user_unique_last_password_count": "OXSTACK_IDENTITY__UNIQUE_LAST_PASSWORD_COUNT",
    "user_minimum_password_age": "OXSTACK_IDENTITY__MINIMUM_PASSWORD_AGE_DAYS",
}
READY_LINE = "oxstack is ready"
UNKNOWN_SECTION = re.compile(r"unknown field: found `(\w+)`")
DATA_FILES = ("clouds.yaml", "admin-openrc.sh", "admin-password")


class CloudError(RuntimeError):
    pass


def identity_settings():
    """The OXSTACK_IDENTITY__* settings matching the oxstack profile's [identity] options."""
    from . import tempestconf

    opts = tempestconf.load_profile("oxstack").get("identity", {})
    return {env: str(opts[k]) for k, env in IDENTITY_SETTINGS.items() if k in opts}


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP into SystemExit so `finally`/`with` blocks stop what we started."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
    # Ctrl-C -> KeyboardInterrupt even when started with SIGINT ignored (e.g. `cmd &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def stop_process_group(proc, name, timeout=30):
    """Stop a child we started in its own session: SIGTERM its group, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    pgid = proc.pid  # start_new_session=True: the child leads a group whose id is its PID
    try:  # a second Ctrl-C must not interrupt the cleanup
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        old_int = None
    try:
        _stop(proc, pgid, name, timeout)
    finally:
        if old_int is not None:
            signal.signal(signal.SIGINT, old_int)


def _stop(proc, pgid, name, timeout):
    log("stopping %s (pid %d)" % (name, proc.pid))
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            log("%s (pid %d) still running after %s; escalating" % (name, proc.pid, sig.name))
    # reap stragglers of the group (e.g. workers) that outlived the leader
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _port_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(host="127.0.0.1"):
    base = os.environ.get("CONFORMANCE_PORT_BASE")
    if base:  # consecutive ports from BASE, so a run fits a small reserved range
        ports = {k: int(base) + i for i, k in enumerate(SERVICE_PORTS)}
        busy = [p for p in ports.values() if not _port_free(host, p)]
        if busy:
            raise CloudError("CONFORMANCE_PORT_BASE=%s: port(s) %s in use" % (base, busy))
        return ports
    env_offset = os.environ.get("CONFORMANCE_PORT_OFFSET")
    offsets = [int(env_offset)] if env_offset else [DEFAULT_PORT_OFFSET + 100 * i for i in range(20)]
    for off in offsets:
        ports = {k: v + off for k, v in SERVICE_PORTS.items()}
        if all(_port_free(host, p) for p in ports.values()):
            return ports
    raise CloudError("no free port set found (offsets %s); set CONFORMANCE_PORT_OFFSET" % offsets)


def find_binary(build_if_missing=True):
    """The newer of target/release/oxstack and target/debug/oxstack, else cargo build --release -p oxstack.

    CONFORMANCE_BIN overrides. Returns (path, seconds spent building)."""
    override = os.environ.get("CONFORMANCE_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise CloudError("CONFORMANCE_BIN=%s is not an executable" % override)
        return override, 0.0
    root = bootstrap.REPO_ROOT
    candidates = [os.path.join(root, "target", p, "oxstack") for p in ("release", "debug")]
    built = [c for c in candidates if os.access(c, os.X_OK)]
    if built:  # the newer of the two, so a stale release build never hides a fresh debug one
        return max(built, key=os.path.getmtime), 0.0
    if not build_if_missing:
        raise CloudError("no oxstack binary in target/{release,debug}")
    log("building oxstack: cargo build --release -p oxstack")
    t0 = time.monotonic()
    try:
        subprocess.run(["cargo", "build", "--release", "-p", "oxstack"], cwd=root, check=True,
                       timeout=int(os.environ.get("CONFORMANCE_BUILD_TIMEOUT", "3600")))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        raise CloudError("cargo build failed: %s" % e)
    return candidates[0], time.monotonic() - t0


class Cloud:
    """A cloud under test: data dir with clouds.yaml + admin-openrc.sh + admin-password."""

    external = False
    cloud_name = "oxstack"

    def __init__(self):
        self.data_dir = None
        self.timings = {}

    @property
    def clouds_yaml(self):
        return os.path.join(self.data_dir, "clouds.yaml")

    @property
    def openrc(self):
        return os.path.join(self.data_dir, "admin-openrc.sh")

    def cloud_config(self, name=None):
        import yaml

        with open(self.clouds_yaml) as f:
            doc = yaml.safe_load(f) or {}
        name = name or self.cloud_name
        try:
            return doc["clouds"][name]
        except (KeyError, TypeError):
            raise CloudError("cloud %r not in %s" % (name, self.clouds_yaml))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        pass


class ExternalCloud(Cloud):
    """An already running cloud, described by a clouds.yaml (hidden option --external-cloud).

    If no admin-openrc.sh sits beside the clouds.yaml, one is generated under build/."""

    external = True

    def __init__(self, clouds_yaml, cloud_name="oxstack"):
        super().__init__()
        self.data_dir = os.path.dirname(os.path.abspath(clouds_yaml))
        self._clouds_yaml = os.path.abspath(clouds_yaml)
        self.cloud_name = cloud_name
        self._openrc = os.path.join(self.data_dir, "admin-openrc.sh")
        if not os.path.exists(self._openrc):
            self._openrc = os.path.join(bootstrap.BUILD_DIR, "conformance", "external-openrc.sh")
            write_openrc(self.cloud_config(), self._openrc)

    @property
    def clouds_yaml(self):
        return self._clouds_yaml

    @property
    def openrc(self):
        return self._openrc

    def start(self):
        log("using external cloud %r from %s" % (self.cloud_name, self.clouds_yaml))
        return self


def write_openrc(cfg, path):
    auth = cfg.get("auth", {})
    env = {
        "OS_AUTH_URL": auth.get("auth_url"),
        "OS_USERNAME": auth.get("username"),
        "OS_PASSWORD": auth.get("password"),
        "OS_PROJECT_NAME": auth.get("project_name"),
        "OS_USER_DOMAIN_NAME": auth.get("user_domain_name", "Default"),
        "OS_PROJECT_DOMAIN_NAME": auth.get("project_domain_name", "Default"),
        "OS_REGION_NAME": cfg.get("region_name"),
        "OS_INTERFACE": cfg.get("interface", "public"),
        "OS_IDENTITY_API_VERSION": "3",
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in env.items():
            if v:
                f.write("export %s=%s\n" % (k, shlex.quote(str(v))))


class OxstackCloud(Cloud):
    """`oxstack up` on a fresh temporary data dir with non-default ports; always stopped."""

    def __init__(self, keep_data=False, start_timeout=None, log_path=None, extra_env=None):
        super().__init__()
        self.keep_data = keep_data
        # more OXSTACK_* settings for this cloud (e.g. the qemu compute driver)
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout or int(os.environ.get("CONFORMANCE_START_TIMEOUT", "180"))
        self.log_path = log_path or os.path.join(bootstrap.BUILD_DIR, "conformance", "oxstack.log")
        self.proc = None
        self.tmp_root = None
        self.ports = None
        self._ready = threading.Event()
        self._reader = None

    def start(self):
        binary, build_s = find_binary()
        self.timings["build_s"] = build_s
        host = os.environ.get("CONFORMANCE_BIND_HOST", "127.0.0.1")
        self.ports = pick_ports(host)
        tmp_parent = os.path.join(bootstrap.BUILD_DIR, "tmp")
        os.makedirs(tmp_parent, exist_ok=True)
        self.tmp_root = tempfile.mkdtemp(prefix="oxstack-conformance-", dir=tmp_parent)
        self.data_dir = os.path.join(self.tmp_root, "data")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        t0 = time.monotonic()
        # A binary that does not know a service yet rejects its config section
        # ("unknown field: found `image`"): drop that port key and start again.
        keys = dict(self.ports)
        while True:
            err = self._launch(binary, host, keys)
            unknown = UNKNOWN_SECTION.search(err or "")
            if err is None:
                break
            if unknown and unknown.group(1).upper() in keys and unknown.group(1).upper() != "IDENTITY":
                log("this oxstack has no [%s] section yet; starting without OXSTACK_%s__PORT"
                    % (unknown.group(1), unknown.group(1).upper()))
                del keys[unknown.group(1).upper()]
                shutil.rmtree(self.data_dir, ignore_errors=True)
                continue
            raise CloudError(err)
        self.ports = keys
        missing = [f for f in DATA_FILES if not os.path.exists(os.path.join(self.data_dir, f))]
        if missing:
            raise CloudError("oxstack is ready but %s missing from %s" % (", ".join(missing), self.data_dir))
        self.timings["start_s"] = time.monotonic() - t0
        log("oxstack ready after %.1fs (pid %d, data dir %s)" % (self.timings["start_s"], self.proc.pid, self.data_dir))
        return self

    def _launch(self, binary, host, ports):
        """Start `oxstack up`; None once ready, else the reason it is not (process gone)."""
        # the cloud under test gets no OXSTACK_* setting from the caller's shell (their data
        # dir, ports...) except logging; the harness's own variables are CONFORMANCE_*
        env = {k: v for k, v in os.environ.items() if not k.startswith("OXSTACK_") or k.startswith("OXSTACK_LOG")}
        for key, port in ports.items():
            env["OXSTACK_%s__PORT" % key] = str(port)
        env["OXSTACK_SERVER__BIND_HOST"] = host
        env.update(identity_settings())
        env.update(self.extra_env)
        open(self.log_path, "wb").close()
        logf = open(self.log_path, "ab")
        cmd = [binary, "up", "--data-dir", self.data_dir]
        log("starting %s (identity port %d, log %s)" % (" ".join(cmd), ports["IDENTITY"], self.log_path))
        t0 = time.monotonic()
        self._ready.clear()
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=logf, start_new_session=True, cwd=self.tmp_root)
        logf.close()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        deadline = t0 + self.start_timeout
        while not self._ready.is_set():
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                self.proc.stdout.close()
                return ("oxstack up exited with %s before it was ready; see %s:\n%s"
                        % (self.proc.returncode, self.log_path, self.log_tail()))
            if time.monotonic() > deadline:
                raise CloudError("oxstack up not ready within %ds; see %s:\n%s"
                                 % (self.start_timeout, self.log_path, self.log_tail()))
            self._ready.wait(0.2)
        return None

    def _read_stdout(self):
        with open(self.log_path, "ab") as logf:
            for raw in self.proc.stdout:
                logf.write(b"[stdout] " + raw)
                logf.flush()
                if READY_LINE in raw.decode("utf-8", "replace"):
                    self._ready.set()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self):
        stop_process_group(self.proc, "oxstack up")
        if self.proc is not None and self.proc.stdout and not self.proc.stdout.closed:
            if self._reader:
                self._reader.join(timeout=5)
            self.proc.stdout.close()
        if self.data_dir:
            kill_guests(os.path.join(self.data_dir, "instances"))
        if self.tmp_root and not self.keep_data:
            shutil.rmtree(self.tmp_root, ignore_errors=True)
        elif self.tmp_root:
            log("kept data dir %s" % self.data_dir)


def guest_pids(instances_dir):
    """The qemu processes of the qemu driver's guests under INSTANCES_DIR: the pid in each
    <uuid>/qemu.pid whose command line names that instance's QMP socket (so a reused pid
    is never taken for a guest)."""
    pids = []
    for pidfile in sorted(glob.glob(os.path.join(instances_dir, "*", "qemu.pid"))):
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            continue
        if os.path.join(os.path.dirname(pidfile), "qmp.sock") in cmdline:
            pids.append(pid)
    return pids


def kill_guests(instances_dir):
    """SIGKILL the guests the cloud left running: qemu daemonizes into a session of its
    own, so stopping the cloud's process group does not reach it."""
    for pid in guest_pids(instances_dir):
        log("killing guest qemu %d left running under %s" % (pid, instances_dir))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def make_cloud(external_cloud=None, external_cloud_name="oxstack", keep_data=False):
    if external_cloud:
        return ExternalCloud(external_cloud, external_cloud_name)
    return OxstackCloud(keep_data=keep_data)


def main_guard(fn):
    """Run fn() with signal handling; Ctrl-C/SIGTERM exit non-zero after cleanup."""
    install_signal_handlers()
    try:
        return fn()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except CloudError as e:
        log("ERROR: %s" % e)
        return 2
    except Exception:  # noqa: BLE001 - harness bug or cloud misbehaviour: report, cleaned up already
        import traceback

        traceback.print_exc()
        log("ERROR: harness failed (traceback above)")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit("not a script")
