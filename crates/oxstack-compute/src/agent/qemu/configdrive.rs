//! The config drive: an ISO 9660 image labelled `config-2` with the OpenStack metadata as
//! Nova writes it (nova/api/metadata/base.py), read by cloud-init and the test guest.
//! [`files`] builds the tree (pure, tested); [`write`] runs genisoimage or xorriso.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::agent::InstanceSpec;

/// The volume label cloud-init looks for.
pub const LABEL: &str = "config-2";

/// `network_data.json` (nova/virt/netutils.py `get_network_metadata`): a link per port and
/// a network per fixed IP.
// TODO-correctness: static addressing (`ipv4` with netmask and routes) and DNS services need
// the subnets' details; until the data plane serves DHCP to guests every address is
// described as DHCP-configured.
fn network_data(spec: &InstanceSpec) -> Value {
    let mut links = Vec::new();
    let mut networks = Vec::new();
    for v in &spec.vifs {
        let link = format!("tap{}", &v.port_id[..v.port_id.len().min(11)]);
        links.push(json!({
            "id": link,
            "vif_id": v.port_id,
            "type": "bridge",
            "mtu": v.mtu,
            "ethernet_mac_address": v.mac_address,
        }));
        for ip in &v.fixed_ips {
            let kind = if ip.ip_address.contains(':') {
                "ipv6_dhcp"
            } else {
                "ipv4_dhcp"
            };
            networks.push(json!({
                "id": format!("network{}", networks.len()),
                "type": kind,
                "link": link,
                "network_id": v.network_id,
            }));
        }
    }
    json!({"links": links, "networks": networks, "services": []})
}

/// The files of the drive: relative path → contents.
pub fn files(spec: &InstanceSpec) -> BTreeMap<String, Vec<u8>> {
    let mut public_keys = serde_json::Map::new();
    let mut keys = Vec::new();
    if let Some(k) = &spec.key_data {
        let name = spec.key_name.clone().unwrap_or_else(|| "key".into());
        public_keys.insert(name.clone(), json!(k));
        keys.push(json!({"name": name, "type": "ssh", "data": k}));
    }
    let az = spec
        .availability_zone
        .clone()
        .unwrap_or_else(|| "nova".into());
    let mut meta = json!({
        "uuid": spec.uuid,
        "name": spec.display_name,
        "hostname": spec.hostname,
        "launch_index": 0,
        "availability_zone": az,
        "project_id": spec.project_id,
        "meta": spec.metadata,
        "public_keys": public_keys,
        "keys": keys,
        "devices": [],
        "random_seed": random_seed(),
    });
    if public_keys_empty(&meta)
        && let Some(o) = meta.as_object_mut()
    {
        o.remove("public_keys");
    }
    let network = network_data(spec);
    let ec2 = json!({
        "instance-id": format!("i-{}", &spec.uuid.replace('-', "")[..8.min(spec.uuid.len())]),
        "hostname": spec.hostname,
        "local-hostname": spec.hostname,
        "placement": {"availability-zone": az},
        "public-keys": spec.key_data.as_ref().map(|k| json!({"0": {"openssh-key": k}})).unwrap_or(json!({})),
        "ami-launch-index": 0,
        "reservation-id": spec.reservation_id,
    });
    let pretty = |v: &Value| v.to_string().into_bytes();
    let mut out = BTreeMap::new();
    for version in ["latest", "2012-08-10"] {
        let base = format!("openstack/{version}");
        out.insert(format!("{base}/meta_data.json"), pretty(&meta));
        out.insert(format!("{base}/network_data.json"), pretty(&network));
        out.insert(format!("{base}/vendor_data.json"), b"{}".to_vec());
        out.insert(format!("{base}/vendor_data2.json"), b"{}".to_vec());
        if let Some(u) = &spec.user_data {
            out.insert(format!("{base}/user_data"), user_data_bytes(u));
        }
    }
    out.insert("ec2/latest/meta-data.json".into(), pretty(&ec2));
    if let Some(u) = &spec.user_data {
        out.insert("ec2/latest/user-data".into(), user_data_bytes(u));
    }
    out
}

fn public_keys_empty(meta: &Value) -> bool {
    meta["public_keys"]
        .as_object()
        .is_some_and(|m| m.is_empty())
}

/// User data arrives base64-encoded (as the API takes it); the drive holds the raw bytes.
fn user_data_bytes(u: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(u.trim())
        .unwrap_or_else(|_| u.as_bytes().to_vec())
}

fn random_seed() -> String {
    use base64::Engine;
    let seed: [u8; 64] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(seed)
}

