//! The qemu driver: one `qemu-system-x86_64` process per server, KVM when the host runs a
//! KVM guest, else TCG software emulation.
//!
//! Everything the driver knows lives in the filesystem, so an agent restart re-adopts
//! running guests instead of orphaning or killing them:
//!
//! ```text
//! <instances_path>/_base/<image id>         the image, fetched once, checksum verified
//! <instances_path>/<uuid>/launch.json       what the command line is built from
//!                        /disk              qcow2 overlay on the cached image (root)
//!                        /disk.eph0, disk.swap   flavor ephemeral and swap disks
//!                        /disk.config       the config drive (ISO 9660, label config-2)
//!                        /console.log       the serial console (appended across boots)
//!                        /qmp.sock          the QMP socket; /qemu.pid the process
//!                        /suspended         marks a stopped (`stop`) guest as suspended
//! ```
//!
//! Volumes (files of the block storage service) are hot-plugged by QMP and recorded in
//! `launch.json` ([`volumes`]).
//!
//! Power control goes through QMP ([`qmp`]): ACPI powerdown with a timeout then `quit`,
//! `system_reset`, `stop`/`cont`.

pub mod configdrive;
pub mod qmp;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use md5::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::process::Command;

use crate::agent::{ComputeDriver, DriverError, HostResources, InstanceSpec, VolumeSpec};
use crate::clients::{ImageClient, ServiceTokenSource};
use crate::config::QemuConfig;
use crate::states::power;

use qmp::Qmp;

/// The accelerator guests run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the driver is made with.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    pub config: QemuConfig,
    /// Resolved `instances_path`.
    pub instances_path: PathBuf,
    pub image: Arc<dyn ImageClient>,
    pub tokens: Arc<dyn ServiceTokenSource>,
}

/// What a server's command line is built from; kept in its directory (`launch.json`) so a
/// restarted agent can power it on again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Launch {
    pub spec: InstanceSpec,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub cmdline: Option<String>,
    pub config_drive: bool,
    pub ephemeral: bool,
    pub swap: bool,
    /// Attached volumes, each in its hot-plug slot.
    #[serde(default)]
    pub volumes: Vec<volumes::AttachedVolume>,
    /// The volume a volume-backed server boots from (instead of `disk`).
    #[serde(default)]
    pub root_volume: Option<crate::agent::VolumeSpec>,
}

/// The qemu driver.
#[derive(Debug)]
pub struct QemuDriver {
    opts: QemuOptions,
    accel: Accel,
    version: i64,
    resources: HostResources,
    /// One fetch per image at a time.
    fetches: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The longest unix socket path (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

fn err(context: &str, e: impl std::fmt::Display) -> DriverError {
    DriverError(format!("{context}: {e}"))
}

impl QemuDriver {
    /// Checks the tools, picks the accelerator (logged) and sizes the host. Blocking: call
    /// it before serving (it runs the KVM probe).
    pub fn new(opts: QemuOptions) -> Result<QemuDriver, DriverError> {
        // qemu cannot bind a unix socket whose path is longer than `sun_path` allows:
        // refused here, not at every server's start.
        let sock = opts
            .instances_path
            .join("00000000-0000-0000-0000-000000000000")
            .join("qmp.sock");
        if sock.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(DriverError(format!(
                "the instances path {} is too long: a guest's QMP socket ({} bytes) must fit \
                 the {MAX_SOCKET_PATH} bytes of a unix socket path; set \
                 compute.qemu.instances_path to a shorter directory",
                opts.instances_path.display(),
                sock.as_os_str().len()
            )));
        }
        let c = &opts.config;
        let out = std::process::Command::new(&c.binary)
            .arg("--version")
            .output()
            .map_err(|e| err(&format!("cannot run {}", c.binary.display()), e))?;
        let version = parse_version(&String::from_utf8_lossy(&out.stdout));
        std::process::Command::new(&c.qemu_img)
            .arg("--version")
            .output()
            .map_err(|e| err(&format!("cannot run {}", c.qemu_img.display()), e))?;
        std::fs::create_dir_all(opts.instances_path.join("_base"))
            .map_err(|e| err("cannot create the instances path", e))?;
        let accel = match c.accel.as_str() {
            "kvm" => Accel::Kvm,
            "tcg" => Accel::Tcg,
            _ => match kvm_probe(&c.binary, &opts.instances_path) {
                Ok(()) => Accel::Kvm,
                Err(why) => {
                    tracing::info!(reason = %why, "KVM is not usable here; guests run under TCG");
                    Accel::Tcg
                }
            },
        };
        let resources = host_resources(c, &opts.instances_path);
        tracing::info!(
            accel = accel.as_str(),
            qemu = %c.binary.display(),
            version,
            vcpus = resources.vcpus,
            memory_mb = resources.memory_mb,
            "qemu compute driver ready"
        );
        Ok(QemuDriver {
            opts,
            accel,
            version,
            resources,
            fetches: tokio::sync::Mutex::default(),
        })
    }

    /// The accelerator in use.
    pub fn accel(&self) -> Accel {
        self.accel
    }

    fn dir(&self, uuid: &str) -> PathBuf {
        self.opts.instances_path.join(uuid)
    }

    fn valid(uuid: &str) -> Result<(), DriverError> {
        if uuid.is_empty() || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        Ok(())
    }

    /// The pid of the server's qemu, when it runs.
    async fn pid(&self, uuid: &str) -> Option<u32> {
        let dir = self.dir(uuid);
        let pid: u32 = tokio::fs::read_to_string(dir.join("qemu.pid"))
            .await
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // The pid may have been reused: it must be our qemu for this server.
        let cmdline = tokio::fs::read(format!("/proc/{pid}/cmdline")).await.ok()?;
        let stat = tokio::fs::read_to_string(format!("/proc/{pid}/stat"))
            .await
            .unwrap_or_default();
        // A zombie (state Z after the closing paren) has exited.
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            return None;
        }
        let needle = format!("{}", dir.join("qmp.sock").display());
        String::from_utf8_lossy(&cmdline)
            .contains(&needle)
            .then_some(pid)
    }

