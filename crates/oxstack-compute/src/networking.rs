//! A server's ports in the networking service (nova/network/neutron.py's
//! `allocate_for_instance` / `deallocate_for_instance` and the info cache): creating or
//! binding the ports a server asked for, taking them back, and reading them into the
//! [`Vif`]s that `addresses` shows. Used by the agent (build, delete, interface attach) and
//! by the API (deleting a server that never reached a host).
//!
//! The networking service is the source of truth: ports carry the server's uuid as their
//! `device_id`, so a crash between creating a port and recording it leaves nothing that the
//! next delete does not find.

use std::collections::HashMap;

use crate::clients::{ClientError, NetworkClient, NetworkInfo, PortCreate, PortInfo};
use crate::model::{Instance, NetworkRequest, Vif};

/// Nova's `device_owner` of a server's ports.
pub fn device_owner(i: &Instance, default_zone: &str) -> String {
    format!(
        "compute:{}",
        i.availability_zone.as_deref().unwrap_or(default_zone)
    )
}

/// Looks networks up once each.
#[derive(Debug, Default)]
struct Networks(HashMap<String, Option<NetworkInfo>>);

impl Networks {
    async fn get(
        &mut self,
        net: &dyn NetworkClient,
        id: &str,
    ) -> Result<Option<NetworkInfo>, ClientError> {
        if let Some(n) = self.0.get(id) {
            return Ok(n.clone());
        }
        let n = net.network_show(id).await?;
        self.0.insert(id.to_string(), n.clone());
        Ok(n)
    }
}

fn vif_of(port: &PortInfo, network: Option<&NetworkInfo>, preserve: bool) -> Vif {
    Vif {
        port_id: port.id.clone(),
        mac_address: port.mac_address.clone(),
        network_id: port.network_id.clone(),
        network_label: network.map(|n| n.name.clone()).unwrap_or_default(),
        fixed_ips: port.fixed_ips.clone(),
        floating_ips: Vec::new(),
        preserve_on_delete: preserve,
        tag: None,
        mtu: network.and_then(|n| n.mtu),
    }
}

/// Makes the ports of `requests` for server `i` on `host`: creates one per requested
/// network, binds each requested port. On failure the ports made so far are taken back.
pub async fn allocate(
    net: &dyn NetworkClient,
    i: &Instance,
    requests: &[NetworkRequest],
    host: &str,
    default_zone: &str,
) -> Result<Vec<Vif>, ClientError> {
    let owner = device_owner(i, default_zone);
    let mut networks = Networks::default();
    let mut vifs: Vec<Vif> = Vec::new();
    for r in requests {
        let made = async {
            let (port, preserve) = match (&r.port_id, &r.network_id) {
                (Some(p), _) => (net.port_bind(p, &i.uuid, &owner, host).await?, true),
                (None, Some(n)) => {
                    let p = net
                        .port_create(&PortCreate {
                            network_id: n.clone(),
                            project_id: i.project_id.clone(),
                            device_id: i.uuid.clone(),
                            device_owner: owner.clone(),
                            host: host.to_string(),
                            fixed_ip: r.fixed_ip.clone(),
                            security_groups: r.security_groups.clone(),
                        })
                        .await?;
                    (p, false)
                }
                (None, None) => {
                    return Err(ClientError::Protocol {
                        service: "network",
                        detail: "a network request names neither a network nor a port".into(),
                    });
                }
            };
            let network = networks.get(net, &port.network_id).await?;
            let mut vif = vif_of(&port, network.as_ref(), preserve);
            vif.tag = r.tag.clone();
            Ok(vif)
        }
        .await;
        match made {
            Ok(v) => vifs.push(v),
            Err(e) => {
                release(net, &vifs).await;
                return Err(e);
            }
        }
    }
    Ok(vifs)
}

/// Takes back the given ports (best effort: used to undo a failed allocation).
async fn release(net: &dyn NetworkClient, vifs: &[Vif]) {
    for v in vifs {
        let r = if v.preserve_on_delete {
            net.port_unbind(&v.port_id).await
        } else {
            net.port_delete(&v.port_id).await
        };
        if let Err(e) = r {
            tracing::warn!(port = %v.port_id, error = %e, "could not release a port");
        }
    }
}

