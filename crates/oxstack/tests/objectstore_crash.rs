//! The object store survives `kill -9` in the middle of a stream of PUTs and DELETEs.
//!
//! The real binary (identity + object storage only) on a fresh data dir; concurrent clients
//! PUT objects of varied sizes (some over 1 MiB) under unique names and DELETE some they
//! created, while one client holds an upload open half-sent. The server is killed with
//! SIGKILL, restarted on the same data dir, and then:
//! - every object acknowledged with 201 and not deleted with an acknowledged 204 reads back
//!   with the same ETag and bytes; every acknowledged delete stays deleted; an operation in
//!   flight at the kill either happened completely or not at all, and what the first restart
//!   shows stays so;
//! - every listing entry's object GETs 200 with the listed ETag (no dangling entries);
//! - the start-up cleanup has removed every temporary file and all data no listing entry
//!   names (one planted, others left by the kill).
//!
//! Three rounds of a few seconds each; only 127.0.0.1, on ports 16160-16199.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONTAINER: &str = "crash";
const ROUNDS: usize = 3;
const WRITERS: usize = 4;
/// Sizes cycled through by each writer: empty, small, and several over 1 MiB.
const SIZES: &[usize] = &[0, 1, 700, 64 * 1024, 1_100_000, 5_000, 1_600_000, 2_500_000];

