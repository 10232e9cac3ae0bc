"""conformance/cli/run: the real `openstack` CLI and openstacksdk against a fresh oxstack."""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import bootstrap, cloud as cloudmod
from .bootstrap import log

CLI_DIR = os.path.join(bootstrap.CONFORMANCE_DIR, "cli")
SDK_SMOKE = os.path.join(bootstrap.CONFORMANCE_DIR, "sdk_smoke.py")
OUT_DIR = os.path.join(bootstrap.BUILD_DIR, "conformance", "cli")
SCENARIO_TIMEOUT_S = int(os.environ.get("CONFORMANCE_CLI_SCENARIO_TIMEOUT", "900"))


# A scenario with this line among its first lines runs against a cloud of its own whose
# compute driver is qemu (real guests), and only where qemu-system-x86_64 is found.
QEMU_MARK = "# requires: qemu"
QEMU_SHUTDOWN_TIMEOUT_S = 20


def needs_qemu(path):
    with open(path) as f:
        return any(line.strip() == QEMU_MARK for line, _ in zip(f, range(20)))


def find_qemu():
    """The qemu-system-x86_64 to use: CONFORMANCE_QEMU, else OXSTEST_QEMU (scripts/test sets it
    from scripts/ensure-qemu), else build/qemu/bin, else PATH; None when there is none or
    OXSTEST_NO_QEMU=1."""
    if os.environ.get("OXSTEST_NO_QEMU") == "1":
        return None
    for var in ("CONFORMANCE_QEMU", "OXSTEST_QEMU"):
        if os.environ.get(var):
            return os.environ[var] if os.access(os.environ[var], os.X_OK) else None
    local = os.path.join(bootstrap.REPO_ROOT, "build", "qemu", "bin", "qemu-system-x86_64")
    if os.access(local, os.X_OK):
        return local
    return shutil.which("qemu-system-x86_64")


def build_guest():
    """scripts/test-guest: the test guest's directory (vmlinuz, initrd, disk.qcow2)."""
    r = subprocess.run([os.path.join(bootstrap.REPO_ROOT, "scripts", "test-guest")], cwd=bootstrap.REPO_ROOT,
                       stdout=subprocess.PIPE, timeout=600, check=False)
    if r.returncode != 0:
        raise cloudmod.CloudError("scripts/test-guest failed (exit %d)" % r.returncode)
    return os.path.join(bootstrap.REPO_ROOT, r.stdout.decode().strip())


def scenarios():
    return {os.path.basename(p)[:-3]: p for p in sorted(glob.glob(os.path.join(CLI_DIR, "*.sh")))
            if not os.path.basename(p).startswith("_") and os.path.basename(p) != "lib.sh"}


def parser():
    p = argparse.ArgumentParser(prog="conformance/cli/run", description=(
        "Start a fresh oxstack, run conformance/cli/<service>.sh scenarios with the real openstack CLI, "
        "then conformance/sdk_smoke.py."))
    p.add_argument("services", nargs="*", metavar="SERVICE",
                   help="scenarios to run (default: all of %s)" % ", ".join(scenarios()) or "none")
    p.add_argument("--no-sdk", action="store_true", help="skip conformance/sdk_smoke.py")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data dir")
    p.add_argument("--external-cloud", metavar="CLOUDS_YAML", help=argparse.SUPPRESS)
    p.add_argument("--external-cloud-name", default="oxstack", help=argparse.SUPPRESS)
    return p