/// The ISO tool to use: genisoimage, else xorriso (as `xorriso -as mkisofs`).
pub fn iso_tool() -> Option<(PathBuf, Vec<&'static str>)> {
    for (name, pre) in [("genisoimage", vec![]), ("xorriso", vec!["-as", "mkisofs"])] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some((p, pre));
            }
        }
    }
    None
}

/// Writes the drive for `spec` to `iso` (blocking: run it off the async runtime).
pub fn write(spec: &InstanceSpec, iso: &Path) -> Result<(), String> {
    let (tool, pre) = iso_tool().ok_or("neither genisoimage nor xorriso is installed")?;
    let tree = iso.with_extension("tree");
    let _ = std::fs::remove_dir_all(&tree);
    for (rel, data) in files(spec) {
        let p = tree.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&p, data).map_err(|e| e.to_string())?;
    }
    let out = std::process::Command::new(&tool)
        .args(pre)
        .args(["-o"])
        .arg(iso)
        .args(["-ldots", "-allow-lowercase", "-allow-multidot", "-l"])
        .args(["-publisher", "oxstack", "-quiet", "-J", "-r", "-V", LABEL])
        .arg(&tree)
        .output()
        .map_err(|e| format!("{}: {e}", tool.display()))?;
    let _ = std::fs::remove_dir_all(&tree);
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            tool.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::qemu::tests::spec;

    #[test]
    fn carries_the_openstack_and_ec2_metadata() {
        let mut s = spec();
        s.key_data = Some("ssh-ed25519 AAAA test".into());
        s.key_name = Some("k1".into());
        s.user_data = Some("I2Nsb3VkLWNvbmZpZwo=".into());
        s.metadata.insert("role".into(), "web".into());
        s.vifs = vec![crate::model::Vif {
            port_id: "0c1d2e3f-4a5b-6c7d-8e9f-001122334455".into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            network_id: "n1".into(),
            fixed_ips: vec![crate::clients::FixedIp {
                subnet_id: "s1".into(),
                ip_address: "10.0.0.5".into(),
            }],
            mtu: Some(1450),
            ..Default::default()
        }];
        let f = files(&s);
        let net: Value =
            serde_json::from_slice(&f["openstack/latest/network_data.json"]).expect("json");
        assert_eq!(net["links"][0]["id"], "tap0c1d2e3f-4a");
        assert_eq!(net["links"][0]["ethernet_mac_address"], "fa:16:3e:00:00:01");
        assert_eq!(net["links"][0]["mtu"], 1450);
        assert_eq!(net["networks"][0]["link"], "tap0c1d2e3f-4a");
        assert_eq!(net["networks"][0]["type"], "ipv4_dhcp");
        let meta: Value =
            serde_json::from_slice(&f["openstack/latest/meta_data.json"]).expect("json");
        assert_eq!(meta["uuid"], s.uuid.as_str());
        assert_eq!(meta["hostname"], "vm-1");
        assert_eq!(meta["name"], "vm 1");
        assert_eq!(meta["project_id"], "p1");
        assert_eq!(meta["availability_zone"], "nova");
        assert_eq!(meta["public_keys"]["k1"], "ssh-ed25519 AAAA test");
        assert_eq!(meta["meta"]["role"], "web");
        assert_eq!(f["openstack/latest/user_data"], b"#cloud-config\n");
        assert!(f.contains_key("openstack/latest/network_data.json"));
        assert!(f.contains_key("openstack/latest/vendor_data.json"));
        let ec2: Value = serde_json::from_slice(&f["ec2/latest/meta-data.json"]).expect("json");
        assert_eq!(ec2["hostname"], "vm-1");
        assert_eq!(
            ec2["public-keys"]["0"]["openssh-key"],
            "ssh-ed25519 AAAA test"
        );
    }

    #[test]
    fn no_keys_no_user_data() {
        let f = files(&spec());
        let meta: Value =
            serde_json::from_slice(&f["openstack/latest/meta_data.json"]).expect("json");
        assert!(meta.get("public_keys").is_none());
        assert!(!f.contains_key("openstack/latest/user_data"));
    }

    #[test]
    fn writes_an_iso_labelled_config_2() {
        if iso_tool().is_none() {
            eprintln!("skipped: no genisoimage/xorriso");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let iso = dir.path().join("disk.config");
        write(&spec(), &iso).expect("write");
        let bytes = std::fs::read(&iso).expect("read");
        // The primary volume descriptor at sector 16: "CD001", the volume id at offset 40.
        assert_eq!(&bytes[32769..32774], b"CD001");
        assert_eq!(&bytes[32808..32816], b"config-2");
    }
}
