"""Ask the cloud itself: issue a token, read the service catalog, discover API versions."""
import re
from urllib.parse import urlsplit, urlunsplit

import requests

TIMEOUT = 15


class Access:
    def __init__(self, token, body, interface, region):
        self.token = token
        self.body = body["token"]
        self.interface = interface
        self.region = region

    @property
    def project_id(self):
        return (self.body.get("project") or {}).get("id")

    @property
    def user_id(self):
        return self.body["user"]["id"]

    def services(self):
        """service type -> {'name':..., 'url':..., 'region':...} for our interface/region."""
        out = {}
        for svc in self.body.get("catalog", []):
            eps = [e for e in svc.get("endpoints", []) if e.get("interface") == self.interface]
            if self.region:
                eps = [e for e in eps if (e.get("region_id") or e.get("region")) == self.region] or eps
            if eps:
                out[svc["type"]] = {"name": svc.get("name"), "url": eps[0]["url"],
                                    "region": eps[0].get("region_id") or eps[0].get("region")}
        return out


def v3_url(auth_url):
    u = auth_url.rstrip("/")
    return u if re.search(r"/v3$", u) else u + "/v3"


def issue_token(cloud_cfg):
    """POST /v3/auth/tokens with the password of a clouds.yaml entry (project or system scope)."""
    auth = cloud_cfg["auth"]
    user = {"name": auth["username"], "password": auth["password"],
            "domain": {"name": auth.get("user_domain_name", "Default")}}
    if auth.get("user_domain_id"):
        user["domain"] = {"id": auth["user_domain_id"]}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    if auth.get("system_scope"):
        body["auth"]["scope"] = {"system": {"all": True}}
    elif auth.get("project_name") or auth.get("project_id"):
        proj = {"id": auth["project_id"]} if auth.get("project_id") else {
            "name": auth["project_name"], "domain": {"name": auth.get("project_domain_name", "Default")}}
        body["auth"]["scope"] = {"project": proj}
    r = requests.post(v3_url(auth["auth_url"]) + "/auth/tokens", json=body, timeout=TIMEOUT)
    if r.status_code != 201:
        raise RuntimeError("token issue at %s failed: HTTP %s %s" % (auth["auth_url"], r.status_code, r.text[:300]))
    return Access(r.headers["X-Subject-Token"], r.json(), cloud_cfg.get("interface", "public"),
                  cloud_cfg.get("region_name"))


def _get_json(url, token):
    try:
        r = requests.get(url, headers={"X-Auth-Token": token, "Accept": "application/json"}, timeout=TIMEOUT)
    except requests.RequestException:
        return None
    if r.status_code not in (200, 300):
        return None
    try:
        return r.json()
    except ValueError:
        return None


def _root(url):
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/", "", ""))


def discover_version(url, token, major):
    """(min_version, max_version) of the API `major` ('2.1', '3', '1') served at url, or None.

    Tries the versioned endpoint itself ({"version": {...}}) and then the root version
    list ({"versions": [...]} or {"versions": {"values": [...]}})."""
    for candidate in (url, _root(url)):
        doc = _get_json(candidate, token)
        if not doc:
            continue
        if isinstance(doc.get("version"), dict):
            v = doc["version"]
            mx = v.get("version") or v.get("max_version")
            if mx:
                return v.get("min_version") or None, mx
        versions = doc.get("versions")
        if isinstance(versions, dict):
            versions = versions.get("values")
        for v in versions or []:
            vid = str(v.get("id", "")).lstrip("v")
            if vid == major or vid.split(".")[0] == major.split(".")[0]:
                mx = v.get("version") or v.get("max_version")
                if mx:
                    return v.get("min_version") or None, mx
    return None


def list_extensions(url, token, path):
    """Aliases from GET <url>/<path> ({"extensions": [{"alias": ...}]}), or None."""
    doc = _get_json(url.rstrip("/") + "/" + path.lstrip("/"), token)
    if not doc or "extensions" not in doc:
        return None
    return sorted({e.get("alias") for e in doc["extensions"] if e.get("alias")})