def openrc_env(path):
    """OS_* variables after sourcing the openrc in bash (what a user's shell would get)."""
    r = subprocess.run(["bash", "-c", 'set -a; . "$1" >/dev/null; env -0', "bash", path],
                       capture_output=True, timeout=30, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if r.returncode != 0:
        raise cloudmod.CloudError("sourcing %s failed: %s" % (path, r.stderr.decode()[-500:]))
    out = {}
    for item in r.stdout.split(b"\0"):
        k, _, v = item.decode("utf-8", "replace").partition("=")
        if k.startswith("OS_"):
            out[k] = v
    return out


def scenario_env(cloud):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(openrc_env(cloud.openrc))
    venv_bin = os.path.join(bootstrap.VENV_DIR, "bin")
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["OS_CLIENT_CONFIG_FILE"] = cloud.clouds_yaml
    env["CONFORMANCE_CLOUD_NAME"] = cloud.cloud_name
    env["CONFORMANCE_DATA_DIR"] = cloud.data_dir
    env["CONFORMANCE_OPENRC"] = cloud.openrc
    env["CONFORMANCE_PY"] = os.path.join(venv_bin, "python")
    env["CONFORMANCE_LIB"] = os.path.join(CLI_DIR, "lib.sh")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env.pop("OS_CLOUD", None)
    return env


def run_one(name, cmd, env):
    os.makedirs(OUT_DIR, exist_ok=True)
    log_path = os.path.join(OUT_DIR, name + ".log")
    log("=== %s: %s" % (name, " ".join(cmd)))
    t0 = time.monotonic()
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        def pump():
            console = True
            for raw in proc.stdout:  # stream to console and log
                logf.write(raw)
                if console:
                    try:
                        sys.stdout.write(raw.decode("utf-8", "replace"))
                        sys.stdout.flush()
                    except (OSError, ValueError):
                        console = False  # console gone: keep draining into the log

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            try:
                proc.wait(timeout=SCENARIO_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log("%s exceeded %ds; stopping it" % (name, SCENARIO_TIMEOUT_S))
        finally:
            cloudmod.stop_process_group(proc, name, timeout=10)
            reader.join(timeout=10)
            proc.stdout.close()
    rc = proc.returncode
    return rc == 0, time.monotonic() - t0, log_path


def main(argv=None):
    args = parser().parse_args(argv)
    known = scenarios()
    wanted = args.services or list(known)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        print("conformance/cli/run: no scenario for %s (have: %s)" % (", ".join(unknown), ", ".join(known)),
              file=sys.stderr)
        return 2
    return cloudmod.main_guard(lambda: _main(args, known, wanted))


def _main(args, known, wanted):
    outcomes = []
    guests = [n for n in wanted if needs_qemu(known[n])]
    plain = [n for n in wanted if n not in guests]
    if plain or not args.no_sdk:
        cloud = cloudmod.make_cloud(args.external_cloud, args.external_cloud_name, args.keep_data)
        with cloud:
            cloud.start()
            env = scenario_env(cloud)
            for name in plain:
                outcomes.append((name,) + run_one(name, ["bash", known[name]], env))
            if not args.no_sdk:
                outcomes.append(("sdk_smoke",) + run_one("sdk_smoke", [env["CONFORMANCE_PY"], SDK_SMOKE], env))
    if guests:
        outcomes.extend(_guest_scenarios(args, known, guests))
    print("\nCLI/SDK conformance:")
    for name, ok, secs, log_path in outcomes:
        print("  %-12s %-4s %5.1fs  %s" % (name, {True: "ok", False: "FAIL", None: "skip"}[ok], secs, log_path))
    failed = sum(1 for o in outcomes if o[1] is False)
    skipped = sum(1 for o in outcomes if o[1] is None)
    print("%d passed, %d failed, %d skipped" % (len(outcomes) - failed - skipped, failed, skipped))
    return 1 if failed else 0


def _guest_scenarios(args, known, names):
    """Scenarios with real guests: a fresh cloud of their own with compute.driver = qemu (the
    first cloud is stopped by then, so both fit one port range)."""
    if args.external_cloud:
        return [(n, None, 0.0, "skipped: needs a cloud the runner starts with the qemu driver") for n in names]
    qemu = find_qemu()
    if not qemu:
        log("no qemu-system-x86_64 (scripts/ensure-qemu installs it): skipping %s" % ", ".join(names))
        return [(n, None, 0.0, "skipped: no qemu-system-x86_64") for n in names]
    guest_dir = build_guest()
    # A short instances path: a guest's QMP socket (<instances>/<uuid>/qmp.sock) must fit
    # the 107 bytes of a unix socket path, which a data dir under build/tmp may not.
    instances = tempfile.mkdtemp(prefix="oxstack-inst-", dir="/tmp")
    extra = {
        "OXSTACK_COMPUTE__DRIVER": "qemu",
        "OXSTACK_COMPUTE__QEMU__BINARY": qemu,
        "OXSTACK_COMPUTE__QEMU__INSTANCES_PATH": instances,
        "OXSTACK_COMPUTE__QEMU__SHUTDOWN_TIMEOUT_SECS": str(QEMU_SHUTDOWN_TIMEOUT_S),
    }
    log_path = os.path.join(bootstrap.BUILD_DIR, "conformance", "oxstack-qemu.log")
    outcomes = []
    try:
        with cloudmod.OxstackCloud(keep_data=args.keep_data, log_path=log_path, extra_env=extra) as cloud:
            cloud.start()
            env = scenario_env(cloud)
            env["CONFORMANCE_GUEST_DIR"] = guest_dir
            env["CONFORMANCE_INSTANCES_DIR"] = instances
            env["CONFORMANCE_QEMU"] = qemu
            for name in names:
                outcomes.append((name,) + run_one(name, ["bash", known[name]], env))
    finally:
        cloudmod.kill_guests(instances)
        if args.keep_data:
            log("kept instances dir %s" % instances)
        else:
            shutil.rmtree(instances, ignore_errors=True)
    return outcomes
