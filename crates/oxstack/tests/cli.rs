//! The binary from outside: start-up failures give one clear line and leave nothing behind;
//! `up` serves, stops cleanly on SIGTERM and reuses its data dir.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn oxstack() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oxstack"));
    c.env_remove("OXSTACK_CONFIG")
        .env("OXSTACK_IDENTITY__PASSWORD_HASH_ROUNDS", "4")
        .env("OXSTACK_IMAGE__PORT", free_port().to_string())
        .env("OXSTACK_LOG__FILTER", "warn");
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn bad_config_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[identity]\nport = \"five thousand\"\n").expect("write");
    let data = dir.path().join("data");
    let out = oxstack()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .arg("up")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("identity.port"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!data.exists(), "nothing is created");
}

#[test]
fn taken_port_fails_without_creating_the_data_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let data = dir.path().join("data");
    let out = oxstack()
        .env("OXSTACK_IDENTITY__PORT", port.to_string())
        .env("OXSTACK_PLACEMENT__PORT", free_port().to_string())
        .env("OXSTACK_COMPUTE__PORT", free_port().to_string())
        .env("OXSTACK_NETWORK__PORT", free_port().to_string())
        .env("OXSTACK_OBJECTSTORE__PORT", free_port().to_string())
        .env("OXSTACK_BLOCKSTORE__PORT", free_port().to_string())
        .arg("--data-dir")
        .arg(&data)
        .arg("up")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("cannot listen") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(!data.exists());
}

#[test]
fn unwritable_data_dir_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let out = oxstack()
        .env("OXSTACK_IDENTITY__PORT", free_port().to_string())
        .env("OXSTACK_PLACEMENT__PORT", free_port().to_string())
        .env("OXSTACK_COMPUTE__PORT", free_port().to_string())
        .env("OXSTACK_NETWORK__PORT", free_port().to_string())
        .env("OXSTACK_OBJECTSTORE__PORT", free_port().to_string())
        .env("OXSTACK_BLOCKSTORE__PORT", free_port().to_string())
        .arg("--data-dir")
        .arg(file.join("data"))
        .arg("up")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("data dir"), "{}", stderr_of(&out));
}

#[test]
fn unreachable_database_fails_and_removes_what_it_created() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let out = oxstack()
        .env("OXSTACK_IDENTITY__PORT", free_port().to_string())
        .env("OXSTACK_PLACEMENT__PORT", free_port().to_string())
        .env("OXSTACK_COMPUTE__PORT", free_port().to_string())
        .env("OXSTACK_NETWORK__PORT", free_port().to_string())
        .env("OXSTACK_OBJECTSTORE__PORT", free_port().to_string())
        .env("OXSTACK_BLOCKSTORE__PORT", free_port().to_string())
        .env("OXSTACK_DATABASE__URL", "mysql://root@127.0.0.1:1/nothing")
        .arg("--data-dir")
        .arg(&data)
        .arg("up")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(!data.exists(), "the fresh data dir is removed again");
}

fn wait_ready(child: &mut std::process::Child) {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "oxstack is ready" {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("oxstack became ready");
}

fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn up_serves_stops_cleanly_and_reuses_its_data_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let port = free_port();
    let run = |data: &Path| {
        oxstack()
            .env("OXSTACK_IDENTITY__PORT", port.to_string())
            .env("OXSTACK_PLACEMENT__PORT", free_port().to_string())
            .env("OXSTACK_COMPUTE__PORT", free_port().to_string())
            .env("OXSTACK_NETWORK__PORT", free_port().to_string())
            .env("OXSTACK_OBJECTSTORE__PORT", free_port().to_string())
            .env("OXSTACK_BLOCKSTORE__PORT", free_port().to_string())
            .arg("--data-dir")
            .arg(data)
            .arg("up")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let mut child = run(&data);
    wait_ready(&mut child);
    let resp = http_get(port, "/v3");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("x-openstack-request-id: req-")
    );
    for f in [
        "clouds.yaml",
        "admin-openrc.sh",
        "admin-password",
        "oxstack.db",
    ] {
        assert!(data.join(f).exists(), "{f}");
    }
    let password = std::fs::read_to_string(data.join("admin-password")).expect("password");
    assert!(sigterm(&mut child).success());

    let mut child = run(&data);
    wait_ready(&mut child);
    assert_eq!(
        std::fs::read_to_string(data.join("admin-password")).expect("password"),
        password,
        "nothing reset"
    );
    assert!(sigterm(&mut child).success());

    let out = oxstack()
        .env("OXSTACK_IDENTITY__PORT", port.to_string())
        .env("OXSTACK_PLACEMENT__PORT", free_port().to_string())
        .env("OXSTACK_COMPUTE__PORT", free_port().to_string())
        .env("OXSTACK_NETWORK__PORT", free_port().to_string())
        .env("OXSTACK_OBJECTSTORE__PORT", free_port().to_string())
        .env("OXSTACK_BLOCKSTORE__PORT", free_port().to_string())
        .arg("--data-dir")
        .arg(&data)
        .arg("doctor")
        .output()
        .expect("doctor");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("ok    migrations: up to date"), "{report}");
}
