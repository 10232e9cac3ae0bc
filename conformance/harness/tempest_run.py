"""scripts/conformance: run Tempest's API suites against a fresh oxstack and record the outcome."""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import threading
import time

from . import bootstrap, cloud as cloudmod, results
from .bootstrap import log

OUT_DIR = os.path.join(bootstrap.BUILD_DIR, "conformance")
WORKSPACE = os.path.join(bootstrap.BUILD_DIR, "tempest")
MAX_CONCURRENCY = 2


def parser():
    p = argparse.ArgumentParser(prog="scripts/conformance", description=(
        "Run Tempest 47.0.0 API suites against a fresh `oxstack up` (ports shifted by +10000) and "
        "write build/conformance/summary.json and the table in docs/CONFORMANCE.md."))
    p.add_argument("suites", nargs="*", metavar="SERVICE",
                   help="suites: %s (default: every suite whose service is in the catalog)" % ", ".join(results.SUITES))
    p.add_argument("--must-pass", action="store_true",
                   help="run exactly conformance/must-pass.txt; fail on any failure or test that did not run")
    p.add_argument("--add-passing", action="store_true", help="append newly passing tests to conformance/must-pass.txt")
    p.add_argument("--concurrency", type=int, default=2, help="tempest workers (1..%d, default 2)" % MAX_CONCURRENCY)
    p.add_argument("--filter", metavar="REGEX", help="only tests whose id matches REGEX (within the suites; with --must-pass, the listed tests it matches)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("CONFORMANCE_TIMEOUT_MIN", "75")),
                   metavar="MIN", help="bound on the tempest run in minutes (default 75)")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (build/tmp/...)")
    p.add_argument("--no-docs", action="store_true", help="do not update docs/CONFORMANCE.md")
    # hidden: target an already running cloud (e.g. the real Keystone) instead of starting oxstack
    p.add_argument("--external-cloud", metavar="CLOUDS_YAML", help=argparse.SUPPRESS)
    p.add_argument("--external-cloud-name", default="oxstack", help=argparse.SUPPRESS)
    p.add_argument("--profile", default=None, help=argparse.SUPPRESS)
    return p


def quick_checks(args):
    """Checks that need neither the venv nor a cloud. Returns an exit code or None."""
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        print("conformance: --concurrency must be 1..%d (shared 2-core machines)" % MAX_CONCURRENCY, file=sys.stderr)
        return 2
    if args.must_pass:
        ids = results.read_must_pass()
        if not ids:
            print("must-pass: conformance/must-pass.txt lists no tests yet -- nothing to prove, OK.")
            return 0
    if args.add_passing and args.external_cloud:
        print("conformance: --add-passing records oxstack's results; not with --external-cloud", file=sys.stderr)
        return 2
    for s in args.suites:
        results.normalize_suite(s)
    return None


def _env(workspace):
    env = dict(os.environ)
    env["TEMPEST_CONFIG_DIR"] = os.path.join(workspace, "etc")
    env["TEMPEST_CONFIG"] = "tempest.conf"
    # Tempest may only talk to the cloud under test (no proxies, nothing else)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


def prepare_workspace(conf_text):
    import tempest

    os.makedirs(os.path.join(WORKSPACE, "etc"), exist_ok=True)
    os.makedirs(os.path.join(WORKSPACE, "logs"), exist_ok=True)
    os.makedirs(os.path.join(WORKSPACE, "tempest_lock"), exist_ok=True)
    tdir = os.path.dirname(tempest.__file__)
    with open(os.path.join(WORKSPACE, ".stestr.conf"), "w") as f:
        f.write("[DEFAULT]\ntest_path=%s\ntop_dir=%s\ngroup_regex=([^\\.]*\\.)*\n"
                % (os.path.join(tdir, "test_discover"), os.path.dirname(tdir)))
    with open(os.path.join(WORKSPACE, "etc", "tempest.conf"), "w") as f:
        f.write(conf_text)
    if not os.path.exists(os.path.join(WORKSPACE, ".stestr", "format")):
        subprocess.run([os.path.join(bootstrap.VENV_DIR, "bin", "stestr"), "init"], cwd=WORKSPACE, check=True,
                       capture_output=True, timeout=60)
    os.chmod(os.path.join(WORKSPACE, "etc", "tempest.conf"), 0o600)