    async fn qmp(&self, uuid: &str) -> Result<Qmp, DriverError> {
        Qmp::connect(&self.dir(uuid).join("qmp.sock"))
            .await
            .map_err(|e| err("QMP", oxstack_common::http::error_chain(&e)))
    }

    async fn qmp_do(&self, uuid: &str, cmd: &str) -> Result<(), DriverError> {
        let mut q = self.qmp(uuid).await?;
        q.execute(cmd, None)
            .await
            .map(|_| ())
            .map_err(|e| err(cmd, oxstack_common::http::error_chain(&e)))
    }

    async fn read_launch(&self, uuid: &str) -> Result<Launch, DriverError> {
        Self::valid(uuid)?;
        let bytes = tokio::fs::read(self.dir(uuid).join("launch.json"))
            .await
            .map_err(|_| DriverError(format!("Instance {uuid} could not be found.")))?;
        serde_json::from_slice(&bytes).map_err(|e| err("launch.json", e))
    }

    async fn write_launch(&self, l: &Launch) -> Result<(), DriverError> {
        let bytes = serde_json::to_vec_pretty(l).map_err(|e| err("launch.json", e))?;
        let dir = self.dir(&l.spec.uuid);
        tokio::fs::write(dir.join("launch.json.tmp"), bytes)
            .await
            .map_err(|e| err("launch.json", e))?;
        tokio::fs::rename(dir.join("launch.json.tmp"), dir.join("launch.json"))
            .await
            .map_err(|e| err("launch.json", e))
    }