// ------------------------------------------------------------------ a minimal HTTP/1.1 client

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn etag(&self) -> Option<String> {
        self.headers
            .get("etag")
            .map(|e| e.trim_matches('"').to_string())
    }
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn parse_response(raw: &[u8], head_only: bool) -> std::io::Result<Resp> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let text = String::from_utf8_lossy(&raw[..end]);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let body = if head_only {
        Vec::new()
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().map_err(|_| bad("content-length"))?;
        if rest.len() < len {
            return Err(bad("short body"));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("chunk size"))?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .map_err(|_| bad("chunk size"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(bad("short chunk"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

// ------------------------------------------------------------------ the server

struct Server {
    child: Child,
    identity: u16,
    objects: u16,
}

fn port_free(p: u16) -> bool {
    TcpListener::bind(("127.0.0.1", p)).is_ok()
}

/// Two free ports in 16160-16199.
fn pick_ports() -> (u16, u16) {
    let free: Vec<u16> = (16160..16200).filter(|p| port_free(*p)).take(2).collect();
    assert_eq!(free.len(), 2, "no two free ports in 16160-16199");
    (free[0], free[1])
}

fn start(data: &Path, config: &Path) -> Server {
    let (identity, objects) = pick_ports();
    std::fs::write(
        config,
        format!(
            "services = [\"identity\", \"objectstore\"]\n\
             [server]\nbind_host = \"127.0.0.1\"\n\
             [identity]\nport = {identity}\npassword_hash_rounds = 4\n\
             [objectstore]\nport = {objects}\n\
             [log]\nfilter = \"warn\"\n"
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxstack"))
        .env_remove("OXSTACK_CONFIG")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn oxstack");
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
    Server {
        child,
        identity,
        objects,
    }
}

impl Server {
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }

    /// An admin token and the admin project's account path.
    fn login(&self, data: &Path) -> (String, String) {
        let password = std::fs::read_to_string(data.join("admin-password")).expect("password");
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": password.trim()}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
        let r = request(
            self.identity,
            "POST",
            "/v3/auth/tokens",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .expect("token request");
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let token = r.headers.get("x-subject-token").expect("token").clone();
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("token body");
        let project = v["token"]["project"]["id"]
            .as_str()
            .expect("project id")
            .to_string();
        (token, format!("/v1/AUTH_{project}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ what the clients saw

/// The bytes of an object, derived from its name (so a read can be checked without keeping
/// them).
fn content(name: &str, size: usize) -> Vec<u8> {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
struct Entry {
    size: usize,
    /// The ETag of the 201, or of a read after a restart that found the object.
    etag: Option<String>,
    delete_sent: bool,
    /// A 204, or a restart found it gone.
    deleted: bool,
}

type Ledger = Arc<Mutex<BTreeMap<String, Entry>>>;

fn lock(l: &Ledger) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

fn writer(
    port: u16,
    token: String,
    acct: String,
    id: String,
    ledger: Ledger,
    stop: Arc<AtomicBool>,
) {
    let mut mine: Vec<String> = Vec::new();
    let mut seq = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("{id}-{seq:05}");
        let size = SIZES[seq % SIZES.len()];
        seq += 1;
        lock(&ledger).insert(
            name.clone(),
            Entry {
                size,
                ..Entry::default()
            },
        );
        let path = format!("{acct}/{CONTAINER}/{name}");
        let Ok(r) = request(
            port,
            "PUT",
            &path,
            &[("X-Auth-Token", &token)],
            &content(&name, size),
        ) else {
            break; // the server is gone
        };
        assert_eq!(
            r.status,
            201,
            "PUT {name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        lock(&ledger).get_mut(&name).expect("entry").etag = r.etag();
        mine.push(name);
        if seq.is_multiple_of(3) && mine.len() > 1 {
            let victim = mine.remove(0);
            lock(&ledger).get_mut(&victim).expect("entry").delete_sent = true;
            let path = format!("{acct}/{CONTAINER}/{victim}");
            let Ok(r) = request(port, "DELETE", &path, &[("X-Auth-Token", &token)], b"") else {
                break;
            };
            assert_eq!(r.status, 204, "DELETE {victim}");
            lock(&ledger).get_mut(&victim).expect("entry").deleted = true;
        }
    }
}

/// Starts a large PUT, sends part of it and waits: the server holds a temporary file when
/// it is killed. The name is recorded as never acknowledged.
fn half_upload(port: u16, token: &str, acct: &str, name: &str, ledger: &Ledger) -> TcpStream {
    let size = 8 << 20;
    lock(ledger).insert(
        name.to_string(),
        Entry {
            size,
            ..Entry::default()
        },
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "PUT {acct}/{CONTAINER}/{name} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\nContent-Length: {size}\r\n\r\n"
    )
    .expect("head");
    s.write_all(&content(name, size)[..1 << 20]).expect("part");
    s
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.map_while(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Checks the restarted server against the ledger; updates the ledger with what it found.
fn verify(server: &Server, token: &str, acct: &str, ledger: &Ledger, objects_dir: &Path) {
    let port = server.objects;
    let auth = [("X-Auth-Token", token)];
    let mut present = BTreeSet::new();
    let mut l = lock(ledger);
    for (name, e) in l.iter_mut() {
        if e.deleted && e.delete_sent {
            let r = request(
                port,
                "HEAD",
                &format!("{acct}/{CONTAINER}/{name}"),
                &auth,
                b"",
            )
            .expect("HEAD");
            assert_eq!(r.status, 404, "{name} was deleted with a 204 but is back");
            continue;
        }
        let r = request(
            port,
            "GET",
            &format!("{acct}/{CONTAINER}/{name}"),
            &auth,
            b"",
        )
        .unwrap_or_else(|e| panic!("GET {name} failed ({e}): a row without its data?"));
        match r.status {
            200 => {
                assert_eq!(r.body.len(), e.size, "{name}: size");
                assert!(r.body == content(name, e.size), "{name}: bytes differ");
                if let Some(want) = &e.etag {
                    assert_eq!(r.etag().as_ref(), Some(want), "{name}: ETag");
                }
                e.etag = r.etag();
                e.delete_sent = false; // the delete did not happen: it must stay so
                present.insert(name.clone());
            }
            404 => {
                assert!(
                    e.etag.is_none() || e.delete_sent,
                    "{name} got a 201 (ETag {:?}) and was never deleted, but is gone",
                    e.etag
                );
                e.deleted = true;
                e.delete_sent = true;
            }
            s => panic!("GET {name}: {s} {}", String::from_utf8_lossy(&r.body)),
        }
    }
    drop(l);

    // The listing names exactly the readable objects, each with its ETag.
    let r = request(
        port,
        "GET",
        &format!("{acct}/{CONTAINER}?format=json"),
        &auth,
        b"",
    )
    .expect("listing");
    assert_eq!(r.status, 200);
    let listing: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("listing json");
    let mut listed = BTreeSet::new();
    for item in &listing {
        let name = item["name"].as_str().expect("name").to_string();
        let g = request(
            port,
            "GET",
            &format!("{acct}/{CONTAINER}/{name}"),
            &auth,
            b"",
        )
        .unwrap_or_else(|e| panic!("GET of listed {name} failed ({e}): a row without its data?"));
        assert_eq!(g.status, 200, "listing entry {name} points at nothing");
        assert_eq!(
            g.etag().as_deref(),
            item["hash"].as_str(),
            "{name}: listed hash"
        );
        listed.insert(name);
    }
    assert_eq!(listed, present, "listing vs. readable objects");

    // The start-up cleanup left no temporary file and no data without a listing entry.
    let tmp = files_under(&objects_dir.join("tmp"));
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    let data = files_under(&objects_dir.join("data"));
    assert_eq!(
        data.len(),
        listing.len(),
        "data files vs. listing entries: {} orphaned",
        data.len().saturating_sub(listing.len())
    );
}

#[test]
fn kill_9_during_puts_and_deletes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let config = dir.path().join("oxstack.toml");
    let objects_dir = data.join("objects");
    let ledger: Ledger = Arc::default();
    let started = Instant::now();

    let mut server = start(&data, &config);
    let (token, acct) = server.login(&data);
    let r = request(
        server.objects,
        "PUT",
        &format!("{acct}/{CONTAINER}"),
        &[("X-Auth-Token", &token)],
        b"",
    )
    .expect("container");
    assert_eq!(r.status, 201);

    for round in 0..ROUNDS {
        let (token, acct) = server.login(&data);
        let stop = Arc::new(AtomicBool::new(false));
        let port = server.objects;
        let clients: Vec<_> = (0..WRITERS)
            .map(|c| {
                let (t, a, l, s) = (token.clone(), acct.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || writer(port, t, a, format!("r{round}-w{c}"), l, s))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let held = half_upload(port, &token, &acct, &format!("r{round}-half"), &ledger);
        std::thread::sleep(Duration::from_millis(1200 + 500 * round as u64));

        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("a client failed");
        }
        drop(held);
        let tmp = files_under(&objects_dir.join("tmp"));
        assert!(
            !tmp.is_empty(),
            "the half-sent upload should have left a temporary file"
        );
        // Data no row names, as a crash between the data's rename and the row's commit leaves.
        let planted = objects_dir
            .join("data")
            .join("ff")
            .join(format!("ff{round:030}"));
        std::fs::create_dir_all(planted.parent().expect("parent")).expect("mkdir");
        std::fs::write(&planted, b"orphan").expect("plant");

        server = start(&data, &config);
        let (token, acct) = server.login(&data);
        verify(&server, &token, &acct, &ledger, &objects_dir);
        assert!(!planted.exists(), "orphaned data survived the restart");
    }
    let l = lock(&ledger);
    let acked = l.values().filter(|e| e.etag.is_some()).count();
    let deleted = l.values().filter(|e| e.deleted).count();
    assert!(
        acked >= 10 && deleted >= 2,
        "too little traffic to mean anything: {acked} acknowledged, {deleted} deleted"
    );
    eprintln!(
        "{} objects written, {acked} acknowledged or found, {deleted} deleted, in {:?}",
        l.len(),
        started.elapsed()
    );
}
