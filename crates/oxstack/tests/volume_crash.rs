//! Block storage survives `kill -9`: the real binary on a fresh data dir is killed while
//! volumes are being made from an image and while volumes are being deleted; after a restart
//! no volume is left `creating` or `deleting`, and the volumes directory holds exactly the
//! disks of the volumes that exist. Each test is bounded in time and talks to 127.0.0.1 only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::*;

/// How many kill/restart rounds a test may take to catch work in flight.
const ROUNDS: usize = 5;

/// One all-in-one cloud on its own data dir and ports, started and killed by the test.
struct Cloud {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    ports: BTreeMap<&'static str, u16>,
    child: Option<Child>,
    token: String,
    project: String,
}

impl Cloud {
    fn new() -> Cloud {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        let ports = [
            "IDENTITY",
            "PLACEMENT",
            "COMPUTE",
            "NETWORK",
            "OBJECTSTORE",
            "BLOCKSTORE",
            "IMAGE",
        ]
        .into_iter()
        .map(|s| (s, free_port()))
        .collect();
        let mut c = Cloud {
            _tmp: tmp,
            data,
            ports,
            child: None,
            token: String::new(),
            project: String::new(),
        };
        c.start();
        c
    }

    fn port(&self, service: &str) -> u16 {
        self.ports[service]
    }

    /// Starts `oxstack up` on the data dir and waits until it is ready; logs in as admin.
    fn start(&mut self) {
        let ports = self.ports.iter().map(|(s, p)| (*s, *p));
        self.child = Some(spawn_ready(up_command(&self.data, ports)));
        let r = admin_login(self.port("IDENTITY"), &self.data);
        self.token = r.header("x-subject-token").expect("token");
        self.project = r.json()["token"]["project"]["id"]
            .as_str()
            .expect("project")
            .to_string();
    }

