//! The qemu driver against a real qemu-system-x86_64 under TCG: boots the test guest
//! (scripts/test-guest: a Debian kernel and a busybox initramfs) through the compute API,
//! reads its console, stops/starts/reboots/pauses it, checks the process table and QMP (not
//! the database), hot-plugs a volume (the guest prints the disk and its size; kept across a
//! hard reboot) and unplugs it (the guest sees it go), lets the
//! power-state sync notice a guest that went away, restarts the agent without touching the
//! guest, and deletes it leaving nothing behind.
//!
//! Runs only where qemu-system-x86_64 is installed (scripts/test installs it through
//! scripts/ensure-qemu); elsewhere it says it was skipped. `OXSTEST_QEMU` names another
//! qemu binary.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use bytes::Bytes;
use common::{ADMIN, FakeTokens, Resp};
use oxstack_common::bus::InProcessBus;
use oxstack_common::coord::InProcessCoordination;
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_compute::agent::qemu::qmp::Qmp;
use oxstack_compute::agent::qemu::{QemuDriver, QemuOptions};
use oxstack_compute::clients::{FakeImageClient, FakePlacement, FakeVolumeClient, StaticToken};
use oxstack_compute::config::QemuConfig;
use oxstack_compute::{Compute, ComputeConfig, ComputeOptions};
use serde_json::{Value, json};

const DISK: &str = "9d1c0a52-0000-4000-8000-000000000001";
const KERNEL: &str = "9d1c0a52-0000-4000-8000-000000000002";
const RAMDISK: &str = "9d1c0a52-0000-4000-8000-000000000003";
const MARKER: &str = "OXSTACK-GUEST-READY";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find_qemu() -> Option<PathBuf> {
    if let Ok(q) = std::env::var("OXSTEST_QEMU") {
        return Some(q.into());
    }
    let local = repo().join("build/qemu/bin/qemu-system-x86_64");
    if local.is_file() {
        return Some(local);
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("qemu-system-x86_64"))
        .find(|p| p.is_file())
}

