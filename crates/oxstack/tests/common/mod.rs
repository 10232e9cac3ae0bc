//! What the tests that run the real binary share: free ports and a minimal blocking HTTP/1.1
//! client (one request per connection), so that they need no client library.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `oxstack up` on `data` with each service on its port (`("IDENTITY", 15000)`, ...), on
/// 127.0.0.1, with cheap password hashing and warnings only; the caller adds its own settings.
pub fn up_command<'a>(data: &Path, ports: impl IntoIterator<Item = (&'a str, u16)>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxstack"));
    cmd.env_remove("OXSTACK_CONFIG")
        .env("OXSTACK_IDENTITY__PASSWORD_HASH_ROUNDS", "4")
        .env("OXSTACK_LOG__FILTER", "warn")
        .env("OXSTACK_SERVER__BIND_HOST", "127.0.0.1");
    for (s, p) in ports {
        cmd.env(format!("OXSTACK_{s}__PORT"), p.to_string());
    }
    cmd.arg("--data-dir").arg(data).arg("up");
    cmd
}

/// Spawns `cmd` and waits (up to 120 s) until it prints "oxstack is ready"; kills it and
/// panics when it does not.
pub fn spawn_ready(mut cmd: Command) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "oxstack is ready" {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("oxstack did not become ready");
    }
    child
}

/// A project-scoped token of the admin user (its password from the data dir): the 201.
pub fn admin_login(identity_port: u16, data: &Path) -> Resp {
    let password = std::fs::read_to_string(data.join("admin-password")).expect("password");
    let r = json_call(
        identity_port,
        "POST",
        "/v3/auth/tokens",
        "",
        Some(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": password.trim()}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r
}

/// A response: its status, its head as text, its (de-chunked) body.
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); an empty `token` or
/// `content_type` is left out.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !token.is_empty() {
        head.push_str(&format!("X-Auth-Token: {token}\r\n"));
    }
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let headers = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut resp = Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        resp.body = dechunk(&resp.body);
    }
    resp
}

/// A request with a JSON body (or none).
pub fn json_call(port: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
    let b = body.map(|v| v.to_string()).unwrap_or_default();
    let ct = if b.is_empty() { "" } else { "application/json" };
    http(port, method, path, token, ct, b.as_bytes())
}

/// The data of a chunked body.
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..eol])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}