    /// `kill -9`, then waits until no process started for this data dir (qemu-img the
    /// killed server had running) is left, so the restart sees the disks as they stay.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reaped");
        }
        let needle = self.data.to_string_lossy().to_string();
        let start = Instant::now();
        while stragglers(&needle) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "helper processes of the killed server did not end"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn volume_api(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        json_call(
            self.port("BLOCKSTORE"),
            method,
            &format!("/v3/{}{path}", self.project),
            &self.token,
            body,
        )
    }

    fn volume_status(&self, id: &str) -> Option<String> {
        let r = self.volume_api("GET", &format!("/volumes/{id}"), None);
        if r.status == 404 {
            return None;
        }
        assert_eq!(r.status, 200);
        Some(
            r.json()["volume"]["status"]
                .as_str()
                .expect("status")
                .into(),
        )
    }

    fn wait_volume(&self, id: &str, status: &str) {
        let start = Instant::now();
        loop {
            let s = self.volume_status(id);
            if s.as_deref() == Some(status) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "volume {id} is {s:?}, never {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Volume statuses straight from the database (the server is down).
    fn stored_statuses(&self) -> BTreeMap<String, String> {
        let url = format!("sqlite://{}", self.data.join("oxstack.db").display());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let db = oxstack_common::db::Db::connect(&url, 1).await.expect("db");
            let rows: Vec<String> = db
                .query_scalar("SELECT id || ' ' || status FROM blockstore_volume")
                .fetch_all(db.pool())
                .await
                .expect("select");
            db.close().await;
            rows.into_iter()
                .filter_map(|r| {
                    r.split_once(' ')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                })
                .collect()
        })
    }

    /// The file names in the volumes directory, and whether the scratch dir has anything.
    fn volume_files(&self) -> (BTreeSet<String>, usize) {
        let dir = self.data.join("volumes");
        let files = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.map_while(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n != "tmp")
                    .collect()
            })
            .unwrap_or_default();
        let scratch = std::fs::read_dir(dir.join("tmp"))
            .map(|rd| rd.count())
            .unwrap_or(0);
        (files, scratch)
    }

    /// After a restart: nothing transient, and exactly the disks of the volumes that exist.
    fn assert_settled(&self, ids: &[String]) {
        let mut want = BTreeSet::new();
        for id in ids {
            match self.volume_status(id).as_deref() {
                None | Some("error") => {}
                Some("available") => {
                    want.insert(format!("volume-{id}.raw"));
                }
                other => panic!("volume {id} is {other:?} after restart"),
            }
        }
        let (files, scratch) = self.volume_files();
        assert_eq!(files, want, "the volumes dir holds exactly the live disks");
        assert_eq!(scratch, 0, "no image download is left behind");
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether any process has `needle` (our data dir) in its command line.
fn stragglers(needle: &str) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.map_while(Result::ok).any(|p| {
        std::fs::read(p.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
    })
}

/// `n` bytes that do not compress or sparsify (so qemu-img has real work to do).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn have_qemu_img() -> bool {
    Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn upload_image(c: &Cloud, mib: usize) -> String {
    let img = c.port("IMAGE");
    let r = json_call(
        img,
        "POST",
        "/v2/images",
        &c.token,
        Some(json!({"name": "crash", "disk_format": "raw", "container_format": "bare"})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().expect("id").to_string();
    let r = http(
        img,
        "PUT",
        &format!("/v2/images/{id}/file"),
        &c.token,
        "application/octet-stream",
        &noise(mib << 20),
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    id
}

fn create_volume(c: &Cloud, image: Option<&str>) -> String {
    let mut v = json!({"size": 1, "name": "crash"});
    if let Some(i) = image {
        v["imageRef"] = json!(i);
    }
    let r = c.volume_api("POST", "/volumes", Some(json!({ "volume": v })));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    r.json()["volume"]["id"].as_str().expect("id").to_string()
}

#[test]
fn kill_during_volume_creation_from_an_image_leaves_nothing_stuck() {
    if !have_qemu_img() {
        eprintln!("qemu-img missing; skipped");
        return;
    }
    let mut c = Cloud::new();
    let image = upload_image(&c, 24);
    let mut all = Vec::new();
    let mut caught = 0;
    for round in 1..=ROUNDS {
        let ids: Vec<String> = (0..3).map(|_| create_volume(&c, Some(&image))).collect();
        c.kill9();
        let stored = c.stored_statuses();
        caught += ids
            .iter()
            .filter(|id| stored.get(*id).map(String::as_str) == Some("creating"))
            .count();
        eprintln!("round {round}: {caught} of 3 creations interrupted");
        c.start();
        all.extend(ids);
        c.assert_settled(&all);
        // Make room in the quota for the next round.
        for id in &all {
            if c.volume_status(id).as_deref() == Some("error") {
                assert_eq!(
                    c.volume_api("DELETE", &format!("/volumes/{id}"), None)
                        .status,
                    202
                );
                c.wait_volume_gone(id);
            }
        }
        if caught > 0 {
            break;
        }
    }
    assert!(
        caught > 0,
        "no kill caught a creation in flight in {ROUNDS} rounds"
    );
    c.assert_settled(&all);
}

#[test]
fn kill_during_volume_deletion_finishes_the_deletion_on_restart() {
    if !have_qemu_img() {
        eprintln!("qemu-img missing; skipped");
        return;
    }
    let mut c = Cloud::new();
    let mut caught = 0;
    let mut all = Vec::new();
    for round in 1..=ROUNDS {
        let ids: Vec<String> = (0..6).map(|_| create_volume(&c, None)).collect();
        for id in &ids {
            c.wait_volume(id, "available");
        }
        std::thread::scope(|s| {
            for id in &ids {
                let c = &c;
                s.spawn(move || {
                    let r = c.volume_api("DELETE", &format!("/volumes/{id}"), None);
                    assert_eq!(r.status, 202);
                });
            }
        });
        c.kill9();
        let stored = c.stored_statuses();
        caught += ids
            .iter()
            .filter(|id| stored.get(*id).map(String::as_str) == Some("deleting"))
            .count();
        eprintln!("round {round}: {caught} of 6 deletions interrupted");
        c.start();
        for id in &ids {
            assert_eq!(
                c.volume_status(id),
                None,
                "volume {id} is deleted after restart"
            );
        }
        all.extend(ids);
        c.assert_settled(&all);
        if caught > 0 {
            break;
        }
    }
    assert!(
        caught > 0,
        "no kill caught a deletion in flight in {ROUNDS} rounds"
    );
}

impl Cloud {
    fn wait_volume_gone(&self, id: &str) {
        let start = Instant::now();
        while self.volume_status(id).is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "volume {id} not deleted"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