struct Cloud {
    router: axum::Router,
    compute: Compute,
    agent: oxstack_compute::agent::AgentHandle,
    driver_opts: QemuOptions,
    instances: PathBuf,
    volume: Arc<FakeVolumeClient>,
    volumes_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cloud {
    async fn call(&self, method: axum::http::Method, path: &str, body: Option<Value>) -> Resp {
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("x-auth-token", ADMIN);
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                axum::body::Body::from(b.to_string())
            }
            None => axum::body::Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("body");
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn action(&self, id: &str, body: Value) -> Resp {
        self.call(
            axum::http::Method::POST,
            &format!("/v2.1/servers/{id}/action"),
            Some(body),
        )
        .await
    }

    async fn wait(&self, id: &str, status: &str, within: Duration) -> Value {
        let end = Instant::now() + within;
        loop {
            let r = self
                .call(
                    axum::http::Method::GET,
                    &format!("/v2.1/servers/{id}"),
                    None,
                )
                .await;
            if status == "DELETED" && r.status == StatusCode::NOT_FOUND {
                return Value::Null;
            }
            let s = &r.body["server"];
            if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                return s.clone();
            }
            assert!(Instant::now() < end, "{id} never reached {status}: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn console(&self, id: &str, length: Option<i64>) -> String {
        let r = self
            .action(id, json!({"os-getConsoleOutput": {"length": length}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["output"].as_str().unwrap_or_default().to_string()
    }

    async fn wait_console(&self, id: &str, needle: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let out = self.console(id, None).await;
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < end,
                "no {needle:?} on the console of {id}:\n{out}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The guest's qemu process, from the pid file and the process table.
    fn pid(&self, id: &str) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.instances.join(id).join("qemu.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (!zombie && String::from_utf8_lossy(&cmd).contains(id)).then_some(pid)
    }

    async fn qmp_status(&self, id: &str) -> String {
        let mut q = Qmp::connect(&self.instances.join(id).join("qmp.sock"))
            .await
            .expect("qmp");
        q.status().await.expect("status")
    }

    /// The block node names of the guest (`query-named-block-nodes`).
    async fn block_nodes(&self, id: &str) -> Vec<String> {
        let mut q = Qmp::connect(&self.instances.join(id).join("qmp.sock"))
            .await
            .expect("qmp");
        let v = q
            .execute("query-named-block-nodes", None)
            .await
            .expect("query-named-block-nodes");
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["node-name"].as_str().map(str::to_string))
            .collect()
    }

    async fn restart_agent(&mut self) {
        self.agent.stop();
        let d = QemuDriver::new(self.driver_opts.clone()).expect("driver");
        self.agent = self
            .compute
            .start_agent("host1", Arc::new(d))
            .await
            .expect("agent");
    }
}

async fn cloud(guest: &Path, qemu: PathBuf) -> Cloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        4,
    )
    .await
    .expect("db");
    db.migrate("compute", oxstack_compute::MIGRATIONS)
        .await
        .expect("migrate");
    let image = Arc::new(FakeImageClient::default());
    let read = |f: &str| Bytes::from(std::fs::read(guest.join(f)).expect("guest file"));
    image.add_with_data(
        KERNEL,
        "guest-kernel",
        json!({"disk_format": "aki"}),
        read("vmlinuz"),
    );
    image.add_with_data(
        RAMDISK,
        "guest-initrd",
        json!({"disk_format": "ari"}),
        read("initrd"),
    );
    image.add_with_data(
        DISK,
        "oxstack-test-guest",
        json!({"disk_format": "qcow2", "kernel_id": KERNEL, "ramdisk_id": RAMDISK,
               "os_command_line": "console=ttyS0 quiet"}),
        read("disk.qcow2"),
    );
    let qemu_config = QemuConfig {
        binary: qemu,
        accel: "tcg".into(),
        shutdown_timeout_secs: 10,
        ..Default::default()
    };
    let instances = dir.path().join("instances");
    let volumes_dir = dir.path().join("volumes");
    std::fs::create_dir_all(&volumes_dir).expect("volumes dir");
    let volume = Arc::new(FakeVolumeClient::default());
    volume.set_device_dir(&volumes_dir);
    let opts = ComputeOptions {
        config: ComputeConfig {
            driver: "qemu".into(),
            sync_power_state_interval_secs: 1,
            build_retries: 0,
            qemu: qemu_config.clone(),
            ..Default::default()
        },
        db,
        bus: Arc::new(InProcessBus::default()),
        coord: Arc::new(InProcessCoordination::default()),
        image: image.clone(),
        placement: Arc::new(FakePlacement::default()),
        network: None,
        volume: Some(volume.clone()),
        public_url: "http://127.0.0.1:8774".into(),
    };
    let driver_opts = QemuOptions {
        config: qemu_config,
        instances_path: instances.clone(),
        image,
        tokens: Arc::new(StaticToken("service-token".into())),
    };
    let compute = Compute::open(opts).await.expect("open");
    let d = QemuDriver::new(driver_opts.clone()).expect("driver");
    let agent = compute
        .start_agent("host1", Arc::new(d))
        .await
        .expect("agent");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeTokens)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    let router = stack.wrap("compute", ErrorStyle::Nova, compute.router());
    Cloud {
        router,
        compute,
        agent,
        driver_opts,
        instances,
        volume,
        volumes_dir,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_guest_through_the_api() {
    let Some(qemu) = find_qemu() else {
        eprintln!("skipped: qemu-system-x86_64 is not installed (scripts/ensure-qemu installs it)");
        return;
    };
    let out = std::process::Command::new(repo().join("scripts/test-guest"))
        .output()
        .expect("scripts/test-guest");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let guest = repo().join(String::from_utf8_lossy(&out.stdout).trim());
    let t0 = Instant::now();
    let mut c = cloud(&guest, qemu).await;
    let get = axum::http::Method::GET;

    // os-hypervisors says QEMU.
    let r = c
        .call(get.clone(), "/v2.1/os-hypervisors/detail", None)
        .await;
    assert_eq!(
        r.body["hypervisors"][0]["hypervisor_type"], "QEMU",
        "{:?}",
        r.body
    );
    let cpu: Value = serde_json::from_str(
        r.body["hypervisors"][0]["cpu_info"]
            .as_str()
            .unwrap_or("{}"),
    )
    .expect("cpu_info");
    assert_eq!(cpu["accel"], "tcg", "{cpu}");

    let r = c
        .call(
            axum::http::Method::POST,
            "/v2.1/flavors",
            Some(json!({"flavor": {"name": "tiny", "id": "t1", "vcpus": 1, "ram": 96, "disk": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .call(
            axum::http::Method::POST,
            "/v2.1/servers",
            Some(
                json!({"server": {"name": "vm1", "imageRef": DISK, "flavorRef": "t1",
                                   "config_drive": true}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    c.wait(&id, "ACTIVE", Duration::from_secs(60)).await;
    let active = t0.elapsed();
    let pid = c.pid(&id).expect("a qemu process");
    let out = c.wait_console(&id, MARKER, Duration::from_secs(60)).await;
    let booted = t0.elapsed();
    eprintln!("create → ACTIVE {active:?}, create → boot marker {booted:?}");
    assert!(out.contains("OXSTACK-GUEST-BOOTED"));
    assert!(out.contains(&format!("uuid: {id}")), "{out}");
    assert!(out.contains("hostname: vm1"), "{out}");
    let tail = c.console(&id, Some(1)).await;
    assert_eq!(tail.lines().count(), 1, "{tail:?}");
    assert_eq!(c.qmp_status(&id).await, "running");
    let dir = c.instances.join(&id);
    let info = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(dir.join("disk"))
        .output()
        .expect("qemu-img");
    let info: Value = serde_json::from_slice(&info.stdout).expect("json");
    assert_eq!(info["format"], "qcow2");
    assert_eq!(
        info["virtual-size"],
        1u64 << 30,
        "grown to the flavor's disk"
    );
    assert!(
        info["backing-filename"]
            .as_str()
            .is_some_and(|b| b.ends_with(DISK))
    );

    // Pause / unpause: QMP says so.
    assert_eq!(
        c.action(&id, json!({"pause": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "PAUSED", Duration::from_secs(20)).await;
    assert_eq!(c.qmp_status(&id).await, "paused");
    assert_eq!(
        c.action(&id, json!({"unpause": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE", Duration::from_secs(20)).await;
    assert_eq!(c.qmp_status(&id).await, "running");

    // Stop (the guest powers off on ACPI) and start: a new process.
    assert_eq!(
        c.action(&id, json!({"os-stop": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SHUTOFF", Duration::from_secs(30)).await;
    assert_eq!(c.pid(&id), None);
    let out = c.console(&id, None).await;
    assert!(
        out.contains("reboot: Power down"),
        "not a graceful stop:\n{out}"
    );

    assert_eq!(
        c.action(&id, json!({"os-start": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE", Duration::from_secs(30)).await;
    let pid2 = c.pid(&id).expect("started again");
    assert_ne!(pid, pid2);

    // Hard reboot: another process; the console shows a second boot.
    let r = c.action(&id, json!({"reboot": {"type": "HARD"}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    c.wait(&id, "ACTIVE", Duration::from_secs(30)).await;
    let pid3 = c.pid(&id).expect("rebooted");
    assert_ne!(pid2, pid3);
    let end = Instant::now() + Duration::from_secs(60);
    while c.console(&id, None).await.matches(MARKER).count() < 2 {
        assert!(Instant::now() < end, "no second boot on the console");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // An agent restart re-adopts the running guest: same process, still controllable.
    c.restart_agent().await;
    c.wait(&id, "ACTIVE", Duration::from_secs(10)).await;
    assert_eq!(c.pid(&id), Some(pid3));
    assert_eq!(c.qmp_status(&id).await, "running");

    // A snapshot of the running guest: one standalone qcow2 (no backing file) in the
    // image, and the guest runs on in the same process.
    let r = c
        .action(&id, json!({"createImage": {"name": "snap"}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let location = r.headers[header::LOCATION].to_str().expect("location");
    let image = location.rsplit('/').next().expect("image id").to_string();
    c.wait(&id, "ACTIVE", Duration::from_secs(60)).await;
    let (_, data) = c
        .driver_opts
        .image
        .image_download("", &image)
        .await
        .expect("the snapshot was uploaded");
    assert!(data.starts_with(b"QFI\xfb"), "not qcow2");
    assert_eq!(&data[8..16], &[0u8; 8], "the snapshot has a backing file");
    assert_eq!(c.pid(&id), Some(pid3));
    assert_eq!(c.qmp_status(&id).await, "running");

    // A volume (a raw file, as the block storage file driver makes them) is hot-plugged
    // into the running guest, survives a hard reboot (launch.json has it) and is unplugged.
    let vol = c.volume.add_volume(1);
    let file = c.volumes_dir.join(format!("volume-{vol}.raw"));
    let made = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "raw"])
        .arg(&file)
        .arg("16M")
        .status()
        .expect("qemu-img");
    assert!(made.success());
    let node = oxstack_compute::agent::qemu::volumes::node_name(&vol);
    let r = c
        .call(
            axum::http::Method::POST,
            &format!("/v2.1/servers/{id}/os-volume_attachments"),
            Some(json!({"volumeAttachment": {"volumeId": vol}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["volumeAttachment"]["device"], "/dev/vdb");
    assert!(c.block_nodes(&id).await.contains(&node), "not plugged");
    // The guest sees it (vda is the root disk, vdb the config drive) and its size.
    c.wait_console(
        &id,
        "disk added: vdc 16777216 bytes",
        Duration::from_secs(30),
    )
    .await;
    let boots = c.console(&id, None).await.matches(MARKER).count();
    let r = c.action(&id, json!({"reboot": {"type": "HARD"}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    c.wait(&id, "ACTIVE", Duration::from_secs(30)).await;
    let pid4 = c.pid(&id).expect("rebooted");
    let cmdline = std::fs::read(format!("/proc/{pid4}/cmdline")).expect("cmdline");
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&node),
        "the relaunch lost the volume"
    );
    let end = Instant::now() + Duration::from_secs(60);
    while c.console(&id, None).await.matches(MARKER).count() <= boots {
        assert!(Instant::now() < end, "no boot after the reboot");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let r = c
        .call(
            axum::http::Method::DELETE,
            &format!("/v2.1/servers/{id}/os-volume_attachments/{vol}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let end = Instant::now() + Duration::from_secs(60);
    while c.volume.volume(&vol).map(|v| v.status).as_deref() != Some("available") {
        assert!(Instant::now() < end, "the guest never released the volume");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!c.block_nodes(&id).await.contains(&node), "still plugged");
    c.wait_console(&id, "disk removed: vdc", Duration::from_secs(30))
        .await;
    assert_eq!(c.pid(&id), Some(pid4));

    // The guest goes away behind our back: the power-state sync records SHUTOFF.
    Qmp::connect(&dir.join("qmp.sock"))
        .await
        .expect("qmp")
        .execute("quit", None)
        .await
        .expect("quit");
    c.wait(&id, "SHUTOFF", Duration::from_secs(20)).await;

    // Delete: no process, no overlay, no socket left.
    let r = c
        .call(
            axum::http::Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    c.wait(&id, "DELETED", Duration::from_secs(20)).await;
    assert_eq!(c.pid(&id), None);
    assert!(!dir.exists(), "instance directory left behind");
    eprintln!("whole scenario {:?}", t0.elapsed());
    c.agent.stop();
}
