//! The networking service (Neutron v2.0), as compute uses it: the API validates requested
//! networks, ports and security groups with the user's token (the user must be able to see
//! them); the agent creates, binds, unbinds and deletes the ports of its servers with a
//! service token, as nova-compute does with its `[neutron]` credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ClientError, Http, ServiceTokenSource};

/// What compute needs to know of a network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub shared: bool,
    pub external: bool,
    pub mtu: Option<i64>,
}

/// One fixed IP of a port.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// What compute needs to know of a port.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PortInfo {
    pub id: String,
    pub network_id: String,
    pub project_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub security_groups: Vec<String>,
    pub status: String,
}

/// A security group, with its rules as the networking service renders them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub rules: Vec<Value>,
}

/// A port compute asks for on behalf of a server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PortCreate {
    pub network_id: String,
    pub project_id: String,
    pub device_id: String,
    pub device_owner: String,
    pub host: String,
    /// A requested address (else the network's IPAM picks one).
    pub fixed_ip: Option<String>,
    /// Security group ids (`None`: the project's default group).
    pub security_groups: Option<Vec<String>>,
}

/// The networking service, as compute uses it.
#[async_trait]
pub trait NetworkClient: Send + Sync + std::fmt::Debug {
    /// The network `id` as the token's user sees it.
    async fn network_get(&self, token: &str, id: &str) -> Result<Option<NetworkInfo>, ClientError>;
    /// Every network the token's user sees.
    async fn network_list(&self, token: &str) -> Result<Vec<NetworkInfo>, ClientError>;
    /// The port `id` as the token's user sees it.
    async fn port_get(&self, token: &str, id: &str) -> Result<Option<PortInfo>, ClientError>;
    /// The id of the security group `name_or_id` of `project_id`, as the token's user sees
    /// it.
    async fn security_group_find(
        &self,
        token: &str,
        project_id: &str,
        name_or_id: &str,
    ) -> Result<Option<String>, ClientError>;

    /// One Neutron call with the user's token, for Nova's proxy APIs (os-security-groups,
    /// os-floating-ips, os-networks): the status and the JSON body. `path` carries its
    /// query; the ids in it must already be checked with [`path_safe`].
    async fn neutron(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let _ = (token, method, path, body);
        Err(ClientError::Protocol {
            service: "network",
            detail: "this networking client has no proxy calls".into(),
        })
    }

    // With the service token:

    /// The network `id`, whoever owns it.
    async fn network_show(&self, id: &str) -> Result<Option<NetworkInfo>, ClientError>;
    async fn port_create(&self, p: &PortCreate) -> Result<PortInfo, ClientError>;
    /// Gives an existing port to a server on `host`.
    async fn port_bind(
        &self,
        id: &str,
        device_id: &str,
        device_owner: &str,
        host: &str,
    ) -> Result<PortInfo, ClientError>;
    /// Takes a port back from its server (it stays, unbound).
    async fn port_unbind(&self, id: &str) -> Result<(), ClientError>;
    /// Deletes a port (no error when it is gone).
    async fn port_delete(&self, id: &str) -> Result<(), ClientError>;
    /// The ports whose `device_id` is `device_id`.
    async fn ports_of_device(&self, device_id: &str) -> Result<Vec<PortInfo>, ClientError>;
    /// Replaces the security groups of a port.
    async fn port_set_security_groups(
        &self,
        id: &str,
        groups: &[String],
    ) -> Result<(), ClientError>;
    /// The floating IP addresses associated with `port_id`.
    async fn floating_ips_of_port(&self, port_id: &str) -> Result<Vec<String>, ClientError>;
    /// The security group `id`, whoever owns it.
    async fn security_group_show(&self, id: &str)
    -> Result<Option<SecurityGroupInfo>, ClientError>;
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn network_info(v: &Value) -> NetworkInfo {
    NetworkInfo {
        id: s(v, "id"),
        name: s(v, "name"),
        project_id: s(v, "project_id"),
        shared: v.get("shared").and_then(Value::as_bool).unwrap_or(false),
        external: v
            .get("router:external")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        mtu: v.get("mtu").and_then(Value::as_i64),
    }
}

fn port_info(v: &Value) -> PortInfo {
    let strings = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    PortInfo {
        id: s(v, "id"),
        network_id: s(v, "network_id"),
        project_id: s(v, "project_id"),
        mac_address: s(v, "mac_address"),
        fixed_ips: v
            .get("fixed_ips")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|f| FixedIp {
                        subnet_id: s(f, "subnet_id"),
                        ip_address: s(f, "ip_address"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        device_id: s(v, "device_id"),
        device_owner: s(v, "device_owner"),
        security_groups: strings("security_groups"),
        status: s(v, "status"),
    }
}

/// Only ids made of these characters go into a URL path.
pub fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A query parameter value, percent-encoded.
pub fn query_value(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Neutron over HTTP.
#[derive(Debug, Clone)]
pub struct HttpNetworkClient {
    http: Http,
    tokens: Arc<dyn ServiceTokenSource>,
}

impl HttpNetworkClient {
    pub fn new(base_url: &str, tokens: Arc<dyn ServiceTokenSource>) -> Self {
        Self {
            http: Http::new(base_url, "network"),
            tokens,
        }
    }

    async fn as_user(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        self.http
            .send(method, path, &[("x-auth-token", token)], body)
            .await
    }

    async fn as_service(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let token = self.tokens.token().await?;
        self.as_user(&token, method, path, body).await
    }

    fn expect(&self, st: StatusCode, want: StatusCode, v: Value) -> Result<Value, ClientError> {
        if st == want {
            Ok(v)
        } else {
            Err(self.http.fail(st, &v))
        }
    }

    fn one(&self, st: StatusCode, v: &Value, key: &str) -> Result<Option<Value>, ClientError> {
        match st {
            StatusCode::OK => Ok(v.get(key).cloned()),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(self.http.fail(s, v)),
        }
    }
}

#[async_trait]
impl NetworkClient for HttpNetworkClient {
    async fn neutron(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let (st, v) = self.as_user(token, method, path, body).await?;
        Ok((st.as_u16(), v))
    }

    async fn network_get(&self, token: &str, id: &str) -> Result<Option<NetworkInfo>, ClientError> {
        if !path_safe(id) {
            return Ok(None);
        }
        let (st, v) = self
            .as_user(token, Method::GET, &format!("/v2.0/networks/{id}"), None)
            .await?;
        Ok(self.one(st, &v, "network")?.as_ref().map(network_info))
    }

    async fn network_list(&self, token: &str) -> Result<Vec<NetworkInfo>, ClientError> {
        let (st, v) = self
            .as_user(token, Method::GET, "/v2.0/networks", None)
            .await?;
        let v = self.expect(st, StatusCode::OK, v)?;
        Ok(v["networks"]
            .as_array()
            .map(|a| a.iter().map(network_info).collect())
            .unwrap_or_default())
    }

    async fn port_get(&self, token: &str, id: &str) -> Result<Option<PortInfo>, ClientError> {
        if !path_safe(id) {
            return Ok(None);
        }
        let (st, v) = self
            .as_user(token, Method::GET, &format!("/v2.0/ports/{id}"), None)
            .await?;
        Ok(self.one(st, &v, "port")?.as_ref().map(port_info))
    }

    async fn security_group_find(
        &self,
        token: &str,
        project_id: &str,
        name_or_id: &str,
    ) -> Result<Option<String>, ClientError> {
        if path_safe(name_or_id) {
            let (st, v) = self
                .as_user(
                    token,
                    Method::GET,
                    &format!("/v2.0/security-groups/{name_or_id}"),
                    None,
                )
                .await?;
            if let Some(g) = self.one(st, &v, "security_group")? {
                return Ok(Some(s(&g, "id")));
            }
        }
        // The project's own group of that name (an admin's list holds every project's).
        let (st, v) = self
            .as_user(
                token,
                Method::GET,
                &format!(
                    "/v2.0/security-groups?name={}&project_id={}",
                    query_value(name_or_id),
                    query_value(project_id)
                ),
                None,
            )
            .await?;
        let v = self.expect(st, StatusCode::OK, v)?;
        Ok(v["security_groups"]
            .as_array()
            .and_then(|a| a.first())
            .map(|g| s(g, "id")))
    }

    async fn network_show(&self, id: &str) -> Result<Option<NetworkInfo>, ClientError> {
        if !path_safe(id) {
            return Ok(None);
        }
        let (st, v) = self
            .as_service(Method::GET, &format!("/v2.0/networks/{id}"), None)
            .await?;
        Ok(self.one(st, &v, "network")?.as_ref().map(network_info))
    }

    async fn port_create(&self, p: &PortCreate) -> Result<PortInfo, ClientError> {
        let mut port = json!({
            "network_id": p.network_id,
            "project_id": p.project_id,
            "device_id": p.device_id,
            "device_owner": p.device_owner,
            "binding:host_id": p.host,
        });
        if let Some(ip) = &p.fixed_ip {
            port["fixed_ips"] = json!([{"ip_address": ip}]);
        }
        if let Some(g) = &p.security_groups {
            port["security_groups"] = json!(g);
        }
        let (st, v) = self
            .as_service(Method::POST, "/v2.0/ports", Some(&json!({"port": port})))
            .await?;
        let v = self.expect(st, StatusCode::CREATED, v)?;
        Ok(port_info(&v["port"]))
    }

    async fn port_bind(
        &self,
        id: &str,
        device_id: &str,
        device_owner: &str,
        host: &str,
    ) -> Result<PortInfo, ClientError> {
        let body = json!({"port": {
            "device_id": device_id,
            "device_owner": device_owner,
            "binding:host_id": host,
        }});
        let (st, v) = self
            .as_service(Method::PUT, &format!("/v2.0/ports/{id}"), Some(&body))
            .await?;
        let v = self.expect(st, StatusCode::OK, v)?;
        Ok(port_info(&v["port"]))
    }

    async fn port_unbind(&self, id: &str) -> Result<(), ClientError> {
        let body = json!({"port": {"device_id": "", "device_owner": "", "binding:host_id": ""}});
        let (st, v) = self
            .as_service(Method::PUT, &format!("/v2.0/ports/{id}"), Some(&body))
            .await?;
        match st {
            StatusCode::OK | StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn port_delete(&self, id: &str) -> Result<(), ClientError> {
        if !path_safe(id) {
            return Ok(());
        }
        let (st, v) = self
            .as_service(Method::DELETE, &format!("/v2.0/ports/{id}"), None)
            .await?;
        match st {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn ports_of_device(&self, device_id: &str) -> Result<Vec<PortInfo>, ClientError> {
        let (st, v) = self
            .as_service(
                Method::GET,
                &format!("/v2.0/ports?device_id={}", query_value(device_id)),
                None,
            )
            .await?;
        let v = self.expect(st, StatusCode::OK, v)?;
        Ok(v["ports"]
            .as_array()
            .map(|a| a.iter().map(port_info).collect())
            .unwrap_or_default())
    }

    async fn port_set_security_groups(
        &self,
        id: &str,
        groups: &[String],
    ) -> Result<(), ClientError> {
        let body = json!({"port": {"security_groups": groups}});
        let (st, v) = self
            .as_service(Method::PUT, &format!("/v2.0/ports/{id}"), Some(&body))
            .await?;
        self.expect(st, StatusCode::OK, v).map(|_| ())
    }

    async fn floating_ips_of_port(&self, port_id: &str) -> Result<Vec<String>, ClientError> {
        let (st, v) = self
            .as_service(
                Method::GET,
                &format!("/v2.0/floatingips?port_id={}", query_value(port_id)),
                None,
            )
            .await?;
        let v = self.expect(st, StatusCode::OK, v)?;
        Ok(v["floatingips"]
            .as_array()
            .map(|a| a.iter().map(|f| s(f, "floating_ip_address")).collect())
            .unwrap_or_default())
    }

    async fn security_group_show(
        &self,
        id: &str,
    ) -> Result<Option<SecurityGroupInfo>, ClientError> {
        if !path_safe(id) {
            return Ok(None);
        }
        let (st, v) = self
            .as_service(Method::GET, &format!("/v2.0/security-groups/{id}"), None)
            .await?;
        Ok(self
            .one(st, &v, "security_group")?
            .map(|g| SecurityGroupInfo {
                id: s(&g, "id"),
                name: s(&g, "name"),
                description: s(&g, "description"),
                project_id: s(&g, "project_id"),
                rules: g["security_group_rules"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            }))
    }
}

/// An in-memory networking service for tests: every network, port and group is visible to
/// every token; addresses come from `10.0.0.0/24` in creation order.
#[derive(Debug, Default)]
pub struct FakeNetwork {
    state: Mutex<FakeNetState>,
}

#[derive(Debug, Default)]
struct FakeNetState {
    networks: HashMap<String, NetworkInfo>,
    ports: Vec<PortInfo>,
    /// (id, project, name)
    groups: Vec<(String, String, String)>,
    floating: HashMap<String, Vec<String>>,
    next: u32,
    fail_port_creates: bool,
}

impl FakeNetwork {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeNetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_network(
        &self,
        id: &str,
        name: &str,
        project_id: &str,
        shared: bool,
        external: bool,
    ) {
        self.lock().networks.insert(
            id.into(),
            NetworkInfo {
                id: id.into(),
                name: name.into(),
                project_id: project_id.into(),
                shared,
                external,
                mtu: Some(1500),
            },
        );
    }

    /// A free port on `network_id`; returns its id.
    pub fn add_port(&self, network_id: &str, project_id: &str) -> String {
        let mut st = self.lock();
        let port = st.new_port(network_id, project_id, None);
        let id = port.id.clone();
        st.ports.push(port);
        id
    }

    /// A security group; returns its id.
    pub fn add_security_group(&self, project_id: &str, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.lock()
            .groups
            .push((id.clone(), project_id.into(), name.into()));
        id
    }

    pub fn associate_floating_ip(&self, port_id: &str, address: &str) {
        self.lock()
            .floating
            .entry(port_id.into())
            .or_default()
            .push(address.into());
    }

    /// Makes every port create fail (or not).
    pub fn fail_port_creates(&self, fail: bool) {
        self.lock().fail_port_creates = fail;
    }

    pub fn ports(&self) -> Vec<PortInfo> {
        self.lock().ports.clone()
    }

    /// The ports bound to server (device) `device_id`.
    pub fn ports_of(&self, device_id: &str) -> Vec<PortInfo> {
        let st = self.lock();
        st.ports
            .iter()
            .filter(|p| p.device_id == device_id)
            .cloned()
            .collect()
    }

    pub fn port(&self, id: &str) -> Option<PortInfo> {
        self.lock().ports.iter().find(|p| p.id == id).cloned()
    }
}

impl FakeNetState {
    fn new_port(&mut self, network_id: &str, project_id: &str, ip: Option<String>) -> PortInfo {
        self.next += 1;
        let n = self.next;
        PortInfo {
            id: uuid::Uuid::new_v4().to_string(),
            network_id: network_id.into(),
            project_id: project_id.into(),
            mac_address: format!("fa:16:3e:00:{:02x}:{:02x}", n / 256, n % 256),
            fixed_ips: vec![FixedIp {
                subnet_id: format!("subnet-of-{network_id}"),
                ip_address: ip.unwrap_or_else(|| format!("10.0.{}.{}", n / 250, n % 250 + 2)),
            }],
            status: "DOWN".into(),
            ..Default::default()
        }
    }

    fn port_mut(&mut self, id: &str) -> Result<&mut PortInfo, ClientError> {
        self.ports
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| ClientError::Status {
                service: "network",
                status: 404,
                body: format!("Port {id} could not be found."),
            })
    }
}

#[async_trait]
impl NetworkClient for FakeNetwork {
    async fn network_get(&self, _: &str, id: &str) -> Result<Option<NetworkInfo>, ClientError> {
        Ok(self.lock().networks.get(id).cloned())
    }

    async fn network_list(&self, _: &str) -> Result<Vec<NetworkInfo>, ClientError> {
        let mut l: Vec<_> = self.lock().networks.values().cloned().collect();
        l.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(l)
    }

    async fn port_get(&self, _: &str, id: &str) -> Result<Option<PortInfo>, ClientError> {
        Ok(self.port(id))
    }

    async fn security_group_find(
        &self,
        _: &str,
        project_id: &str,
        name_or_id: &str,
    ) -> Result<Option<String>, ClientError> {
        if name_or_id == "default" {
            return Ok(Some(format!("default-of-{project_id}")));
        }
        Ok(self
            .lock()
            .groups
            .iter()
            .find(|(id, p, name)| id == name_or_id || (p == project_id && name == name_or_id))
            .map(|g| g.0.clone()))
    }

    async fn network_show(&self, id: &str) -> Result<Option<NetworkInfo>, ClientError> {
        Ok(self.lock().networks.get(id).cloned())
    }

    async fn port_create(&self, p: &PortCreate) -> Result<PortInfo, ClientError> {
        let mut st = self.lock();
        let refuse = |status: u16, body: String| ClientError::Status {
            service: "network",
            status,
            body,
        };
        if st.fail_port_creates {
            return Err(refuse(500, "port creation is failing".into()));
        }
        if !st.networks.contains_key(&p.network_id) {
            return Err(refuse(
                404,
                format!("Network {} could not be found.", p.network_id),
            ));
        }
        if let Some(ip) = &p.fixed_ip
            && st
                .ports
                .iter()
                .any(|x| x.fixed_ips.iter().any(|f| &f.ip_address == ip))
        {
            return Err(refuse(409, format!("IP address {ip} already allocated.")));
        }
        let mut port = st.new_port(&p.network_id, &p.project_id, p.fixed_ip.clone());
        port.device_id = p.device_id.clone();
        port.device_owner = p.device_owner.clone();
        port.security_groups = p
            .security_groups
            .clone()
            .unwrap_or_else(|| vec![format!("default-of-{}", p.project_id)]);
        port.status = if p.host.is_empty() { "DOWN" } else { "ACTIVE" }.into();
        st.ports.push(port.clone());
        Ok(port)
    }

    async fn port_bind(
        &self,
        id: &str,
        device_id: &str,
        device_owner: &str,
        host: &str,
    ) -> Result<PortInfo, ClientError> {
        let mut st = self.lock();
        let p = st.port_mut(id)?;
        p.device_id = device_id.into();
        p.device_owner = device_owner.into();
        p.status = if host.is_empty() { "DOWN" } else { "ACTIVE" }.into();
        Ok(p.clone())
    }

    async fn port_unbind(&self, id: &str) -> Result<(), ClientError> {
        let mut st = self.lock();
        if let Ok(p) = st.port_mut(id) {
            p.device_id.clear();
            p.device_owner.clear();
            p.status = "DOWN".into();
        }
        Ok(())
    }

    async fn port_delete(&self, id: &str) -> Result<(), ClientError> {
        let mut st = self.lock();
        st.ports.retain(|p| p.id != id);
        st.floating.remove(id);
        Ok(())
    }

    async fn ports_of_device(&self, device_id: &str) -> Result<Vec<PortInfo>, ClientError> {
        Ok(self
            .lock()
            .ports
            .iter()
            .filter(|p| p.device_id == device_id)
            .cloned()
            .collect())
    }

    async fn port_set_security_groups(
        &self,
        id: &str,
        groups: &[String],
    ) -> Result<(), ClientError> {
        self.lock().port_mut(id)?.security_groups = groups.to_vec();
        Ok(())
    }

    async fn floating_ips_of_port(&self, port_id: &str) -> Result<Vec<String>, ClientError> {
        Ok(self
            .lock()
            .floating
            .get(port_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn security_group_show(
        &self,
        id: &str,
    ) -> Result<Option<SecurityGroupInfo>, ClientError> {
        let group = |id: &str, project: &str, name: &str| SecurityGroupInfo {
            id: id.into(),
            name: name.into(),
            project_id: project.into(),
            rules: vec![json!({
                "id": format!("rule-of-{id}"), "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                "remote_ip_prefix": "0.0.0.0/0", "remote_group_id": null,
                "security_group_id": id,
            })],
            ..Default::default()
        };
        if let Some(project) = id.strip_prefix("default-of-") {
            return Ok(Some(group(id, project, "default")));
        }
        Ok(self
            .lock()
            .groups
            .iter()
            .find(|g| g.0 == id)
            .map(|(id, project, name)| group(id, project, name)))
    }
}