    /// Starts the server's qemu (it daemonizes; the pid file says which process it is).
    async fn launch(&self, l: &Launch) -> Result<(), DriverError> {
        let dir = self.dir(&l.spec.uuid);
        let _ = tokio::fs::remove_file(dir.join("qmp.sock")).await;
        let _ = tokio::fs::remove_file(dir.join("suspended")).await;
        let args = command_line(&self.opts.config, self.accel, &dir, l);
        tracing::debug!(instance = %l.spec.uuid, ?args, "starting qemu");
        let out = Command::new(&self.opts.config.binary)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| err("cannot run qemu", e))?;
        if !out.status.success() {
            return Err(DriverError(format!(
                "qemu failed to start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Stops the server's qemu: ACPI powerdown and up to `graceful` for the guest to power
    /// off, then `quit`, then SIGKILL.
    async fn stop_process(
        &self,
        uuid: &str,
        graceful: Option<Duration>,
    ) -> Result<(), DriverError> {
        if self.pid(uuid).await.is_none() {
            return Ok(());
        }
        if let Some(t) = graceful {
            if self.qmp_do(uuid, "system_powerdown").await.is_ok() && self.wait_gone(uuid, t).await
            {
                return Ok(());
            }
            tracing::info!(
                instance = uuid,
                "guest did not power off in time; stopping it"
            );
        }
        let _ = self.qmp_do(uuid, "quit").await;
        if self.wait_gone(uuid, Duration::from_secs(10)).await {
            return Ok(());
        }
        if let Some(pid) = self.pid(uuid).await {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .await;
        }
        if self.wait_gone(uuid, Duration::from_secs(10)).await {
            Ok(())
        } else {
            Err(DriverError(format!("the qemu of {uuid} does not stop")))
        }
    }

    async fn wait_gone(&self, uuid: &str, t: Duration) -> bool {
        let end = Instant::now() + t;
        loop {
            if self.pid(uuid).await.is_none() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn running(&self, uuid: &str) -> Result<(), DriverError> {
        Self::valid(uuid)?;
        if self.pid(uuid).await.is_none() {
            return Err(DriverError(format!("Instance {uuid} is not running.")));
        }
        Ok(())
    }

    fn graceful(&self) -> Duration {
        Duration::from_secs(self.opts.config.shutdown_timeout_secs)
    }

    /// The cached copy of image `id` (fetched and verified once) and its record.
    async fn cached_image(&self, id: &str) -> Result<(PathBuf, Value), DriverError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(DriverError(format!("Image {id} could not be found.")));
        }
        let base = self.opts.instances_path.join("_base");
        let (file, meta_file) = (base.join(id), base.join(format!("{id}.json")));
        let lock = {
            let mut f = self.fetches.lock().await;
            f.entry(id.to_string()).or_default().clone()
        };
        let _held = lock.lock().await;
        if let (true, Ok(m)) = (
            tokio::fs::try_exists(&file).await.unwrap_or(false),
            tokio::fs::read(&meta_file).await,
        ) {
            let meta = serde_json::from_slice(&m).map_err(|e| err("image cache", e))?;
            return Ok((file, meta));
        }
        let token = self.opts.tokens.token().await.map_err(|e| {
            err(
                "no token for the image service",
                oxstack_common::http::error_chain(&e),
            )
        })?;
        let (meta, data) = self
            .opts
            .image
            .image_download(&token, id)
            .await
            .map_err(|e| {
                err(
                    &format!("cannot fetch image {id}"),
                    oxstack_common::http::error_chain(&e),
                )
            })?;
        verify_checksum(&meta, &data)?;
        let tmp = base.join(format!("{id}.part"));
        tokio::fs::write(&tmp, &data)
            .await
            .map_err(|e| err("image cache", e))?;
        tokio::fs::rename(&tmp, &file)
            .await
            .map_err(|e| err("image cache", e))?;
        tokio::fs::write(&meta_file, meta.to_string())
            .await
            .map_err(|e| err("image cache", e))?;
        tracing::info!(image = id, bytes = data.len(), "image cached");
        Ok((file, meta))
    }

    async fn qemu_img(&self, args: &[&str]) -> Result<String, DriverError> {
        let out = Command::new(&self.opts.config.qemu_img)
            .args(args)
            .output()
            .await
            .map_err(|e| err("cannot run qemu-img", e))?;
        if !out.status.success() {
            return Err(DriverError(format!(
                "qemu-img {} failed: {}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn virtual_size(&self, path: &Path) -> Result<u64, DriverError> {
        let p = path.display().to_string();
        let info = self.qemu_img(&["info", "--output=json", "-U", &p]).await?;
        let v: Value = serde_json::from_str(&info).map_err(|e| err("qemu-img info", e))?;
        Ok(v["virtual-size"].as_u64().unwrap_or(0))
    }

    /// Grows a disk to `gb` GiB (never shrinks).
    async fn grow(&self, path: &Path, gb: i64) -> Result<(), DriverError> {
        let want = u64::try_from(gb).unwrap_or(0) << 30;
        if want > self.virtual_size(path).await? {
            let p = path.display().to_string();
            self.qemu_img(&["resize", "-q", &p, &want.to_string()])
                .await?;
        }
        Ok(())
    }

    async fn prepare(&self, spec: &InstanceSpec) -> Result<Launch, DriverError> {
        let dir = self.dir(&spec.uuid);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| err("instance directory", e))?;
        // A volume-backed server boots from its volume: no image, no overlay; the
        // properties of the image the volume was made from may name a kernel to boot.
        let root_volume = spec
            .volumes
            .iter()
            .find(|v| v.boot_index == Some(0))
            .cloned();
        let meta = if let Some(v) = &root_volume {
            volumes::blockdev(v)?;
            v.image_metadata.clone().unwrap_or(Value::Null)
        } else {
            let (image, meta) = self.cached_image(&spec.image_ref).await?;
            let fmt = match meta["disk_format"].as_str() {
                Some("qcow2") => "qcow2",
                Some("vmdk") => "vmdk",
                Some("vdi") => "vdi",
                Some("vhd" | "vhdx") => "vpc",
                _ => "raw",
            };
            let disk = dir.join("disk").display().to_string();
            self.qemu_img(&[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                &image.display().to_string(),
                "-F",
                fmt,
                &disk,
            ])
            .await?;
            self.grow(&dir.join("disk"), spec.root_gb).await?;
            meta
        };
        let mut l = Launch {
            spec: spec.clone(),
            root_volume,
            ..Default::default()
        };
        // The other volumes are cold-plugged, each in its hot-plug slot.
        l.spec.volumes = Vec::new();
        for (slot, v) in spec
            .volumes
            .iter()
            .filter(|v| v.boot_index != Some(0))
            .enumerate()
        {
            l.volumes.push(volumes::AttachedVolume {
                volume: v.clone(),
                slot: slot as u32,
            });
        }
        if spec.ephemeral_gb > 0 {
            let p = dir.join("disk.eph0").display().to_string();
            let size = format!("{}G", spec.ephemeral_gb);
            self.qemu_img(&["create", "-q", "-f", "qcow2", &p, &size])
                .await?;
            l.ephemeral = true;
        }
        if spec.swap_mb > 0 {
            let p = dir.join("disk.swap").display().to_string();
            let size = format!("{}M", spec.swap_mb);
            self.qemu_img(&["create", "-q", "-f", "qcow2", &p, &size])
                .await?;
            l.swap = true;
        }
        // Direct kernel boot (aki/ari images), as Nova's libvirt driver does.
        let prop = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(k) = prop("kernel_id") {
            l.kernel = Some(self.cached_image(&k).await?.0);
            if let Some(r) = prop("ramdisk_id") {
                l.initrd = Some(self.cached_image(&r).await?.0);
            }
            l.cmdline = Some(
                prop("os_command_line")
                    .unwrap_or_else(|| self.opts.config.default_kernel_cmdline.clone()),
            );
        }
        if spec.config_drive || self.opts.config.force_config_drive {
            let (s, iso) = (spec.clone(), dir.join("disk.config"));
            tokio::task::spawn_blocking(move || configdrive::write(&s, &iso))
                .await
                .map_err(|e| err("config drive", e))?
                .map_err(|e| err("config drive", e))?;
            l.config_drive = true;
        }
        self.write_launch(&l).await?;
        Ok(l)
    }
}

/// The qemu command line of a server (`dir` is its instance directory).
pub fn command_line(c: &QemuConfig, accel: Accel, dir: &Path, l: &Launch) -> Vec<String> {
    let s = &l.spec;
    let p = |name: &str| dir.join(name).display().to_string();
    let mut a: Vec<String> = vec![
        "-name".into(),
        format!("guest={},debug-threads=on", s.name),
        "-uuid".into(),
        s.uuid.clone(),
        "-machine".into(),
        format!("{},accel={}", c.machine, accel.as_str()),
        "-smp".into(),
        s.vcpus.max(1).to_string(),
        "-m".into(),
        format!("{}M", s.memory_mb.max(16)),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
        "-chardev".into(),
        format!("file,id=console,path={},append=on", p("console.log")),
        "-serial".into(),
        "chardev:console".into(),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", p("qmp.sock")),
        "-pidfile".into(),
        p("qemu.pid"),
        "-daemonize".into(),
    ];
    match l.root_volume.as_ref().map(volumes::blockdev) {
        Some(Ok(b)) => {
            let id = b["node-name"].as_str().unwrap_or("vroot").to_string();
            a.push("-blockdev".into());
            a.push(b.to_string());
            a.push("-device".into());
            // A direct kernel boot holds boot index 0 (qemu's linuxboot ROM) already.
            if l.kernel.is_some() {
                a.push(format!("virtio-blk-pci,drive={id},id={id}"));
            } else {
                a.push(format!("virtio-blk-pci,drive={id},id={id},bootindex=0"));
            }
        }
        // An unusable root volume was refused at spawn; the image overlay otherwise.
        _ => {
            a.push("-drive".into());
            a.push(format!("file={},format=qcow2,if=virtio,index=0", p("disk")));
        }
    }
    let mut index = 1;
    for (on, name) in [(l.ephemeral, "disk.eph0"), (l.swap, "disk.swap")] {
        if on {
            a.push("-drive".into());
            a.push(format!(
                "file={},format=qcow2,if=virtio,index={index}",
                p(name)
            ));
            index += 1;
        }
    }
    if l.config_drive {
        a.push("-drive".into());
        a.push(format!(
            "file={},format=raw,if=virtio,index={index},readonly=on",
            p("disk.config")
        ));
    }
    a.extend(volumes::command_line(&c.machine, &l.volumes));
    if let Some(k) = &l.kernel {
        a.push("-kernel".into());
        a.push(k.display().to_string());
        if let Some(r) = &l.initrd {
            a.push("-initrd".into());
            a.push(r.display().to_string());
        }
        if let Some(cmd) = &l.cmdline {
            a.push("-append".into());
            a.push(cmd.clone());
        }
    }
    a
}

/// Checks the downloaded data against the record's `os_hash_value` (sha512) and
/// `checksum` (md5), whichever it has.
fn verify_checksum(meta: &Value, data: &[u8]) -> Result<(), DriverError> {
    if meta["os_hash_algo"].as_str() == Some("sha512")
        && let Some(want) = meta["os_hash_value"].as_str()
    {
        let got = hex(&sha2::Sha512::digest(data));
        if got != want {
            return Err(DriverError(format!(
                "image data does not match its sha512 ({got} != {want})"
            )));
        }
    }
    if let Some(want) = meta["checksum"].as_str() {
        let got = hex(&md5::Md5::digest(data));
        if got != want {
            return Err(DriverError(format!(
                "image data does not match its checksum ({got} != {want})"
            )));
        }
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `QEMU emulator version 7.2.22 (...)` → 7002022 (Nova's version number encoding).
fn parse_version(out: &str) -> i64 {
    let v = out
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or("0");
    let mut n = 0;
    for part in v.split('.').take(3).chain(std::iter::repeat("0")).take(3) {
        n = n * 1000 + part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Runs a probe guest under KVM: real-mode code at the reset vector that writes one byte to
/// the serial port. /dev/kvm must open read-write and the CPU must advertise hardware
/// virtualization (vmx/svm): some sandboxes offer a /dev/kvm that runs real mode but hangs
/// a Linux guest.
fn kvm_probe(binary: &Path, scratch: &Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("/dev/kvm: {e}"))?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if !cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
    {
        return Err("the CPU advertises no vmx/svm".into());
    }
    let bios = scratch.join("kvm-probe.bin");
    let log = scratch.join("kvm-probe.log");
    let mut rom = vec![0u8; 65536];
    // mov dx,0x3f8; mov al,'K'; out dx,al; hlt; jmp $-1
    let code = [0xBA, 0xF8, 0x03, 0xB0, 0x4B, 0xEE, 0xF4, 0xEB, 0xFD];
    rom[0xFFF0..0xFFF0 + code.len()].copy_from_slice(&code);
    std::fs::write(&bios, rom).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&log);
    let mut child = std::process::Command::new(binary)
        .args([
            "-accel",
            "kvm",
            "-machine",
            "pc",
            "-nodefaults",
            "-display",
            "none",
        ])
        .arg("-bios")
        .arg(&bios)
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let end = Instant::now() + Duration::from_secs(5);
    let mut ok = false;
    while Instant::now() < end {
        if std::fs::read(&log).is_ok_and(|b| b.contains(&b'K')) {
            ok = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&bios);
    let _ = std::fs::remove_file(&log);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the probe guest did not run: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn host_resources(c: &QemuConfig, path: &Path) -> HostResources {
    let vcpus = if c.vcpus > 0 {
        i64::from(c.vcpus)
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
    };
    let memory_mb = if c.memory_mb > 0 {
        c.memory_mb as i64
    } else {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<i64>().ok())
            })
            .map_or(1024, |kb| kb / 1024)
    };
    let disk_gb = if c.disk_gb > 0 {
        c.disk_gb as i64
    } else {
        // `df` reports the file system of the instances path.
        std::process::Command::new("df")
            .args(["-k", "--output=size"])
            .arg(path)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .nth(1)
                    .and_then(|l| l.trim().parse::<i64>().ok())
            })
            .map_or(100, |kb| kb >> 20)
    };
    HostResources {
        vcpus,
        memory_mb,
        disk_gb,
    }
}

#[async_trait]
impl ComputeDriver for QemuDriver {
    fn hypervisor_type(&self) -> &'static str {
        "QEMU"
    }
    fn hypervisor_version(&self) -> i64 {
        self.version
    }
    fn resources(&self) -> HostResources {
        self.resources
    }
    fn cpu_info(&self) -> Value {
        serde_json::json!({
            "arch": "x86_64",
            "model": if self.accel == Accel::Kvm { "host" } else { "qemu64" },
            "vendor": "QEMU",
            "accel": self.accel.as_str(),
            "topology": {"cells": 1, "sockets": 1, "cores": self.resources.vcpus, "threads": 1},
            "features": [],
        })
    }

    async fn attach_volume(&self, uuid: &str, volume: &VolumeSpec) -> Result<(), DriverError> {
        self.volume_attach(uuid, volume).await
    }

    async fn detach_volume(&self, uuid: &str, volume_id: &str) -> Result<(), DriverError> {
        self.volume_detach(uuid, volume_id).await
    }

    async fn spawn(&self, spec: &InstanceSpec) -> Result<(), DriverError> {
        Self::valid(&spec.uuid)?;
        let l = self.prepare(spec).await?;
        self.launch(&l).await
    }

    async fn destroy(&self, uuid: &str) -> Result<(), DriverError> {
        Self::valid(uuid)?;
        self.stop_process(uuid, None).await?;
        match tokio::fs::remove_dir_all(self.dir(uuid)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err("cannot remove the instance directory", e)),
        }
    }

    async fn reboot(&self, uuid: &str, hard: bool) -> Result<(), DriverError> {
        let l = self.read_launch(uuid).await?;
        if hard {
            // Nova's hard reboot: the guest is torn down and started again.
            self.stop_process(uuid, None).await?;
        } else {
            self.stop_process(uuid, Some(self.graceful())).await?;
        }
        self.launch(&l).await
    }

    async fn power_off(&self, uuid: &str) -> Result<(), DriverError> {
        Self::valid(uuid)?;
        self.stop_process(uuid, Some(self.graceful())).await
    }

    async fn power_on(&self, uuid: &str) -> Result<(), DriverError> {
        let l = self.read_launch(uuid).await?;
        if self.pid(uuid).await.is_some() {
            // Running already (or stopped by `stop`): make sure it runs.
            return self.qmp_do(uuid, "cont").await;
        }
        self.launch(&l).await
    }

    async fn pause(&self, uuid: &str) -> Result<(), DriverError> {
        self.running(uuid).await?;
        self.qmp_do(uuid, "stop").await
    }

    async fn unpause(&self, uuid: &str) -> Result<(), DriverError> {
        self.running(uuid).await?;
        self.qmp_do(uuid, "cont").await
    }

    // TODO-performance: save guest memory to disk and end the process (libvirt's managed
    // save) instead of keeping a stopped process.
    async fn suspend(&self, uuid: &str) -> Result<(), DriverError> {
        self.running(uuid).await?;
        self.qmp_do(uuid, "stop").await?;
        tokio::fs::write(self.dir(uuid).join("suspended"), b"")
            .await
            .map_err(|e| err("suspend", e))
    }

    async fn resume(&self, uuid: &str) -> Result<(), DriverError> {
        self.running(uuid).await?;
        self.qmp_do(uuid, "cont").await?;
        let _ = tokio::fs::remove_file(self.dir(uuid).join("suspended")).await;
        Ok(())
    }

    async fn resize(&self, spec: &InstanceSpec) -> Result<(), DriverError> {
        let mut l = self.read_launch(&spec.uuid).await?;
        let was_running = self.pid(&spec.uuid).await.is_some();
        self.stop_process(&spec.uuid, Some(self.graceful())).await?;
        // TODO-correctness: a revert to a smaller root disk keeps the grown disk.
        self.grow(&self.dir(&spec.uuid).join("disk"), spec.root_gb)
            .await?;
        l.spec.vcpus = spec.vcpus;
        l.spec.memory_mb = spec.memory_mb;
        l.spec.root_gb = spec.root_gb;
        self.write_launch(&l).await?;
        if was_running {
            self.launch(&l).await?;
        }
        Ok(())
    }

    async fn power_state(&self, uuid: &str) -> i64 {
        if Self::valid(uuid).is_err() {
            return power::NOSTATE;
        }
        let dir = self.dir(uuid);
        if self.pid(uuid).await.is_none() {
            return if tokio::fs::try_exists(dir.join("launch.json"))
                .await
                .unwrap_or(false)
            {
                power::SHUTDOWN
            } else {
                power::NOSTATE
            };
        }
        let status = match self.qmp(uuid).await {
            Ok(mut q) => q.status().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        match status.as_str() {
            "running" => power::RUNNING,
            "paused" => {
                if tokio::fs::try_exists(dir.join("suspended"))
                    .await
                    .unwrap_or(false)
                {
                    power::SUSPENDED
                } else {
                    power::PAUSED
                }
            }
            "suspended" => power::SUSPENDED,
            "shutdown" => power::SHUTDOWN,
            "internal-error" | "guest-panicked" | "io-error" => power::CRASHED,
            // The process runs but does not answer (yet): still running.
            _ => power::RUNNING,
        }
    }

    async fn console_output(&self, uuid: &str) -> Result<String, DriverError> {
        Self::valid(uuid)?;
        let dir = self.dir(uuid);
        if !tokio::fs::try_exists(dir.join("launch.json"))
            .await
            .unwrap_or(false)
        {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        let bytes = tokio::fs::read(dir.join("console.log"))
            .await
            .unwrap_or_default();
        // Nova returns at most the last 100 KiB of the log.
        const MAX: usize = 100 * 1024;
        let tail = &bytes[bytes.len().saturating_sub(MAX)..];
        Ok(String::from_utf8_lossy(tail).replace('\r', ""))
    }

    /// `qemu-img convert` of the root disk (its overlay and the cached image below it) into
    /// one qcow2 file. A running guest is paused for the copy (`stop` drains and flushes
    /// its I/O), so the copy is crash-consistent, and continues after it.
    // TODO-performance: stream the copy from its file instead of holding it in memory.
    async fn snapshot(&self, uuid: &str) -> Result<crate::clients::ImageData, DriverError> {
        Self::valid(uuid)?;
        let dir = self.dir(uuid);
        let disk = dir.join("disk");
        if !tokio::fs::try_exists(&disk).await.unwrap_or(false) {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        let part = dir.join("snapshot.part");
        let paused = self.power_state(uuid).await == power::RUNNING;
        if paused {
            self.qmp_do(uuid, "stop").await?;
        }
        let copied = self
            .qemu_img(&[
                "convert",
                "-U",
                "-f",
                "qcow2",
                "-O",
                "qcow2",
                &disk.display().to_string(),
                &part.display().to_string(),
            ])
            .await;
        if paused && let Err(e) = self.qmp_do(uuid, "cont").await {
            tracing::warn!(instance = uuid, error = %e.0, "guest not continued after its snapshot");
        }
        let data = match copied {
            Ok(_) => tokio::fs::read(&part).await.map_err(|e| err("snapshot", e)),
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&part).await;
        data.map(|d| crate::clients::image_data(d.into()))
    }

    async fn list(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(mut rd) = tokio::fs::read_dir(&self.opts.instances_path).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                let name = e.file_name().to_string_lossy().into_owned();
                if Self::valid(&name).is_ok() && e.path().join("launch.json").is_file() {
                    out.push(name);
                }
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec() -> InstanceSpec {
        InstanceSpec {
            uuid: "0b1e4ea4-5b1a-4c39-9d51-0f3a1c2c7a11".into(),
            name: "instance-0b1e4ea4".into(),
            display_name: "vm 1".into(),
            hostname: "vm-1".into(),
            project_id: "p1".into(),
            image_ref: "img".into(),
            vcpus: 1,
            memory_mb: 128,
            root_gb: 1,
            availability_zone: Some("nova".into()),
            ..Default::default()
        }
    }

    fn value_after<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn command_line_of_a_plain_server() {
        let c = QemuConfig::default();
        let l = Launch {
            spec: spec(),
            ..Default::default()
        };
        let a = command_line(&c, Accel::Tcg, Path::new("/i/u"), &l);
        assert_eq!(value_after(&a, "-machine"), ["q35,accel=tcg"]);
        assert_eq!(value_after(&a, "-smp"), ["1"]);
        assert_eq!(value_after(&a, "-m"), ["128M"]);
        assert_eq!(value_after(&a, "-uuid"), [spec().uuid.as_str()]);
        assert_eq!(value_after(&a, "-display"), ["none"]);
        assert!(a.contains(&"-nodefaults".to_string()));
        assert!(a.contains(&"-daemonize".to_string()));
        assert_eq!(
            value_after(&a, "-qmp"),
            ["unix:/i/u/qmp.sock,server=on,wait=off"]
        );
        assert_eq!(value_after(&a, "-pidfile"), ["/i/u/qemu.pid"]);
        assert_eq!(
            value_after(&a, "-chardev"),
            ["file,id=console,path=/i/u/console.log,append=on"]
        );
        assert_eq!(
            value_after(&a, "-drive"),
            ["file=/i/u/disk,format=qcow2,if=virtio,index=0"]
        );
        assert!(value_after(&a, "-kernel").is_empty());
    }

    #[test]
    fn command_line_with_kernel_disks_and_config_drive() {
        let c = QemuConfig::default();
        let mut s = spec();
        s.vcpus = 2;
        s.memory_mb = 512;
        let l = Launch {
            spec: s,
            kernel: Some("/b/k".into()),
            initrd: Some("/b/r".into()),
            cmdline: Some("console=ttyS0".into()),
            config_drive: true,
            ephemeral: true,
            swap: true,
            volumes: Vec::new(),
            root_volume: None,
        };
        let a = command_line(&c, Accel::Kvm, Path::new("/i/u"), &l);
        assert_eq!(value_after(&a, "-machine"), ["q35,accel=kvm"]);
        assert_eq!(value_after(&a, "-smp"), ["2"]);
        assert_eq!(value_after(&a, "-m"), ["512M"]);
        assert_eq!(value_after(&a, "-kernel"), ["/b/k"]);
        assert_eq!(value_after(&a, "-initrd"), ["/b/r"]);
        assert_eq!(value_after(&a, "-append"), ["console=ttyS0"]);
        assert_eq!(
            value_after(&a, "-drive"),
            [
                "file=/i/u/disk,format=qcow2,if=virtio,index=0",
                "file=/i/u/disk.eph0,format=qcow2,if=virtio,index=1",
                "file=/i/u/disk.swap,format=qcow2,if=virtio,index=2",
                "file=/i/u/disk.config,format=raw,if=virtio,index=3,readonly=on",
            ]
        );
    }

    #[test]
    fn an_instances_path_too_long_for_a_qmp_socket_is_refused() {
        let opts = |path: &str| QemuOptions {
            config: QemuConfig {
                binary: "/nonexistent/qemu".into(),
                ..Default::default()
            },
            instances_path: path.into(),
            image: Arc::new(crate::clients::FakeImageClient::default()),
            tokens: Arc::new(crate::clients::StaticToken("t".into())),
        };
        let long = format!("/{}", "d".repeat(61));
        let e = QemuDriver::new(opts(&long)).expect_err("too long");
        assert!(e.0.contains("too long"), "{}", e.0);
        // 61 bytes fit (it fails later, on the missing binary).
        let e = QemuDriver::new(opts(&long[..61])).expect_err("no qemu");
        assert!(e.0.contains("cannot run"), "{}", e.0);
    }

    #[test]
    fn versions_and_checksums() {
        assert_eq!(
            parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n"),
            7_002_022
        );
        assert_eq!(parse_version("QEMU emulator version 10.0.2\n"), 10_000_002);
        let data = b"hello";
        let ok = serde_json::json!({"checksum": "5d41402abc4b2a76b9719d911017c592"});
        assert!(verify_checksum(&ok, data).is_ok());
        let bad = serde_json::json!({"checksum": "00"});
        assert!(verify_checksum(&bad, data).is_err());
        let sha = serde_json::json!({"os_hash_algo": "sha512", "os_hash_value": "00"});
        assert!(verify_checksum(&sha, data).is_err());
    }
}
