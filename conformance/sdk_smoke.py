#!/usr/bin/env python3
"""openstacksdk smoke test: connect with the generated clouds.yaml, list the catalog, and for
each service in it create one resource, find it in a list, delete it, and see it gone.

    OS_CLIENT_CONFIG_FILE=DIR/clouds.yaml build/venv/bin/python conformance/sdk_smoke.py [--cloud oxstack]

Run by conformance/cli/run. Exits 1 if any step fails; a service type without a smoke
step is reported, not failed.
"""
import argparse
import os
import sys
import time
import uuid

import openstack

TIMEOUT_S = 120


def wait_for(fn, what, timeout=TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(1)


def smoke_identity(conn, name):
    p = conn.identity.create_project(name=name, domain_id="default", description="sdk smoke")
    assert p.name == name and p.domain_id == "default", p
    assert any(x.id == p.id for x in conn.identity.projects(domain_id="default")), "project not listed"
    conn.identity.delete_project(p)
    assert conn.identity.find_project(p.id, ignore_missing=True) is None, "project still there"
    return "project %s" % p.id


def smoke_image(conn, name):
    img = conn.image.create_image(name=name, disk_format="raw", container_format="bare",
                                  data=b"sdk-smoke" * 128, allow_duplicates=True)
    wait_for(lambda: conn.image.get_image(img.id).status == "active", "image active")
    assert any(x.id == img.id for x in conn.image.images()), "image not listed"
    conn.image.delete_image(img)
    assert conn.image.find_image(img.id, ignore_missing=True) is None, "image still there"
    return "image %s" % img.id


def smoke_compute(conn, name):
    f = conn.compute.create_flavor(name=name, ram=64, vcpus=1, disk=0)
    assert f.ram == 64 and f.vcpus == 1, f
    assert any(x.id == f.id for x in conn.compute.flavors()), "flavor not listed"
    conn.compute.delete_flavor(f)
    assert conn.compute.find_flavor(f.id, ignore_missing=True) is None, "flavor still there"
    return "flavor %s" % f.id


def smoke_network(conn, name):
    n = conn.network.create_network(name=name)
    assert n.name == name, n
    assert any(x.id == n.id for x in conn.network.networks()), "network not listed"
    conn.network.delete_network(n)
    assert conn.network.find_network(n.id, ignore_missing=True) is None, "network still there"
    return "network %s" % n.id


def smoke_volume(conn, name):
    v = conn.block_storage.create_volume(name=name, size=1)
    v = conn.block_storage.wait_for_status(v, status="available", failures=["error"], wait=TIMEOUT_S)
    assert any(x.id == v.id for x in conn.block_storage.volumes()), "volume not listed"
    conn.block_storage.delete_volume(v)
    conn.block_storage.wait_for_delete(v, wait=TIMEOUT_S)
    return "volume %s" % v.id


def smoke_object_store(conn, name):
    c = conn.object_store.create_container(name=name)
    conn.object_store.upload_object(container=name, name="hello.txt", data=b"hello")
    assert conn.object_store.download_object("hello.txt", container=name) == b"hello", "object content"
    assert any(x.name == name for x in conn.object_store.containers()), "container not listed"
    conn.object_store.delete_object("hello.txt", container=name)
    conn.object_store.delete_container(c)
    assert not any(x.name == name for x in conn.object_store.containers()), "container still there"
    return "container %s" % name


def smoke_placement(conn, name):
    rp = conn.placement.create_resource_provider(name=name)
    assert any(x.id == rp.id for x in conn.placement.resource_providers()), "resource provider not listed"
    conn.placement.delete_resource_provider(rp)
    assert not any(x.id == rp.id for x in conn.placement.resource_providers()), "resource provider still there"
    return "resource provider %s" % rp.id


SMOKES = {
    "identity": smoke_identity,
    "image": smoke_image,
    "compute": smoke_compute,
    "network": smoke_network,
    "block-storage": smoke_volume,
    "volumev3": smoke_volume,
    "object-store": smoke_object_store,
    "placement": smoke_placement,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cloud", default=os.environ.get("CONFORMANCE_CLOUD_NAME", "oxstack"))
    args = ap.parse_args()
    if not os.environ.get("OS_CLIENT_CONFIG_FILE"):
        sys.exit("sdk_smoke: set OS_CLIENT_CONFIG_FILE to the cloud's clouds.yaml")
    failures = 0
    conn = openstack.connect(cloud=args.cloud)
    try:
        access = conn.session.auth.get_access(conn.session)
        catalog = access.service_catalog.catalog
        types = sorted({s["type"] for s in catalog})
        print("ok    connect: token for user %s, catalog: %s" % (access.user_id, ", ".join(types)))
    except Exception as e:  # noqa: BLE001
        print("FAIL  connect / catalog: %s: %s" % (type(e).__name__, e))
        return 1
    done = set()
    for stype in types:
        fn = SMOKES.get(stype)
        if fn is None:
            print("skip  %s: no smoke step" % stype)
            continue
        if fn in done:  # block-storage and volumev3 are the same service
            continue
        done.add(fn)
        name = "sdk-smoke-%s-%s" % (stype, uuid.uuid4().hex[:8])
        try:
            what = fn(conn, name)
            print("ok    %s: created, listed and deleted %s" % (stype, what))
        except Exception as e:  # noqa: BLE001 - report every service
            failures += 1
            print("FAIL  %s: %s: %s" % (stype, type(e).__name__, str(e)[:500]))
    conn.close()
    print("sdk_smoke: %d services, %d failed" % (len(done), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
