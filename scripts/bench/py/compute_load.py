#!/usr/bin/env python3
"""Load generator of scripts/bench/compute: server creates through the Nova API.

    compute_load.py create N CONC      creates N servers (CONC threads, one keep-alive
                                       connection each), then waits until all servers of
                                       the project are ACTIVE; prints one JSON line
    compute_load.py list CALLS         times CALLS x GET /servers/detail?$LIST_QUERY (default
                                       limit=1000) one after another; prints one JSON line

Environment: NOVA (http://host:port/v2.1), TOKEN, IMAGE, FLAVOR.
Only the standard library (http.client + threads): the client shares the machine's cores with
the server, so it stays small. Creates use microversion 2.37 with `"networks": "none"`, so
no networking service is involved.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

NOVA = urllib.parse.urlsplit(os.environ["NOVA"])
HEADERS = {
    "X-Auth-Token": os.environ["TOKEN"],
    "Content-Type": "application/json",
    "Accept": "application/json",
    "X-OpenStack-Nova-API-Version": "2.37",
}


def conn():
    return http.client.HTTPConnection(NOVA.hostname, NOVA.port, timeout=300)


def call(c, method, path, body=None):
    c.request(method, NOVA.path + path, body=body, headers=HEADERS)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def count_status(c):
    """(ACTIVE, ERROR, total) servers of the project, paging by 1000."""
    active = error = total = 0
    marker = None
    while True:
        q = "limit=1000" + (f"&marker={marker}" if marker else "")
        st, data = call(c, "GET", "/servers/detail?" + q)
        if st != 200:
            raise SystemExit(f"list: {st} {data[:200]!r}")
        servers = json.loads(data)["servers"]
        for s in servers:
            total += 1
            if s["status"] == "ACTIVE":
                active += 1
            elif s["status"] == "ERROR":
                error += 1
        if len(servers) < 1000:
            return active, error, total
        marker = servers[-1]["id"]


def create(n, conc):
    image, flavor = os.environ["IMAGE"], os.environ["FLAVOR"]
    lock = threading.Lock()
    next_i = [0]
    lat = []
    failures = []
    prefix = os.environ.get("PREFIX", "bench")

    def worker():
        c = conn()
        while True:
            with lock:
                i = next_i[0]
                if i >= n:
                    return
                next_i[0] += 1
            body = json.dumps({"server": {"name": f"{prefix}-{i}", "imageRef": image,
                                          "flavorRef": flavor, "networks": "none"}})
            t0 = time.monotonic()
            try:
                st, data = call(c, "POST", "/servers", body)
            except (OSError, http.client.HTTPException) as e:
                c.close()
                c = conn()
                st, data = 0, str(e).encode()
            t1 = time.monotonic()
            with lock:
                if st == 202:
                    lat.append(t1 - t0)
                else:
                    failures.append(f"{st} {data[:200]!r}")

    _, _, before = count_status(conn())
    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = time.monotonic()
    # Poll until no server of the project is building. `status=BUILD` is filtered in SQL, so
    # a poll reads only the servers still building and costs the server little.
    c = conn()
    polls = 0
    while True:
        st, data = call(c, "GET", "/servers?status=BUILD&limit=1000")
        if st != 200:
            raise SystemExit(f"list: {st} {data[:200]!r}")
        polls += 1
        if not json.loads(data)["servers"]:
            break
        if time.monotonic() - posted > 1800:
            raise SystemExit("timeout: servers still building after 30 min")
        time.sleep(0.1)
    done = time.monotonic()
    active, error, total = count_status(c)
    lat.sort()
    print(json.dumps({
        "created": len(lat), "failed": len(failures), "first_failures": failures[:3],
        "error_servers": error, "active": active, "total": total,
        "posts_s": round(posted - start, 3), "to_active_s": round(done - start, 3),
        "servers_per_s": round(len(lat) / (done - start), 1),
        "posts_per_s": round(len(lat) / (posted - start), 1),
        "create_p50_ms": round(pct(lat, 50) * 1000, 1), "create_p99_ms": round(pct(lat, 99) * 1000, 1),
        "create_max_ms": round(lat[-1] * 1000, 1), "status_polls": polls,
    }))


def list_detail(calls):
    query = os.environ.get("LIST_QUERY", "limit=1000")
    c = conn()
    lat = []
    n = 0
    for _ in range(calls):
        t0 = time.monotonic()
        st, data = call(c, "GET", "/servers/detail?" + query)
        t1 = time.monotonic()
        if st != 200:
            raise SystemExit(f"list: {st} {data[:200]!r}")
        n = len(json.loads(data)["servers"])
        lat.append(t1 - t0)
    s = sorted(lat)
    print(json.dumps({
        "calls": calls, "servers": n, "bytes": len(data),
        "p50_ms": round(pct(s, 50) * 1000, 1), "p99_ms": round(pct(s, 99) * 1000, 1),
        "min_ms": round(s[0] * 1000, 1), "max_ms": round(s[-1] * 1000, 1),
    }))


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "list":
        list_detail(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
