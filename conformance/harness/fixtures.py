"""Resources Tempest's API tests expect to exist, created through openstacksdk.

Best effort: a service that cannot yet create them leaves the option unset (the
affected tests then fail or skip) and a note in summary.json. Idempotent by name,
so running against an external cloud twice does not pile up resources.
"""
import os

from .bootstrap import log

FLAVORS = (("conformance.tiny", 1, 128, 1), ("conformance.small", 1, 192, 2))
IMAGES = ("conformance-image", "conformance-image-alt")
PUBLIC_NET = "public"
PUBLIC_CIDR = "172.24.4.0/24"
RESELLER_ROLE = "ResellerAdmin"


def _connect(cloud):
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud.clouds_yaml
    return openstack.connect(cloud=cloud.cloud_name)


def _try(notes, what, fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - any failure here is reported, not fatal
        msg = "%s: %s: %s" % (what, type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")
        log("fixture " + msg)
        notes.append(msg)
        return None


def _image(conn, name):
    found = list(conn.image.images(name=name))
    if found:
        return found[0].id
    # 1 MiB of zeros as a raw disk: enough for API tests (no guest ever runs code from it)
    img = conn.image.create_image(name=name, disk_format="raw", container_format="bare",
                                  visibility="public", data=b"\0" * (1 << 20), allow_duplicates=True)
    return img.id


def _flavor(conn, name, vcpus, ram, disk):
    f = conn.compute.find_flavor(name, ignore_missing=True)
    if f:
        return f.id
    return conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk).id


def _public_network(conn):
    net = conn.network.find_network(PUBLIC_NET, ignore_missing=True)
    if net is None:
        net = conn.network.create_network(name=PUBLIC_NET, is_router_external=True, is_shared=False)
    if not list(conn.network.subnets(network_id=net.id)):
        conn.network.create_subnet(name=PUBLIC_NET + "-subnet", network_id=net.id, ip_version=4,
                                   cidr=PUBLIC_CIDR, gateway_ip="172.24.4.1", is_dhcp_enabled=False)
    return net.id


def _role(conn, name):
    if conn.identity.find_role(name, ignore_missing=True) is None:
        conn.identity.create_role(name=name)
    return name


def provision(cloud, services):
    notes = []
    out = {"notes": notes}
    conn = _try(notes, "connect", lambda: _connect(cloud))
    if conn is None:
        return out
    if "object-store" in services:
        _try(notes, "role " + RESELLER_ROLE, lambda: _role(conn, RESELLER_ROLE))
    if "image" in services and "compute" in services:
        ids = [_try(notes, "image " + n, lambda n=n: _image(conn, n)) for n in IMAGES]
        out["image_ref"], out["image_ref_alt"] = ids[0], ids[1] or ids[0]
    if "compute" in services:
        ids = [_try(notes, "flavor " + f[0], lambda f=f: _flavor(conn, *f)) for f in FLAVORS]
        out["flavor_ref"], out["flavor_ref_alt"] = ids[0], ids[1]
    if "network" in services:
        out["public_network_id"] = _try(notes, "public network", lambda: _public_network(conn))
        out["public_network_name"] = PUBLIC_NET
    conn.close()
    return out