def list_tests(regex):
    stestr = os.path.join(bootstrap.VENV_DIR, "bin", "stestr")
    r = subprocess.run([stestr, "list", regex], cwd=WORKSPACE, env=_env(WORKSPACE), capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        raise cloudmod.CloudError("stestr list failed:\n%s" % (r.stderr[-3000:] or r.stdout[-3000:]))
    return [l.strip() for l in r.stdout.splitlines() if l.startswith("tempest.")]


def run_tempest(load_list, concurrency, timeout_min, subunit_path, total):
    tempest_bin = os.path.join(bootstrap.VENV_DIR, "bin", "tempest")
    cmd = [tempest_bin, "run", "--config-file", os.path.join(WORKSPACE, "etc", "tempest.conf"),
           "--load-list", load_list, "--concurrency", str(concurrency), "--subunit"]
    log("running %d tests: %s" % (total, " ".join(cmd)))
    err_path = os.path.join(OUT_DIR, "tempest-run.stderr.log")
    with open(subunit_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=WORKSPACE, env=_env(WORKSPACE), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)
        timed_out = False
        try:
            deadline = time.monotonic() + timeout_min * 60
            last = time.monotonic()
            while proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() > deadline:
                    log("tempest run exceeded %.0f minutes; stopping it" % timeout_min)
                    timed_out = True
                    break
                if time.monotonic() - last >= 60:
                    last = time.monotonic()
                    _progress(subunit_path, total)
        finally:
            cloudmod.stop_process_group(proc, "tempest run", timeout=20)
    return proc.returncode, timed_out


def _progress(subunit_path, total):
    try:
        with open(subunit_path, "rb") as f:
            recs = results.parse_subunit(f.read())
    except Exception:  # noqa: BLE001 - a partial stream is fine to skip
        return
    sts = [results.STATUS_MAP.get(s) for s, _ in recs.values()]
    log("progress: %d records for %d tests (%d pass, %d fail, %d skip)" % (
        sum(1 for s in sts if s), total, sts.count("pass"), sts.count("fail"), sts.count("skip")))


def main(argv=None):
    args = parser().parse_args(argv)
    rc = quick_checks(args)
    if rc is not None:
        return rc
    return cloudmod.main_guard(lambda: _main(args))


def _main(args):
    t_start = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    os.makedirs(OUT_DIR, exist_ok=True)
    timings = {"venv_s": float(os.environ.get("CONFORMANCE_VENV_SECONDS", "0"))}
    profile = args.profile or ("oxstack" if not args.external_cloud else "reference")
    must_pass = results.read_must_pass() if args.must_pass else None
    if must_pass is not None and args.filter:
        # A filtered gate run proves the listed tests it selects; the others are not its business.
        rx = re.compile(args.filter)
        must_pass = [t for t in must_pass if rx.search(t)]
    from . import tempestconf

    cloud = cloudmod.make_cloud(args.external_cloud, args.external_cloud_name, args.keep_data)
    with cloud:
        cloud.start()
        timings.update(cloud.timings)
        t0 = time.monotonic()
        conf_text, info = tempestconf.generate(cloud, WORKSPACE, profile)
        prepare_workspace(conf_text)
        timings["tempest_conf_s"] = time.monotonic() - t0
        for n in info["notes"]:
            log("note: " + n)

        present = set(info["catalog"])
        if must_pass is not None:
            suites = sorted({results.suite_of(t) for t in must_pass if results.suite_of(t)})
        elif args.suites:
            suites = [results.normalize_suite(s) for s in args.suites]
        else:
            suites = [s for s in results.SUITES if present & set(tempestconf.SUITE_SERVICES[s])]
        suites = list(dict.fromkeys(suites))
        t0 = time.monotonic()
        listed = list_tests(r"^tempest\.api\.(%s)\." % "|".join(suites)) if suites else []
        if must_pass is not None:
            wanted = set(must_pass)
            listed = [t for t in listed if results.bare(t) in wanted]
        if args.filter:
            rx = re.compile(args.filter)
            listed = [t for t in listed if rx.search(t)]
        timings["list_s"] = time.monotonic() - t0
        load_list = os.path.join(OUT_DIR, "load-list.txt")
        with open(load_list, "w") as f:
            f.write("\n".join(listed) + "\n")
        subunit_path = os.path.join(OUT_DIR, "tempest.subunit")
        t0 = time.monotonic()
        timed_out = False
        if listed:
            _rc, timed_out = run_tempest(load_list, args.concurrency, args.timeout, subunit_path, len(listed))
            with open(subunit_path, "rb") as f:
                records = results.parse_subunit(f.read())
        else:
            records = {}
        timings["tempest_run_s"] = time.monotonic() - t0

    # ---- results (cloud stopped)
    tests, class_errors = results.classify(listed, records)
    if must_pass is not None:
        for b in must_pass:  # listed in must-pass.txt but unknown to this tempest
            tests.setdefault(b, ("not-run", "not found in tempest %s" % _tempest_version()))
    timings["total_s"] = time.monotonic() - t_start
    summary = {
        "started_at": started_at,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "target": "external:" + info["catalog"]["identity"] if cloud.external else "oxstack",
        "mode": "must-pass" if must_pass is not None else "suites",
        "profile": profile,
        "tempest_version": _tempest_version(),
        "concurrency": args.concurrency,
        "filter": args.filter,
        "timed_out": timed_out,
        "catalog": info["catalog"],
        "service_available": info["service_available"],
        "fixtures": {k: v for k, v in info.get("fixtures", {}).items() if k != "notes"},
        "notes": info["notes"],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "suites": results.count(tests, suites),
        "class_errors": class_errors,
        "interop": results.interop_coverage(tests, suites),
        "failures": {t: results._short(d) for t, (s, d) in sorted(tests.items()) if s == "fail"},
        "tests": {t: s for t, (s, _d) in sorted(tests.items())},
    }
    with open(os.path.join(OUT_DIR, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=False)
    with open(os.path.join(OUT_DIR, "failures.txt"), "w") as f:
        for t, (s, d) in sorted(tests.items()):
            if s == "fail":
                f.write("=" * 70 + "\n%s\n%s\n" % (t, d))
        for ce in class_errors:
            f.write("=" * 70 + "\n%s\n%s\n" % (ce["record"], ce["detail"]))
    print(results.text_table(summary))
    print("summary: %s (failures: %s, subunit: %s)" % (
        os.path.join(OUT_DIR, "summary.json"), os.path.join(OUT_DIR, "failures.txt"), subunit_path))
    if timed_out:
        print("WARNING: tempest run hit the %.0f-minute bound; unfinished tests count as not run" % args.timeout)

    if must_pass is None and not cloud.external and not args.no_docs and not args.filter:
        if results.update_doc(summary):
            print("updated the table in docs/CONFORMANCE.md")
    if args.add_passing:
        added = results.add_to_must_pass([t for t, (s, _d) in tests.items() if s == "pass"])
        print("must-pass: added %d tests to conformance/must-pass.txt" % len(added))

    if must_pass is not None:
        bad = {t: s for t, (s, _d) in tests.items() if s != "pass"}
        failed_classes = {re.sub(r"^\w+ \((.+)\)$", r"\1", c["record"]) for c in class_errors}
        for t in must_pass:
            if t.rsplit(".", 1)[0] in failed_classes and t not in bad:
                bad[t] = "class error"
        if bad:
            print("must-pass: %d of %d listed tests did not pass:" % (len(bad), len(must_pass)))
            for t, s in sorted(bad.items()):
                print("  %-8s %s" % (s, t))
            print("%d passed, %d failed" % (len(must_pass) - len(bad), len(bad)))
            return 1
        print("must-pass: all %d listed tests passed" % len(must_pass))
        print("%d passed, 0 failed" % len(must_pass))
    return 0


def _tempest_version():
    try:
        from importlib.metadata import version

        return version("tempest")
    except Exception:  # noqa: BLE001
        return "?"