/// Takes back every port of server `i`: the ports compute made are deleted, those the
/// user brought are unbound and kept.
pub async fn deallocate(net: &dyn NetworkClient, i: &Instance) -> Result<(), ClientError> {
    let brought: Vec<String> = i
        .network_requests()
        .into_iter()
        .filter_map(|r| r.port_id)
        .chain(
            i.network_info
                .iter()
                .filter(|v| v.preserve_on_delete)
                .map(|v| v.port_id.clone()),
        )
        .collect();
    for p in net.ports_of_device(&i.uuid).await? {
        if brought.contains(&p.id) {
            net.port_unbind(&p.id).await?;
        } else {
            net.port_delete(&p.id).await?;
        }
    }
    Ok(())
}

/// Reads the ports of server `i` again (after an interface was attached or detached, or a
/// floating IP moved). Known ports keep their place, flags and tags; new ones follow.
pub async fn refresh(net: &dyn NetworkClient, i: &Instance) -> Result<Vec<Vif>, ClientError> {
    let ports = net.ports_of_device(&i.uuid).await?;
    let mut networks = Networks::default();
    let mut out = Vec::new();
    let known = i.network_info.iter().filter_map(|v| {
        ports
            .iter()
            .find(|p| p.id == v.port_id)
            .map(|p| (p, Some(v)))
    });
    let new = ports
        .iter()
        .filter(|p| !i.network_info.iter().any(|v| v.port_id == p.id))
        .map(|p| (p, None));
    for (port, old) in known.chain(new).collect::<Vec<_>>() {
        let network = networks.get(net, &port.network_id).await?;
        let mut vif = vif_of(port, network.as_ref(), false);
        if let Some(old) = old {
            vif.preserve_on_delete = old.preserve_on_delete;
            vif.tag = old.tag.clone();
        }
        vif.floating_ips = net.floating_ips_of_port(&port.id).await?;
        out.push(vif);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::FakeNetwork;

    fn instance(requests: &[NetworkRequest]) -> Instance {
        Instance {
            networks: serde_json::to_string(requests).unwrap_or_default(),
            ..crate::store::tests::instance("11111111-2222-3333-4444-555555555555", "p1", 1)
        }
    }

    #[tokio::test]
    async fn allocate_refresh_and_deallocate() {
        let net = FakeNetwork::default();
        net.add_network("n1", "private", "p1", false, false);
        let brought = net.add_port("n1", "p1");
        let reqs = vec![
            NetworkRequest {
                network_id: Some("n1".into()),
                tag: Some("first".into()),
                ..Default::default()
            },
            NetworkRequest {
                port_id: Some(brought.clone()),
                ..Default::default()
            },
        ];
        let mut i = instance(&reqs);
        let vifs = allocate(&net, &i, &reqs, "host1", "nova")
            .await
            .expect("allocate");
        assert_eq!(vifs.len(), 2);
        assert_eq!(vifs[0].network_label, "private");
        assert_eq!(vifs[0].tag.as_deref(), Some("first"));
        assert!(!vifs[0].preserve_on_delete && vifs[1].preserve_on_delete);
        assert_eq!(vifs[1].port_id, brought);
        for p in net.ports() {
            assert_eq!(p.device_id, i.uuid);
            assert_eq!(p.device_owner, "compute:nova");
        }
        i.network_info = vifs;
        net.associate_floating_ip(&i.network_info[0].port_id, "172.24.4.10");
        let again = refresh(&net, &i).await.expect("refresh");
        assert_eq!(again[0].floating_ips, vec!["172.24.4.10".to_string()]);
        assert_eq!(again[0].tag.as_deref(), Some("first"));
        deallocate(&net, &i).await.expect("deallocate");
        let left = net.ports();
        assert_eq!(
            left.len(),
            1,
            "the created port is deleted, the brought one kept"
        );
        assert_eq!(left[0].id, brought);
        assert!(left[0].device_id.is_empty());
    }

    #[tokio::test]
    async fn a_failed_allocation_leaves_no_port() {
        let net = FakeNetwork::default();
        net.add_network("n1", "private", "p1", false, false);
        let reqs = vec![
            NetworkRequest {
                network_id: Some("n1".into()),
                ..Default::default()
            },
            NetworkRequest {
                network_id: Some("missing".into()),
                ..Default::default()
            },
        ];
        let i = instance(&reqs);
        assert!(allocate(&net, &i, &reqs, "h", "nova").await.is_err());
        assert!(net.ports().is_empty());
    }
}
