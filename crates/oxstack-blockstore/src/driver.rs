//! The volume driver seam: what turns volume records into disks.
//!
//! Drivers get [`VolumeSpec`]s and [`SnapshotSpec`]s, never database rows. Every operation is
//! idempotent (a repeated create overwrites, a repeated delete of a missing disk succeeds) so
//! that work interrupted by a crash can simply be run again or undone on restart.
//! [`FileDriver`] keeps raw or qcow2 files made with `qemu-img`; [`FakeDriver`] only records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};

/// What a driver needs to know about a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub id: String,
    pub size_gb: i64,
    /// `raw` or `qcow2`.
    pub format: String,
}

/// What a driver needs to know about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSpec {
    pub id: String,
    pub volume_id: String,
}

/// A driver failure; the volume goes to an error state and the detail is logged.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0} failed: {1}")]
    Command(String, String),
    #[error("I/O on {0}")]
    Io(String, #[source] std::io::Error),
    #[error("{0} not found")]
    Missing(String),
}

/// The ids of the volumes and snapshots a driver holds data of, whole or half-made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disks {
    pub volumes: BTreeSet<String>,
    pub snapshots: BTreeSet<String>,
}

/// The `qemu-img` output format of an image `disk_format` (Cinder's `fixup_disk_format`).
pub fn qemu_format(disk_format: &str) -> Option<&'static str> {
    Some(match disk_format {
        "raw" => "raw",
        "qcow2" => "qcow2",
        "vmdk" => "vmdk",
        "vdi" => "vdi",
        "vhd" => "vpc",
        "vhdx" => "vhdx",
        "ploop" => "parallels",
        _ => return None,
    })
}

/// A volume backend.
#[async_trait]
pub trait VolumeDriver: Send + Sync + std::fmt::Debug {
    /// Makes an empty volume of `spec.size_gb`.
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError>;
    /// Makes `spec` as a copy of the snapshot's data, grown to `spec.size_gb`.
    async fn create_from_snapshot(
        &self,
        spec: &VolumeSpec,
        snapshot: &SnapshotSpec,
    ) -> Result<(), DriverError>;
    /// Makes `spec` as a copy of `source`, grown to `spec.size_gb`.
    async fn clone_volume(&self, spec: &VolumeSpec, source: &VolumeSpec)
    -> Result<(), DriverError>;
    /// Makes `spec` from image data in `image` (of `disk_format`), converted and grown.
    async fn create_from_image(
        &self,
        spec: &VolumeSpec,
        image: &Path,
        disk_format: &str,
    ) -> Result<(), DriverError>;
    /// Removes the volume's disk; a missing disk is not an error.
    async fn delete_volume(&self, id: &str) -> Result<(), DriverError>;
    /// Grows the volume to `spec.size_gb`.
    async fn extend_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError>;
    /// Takes a point-in-time copy of `volume`.
    async fn create_snapshot(
        &self,
        snapshot: &SnapshotSpec,
        volume: &VolumeSpec,
    ) -> Result<(), DriverError>;
    /// Removes the snapshot's data; a missing one is not an error.
    async fn delete_snapshot(&self, id: &str) -> Result<(), DriverError>;
    /// Makes the volume's data readable as an image of `disk_format` (one [`qemu_format`]
    /// knows): answers the volume's own file when it already has that format, else converts
    /// it into `scratch` and answers `scratch`. The caller removes `scratch`.
    async fn export_volume(
        &self,
        spec: &VolumeSpec,
        disk_format: &str,
        scratch: &Path,
    ) -> Result<PathBuf, DriverError>;
    /// Every volume and snapshot the driver holds data of, so that restart recovery can
    /// remove what no record owns.
    async fn disks(&self) -> Result<Disks, DriverError>;
    /// How a host reaches the volume (`connection_info` of os-initialize_connection and
    /// attachments): `{"driver_volume_type": "file", "data": {"device_path", "format"}}`.
    fn connection_info(&self, spec: &VolumeSpec) -> Value;
}

/// Volumes as files under one directory: `volume-<id>.<format>`, snapshots as full qcow2
/// copies `snapshot-<id>.qcow2` (so a snapshot does not depend on its volume's file).
#[derive(Debug)]
pub struct FileDriver {
    dir: PathBuf,
    qemu_img: PathBuf,
}

impl FileDriver {
    /// A driver keeping files in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            qemu_img: PathBuf::from("qemu-img"),
        })
    }

    fn volume_path(&self, id: &str, format: &str) -> PathBuf {
        self.dir.join(format!("volume-{id}.{format}"))
    }

    fn snapshot_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("snapshot-{id}.qcow2"))
    }

    /// The file of volume `id`, whichever format it has.
    fn find_volume(&self, id: &str) -> Option<(PathBuf, &'static str)> {
        ["raw", "qcow2"]
            .into_iter()
            .map(|f| (self.volume_path(id, f), f))
            .find(|(p, _)| p.exists())
    }

    async fn qemu_img(&self, args: &[&str]) -> Result<(), DriverError> {
        let out = tokio::process::Command::new(&self.qemu_img)
            .args(args)
            .output()
            .await
            .map_err(|e| DriverError::Io("qemu-img".into(), e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(DriverError::Command(
                format!("qemu-img {}", args.first().copied().unwrap_or("")),
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    /// Writes `dst` (in `spec.format`) as a converted copy of `src`, then grows it. Written to
    /// a temporary name and renamed so a crash never leaves a half-copied volume file.
    async fn copy_into(&self, src: &Path, spec: &VolumeSpec) -> Result<(), DriverError> {
        self.convert_into(src, None, spec).await
    }

    async fn convert_into(
        &self,
        src: &Path,
        src_format: Option<&str>,
        spec: &VolumeSpec,
    ) -> Result<(), DriverError> {
        let dst = self.volume_path(&spec.id, &spec.format);
        let tmp = dst.with_extension("part");
        let s = src.to_string_lossy().to_string();
        let t = tmp.to_string_lossy().to_string();
        let mut args = vec!["convert"];
        if let Some(f) = src_format {
            args.extend(["-f", f]);
        }
        args.extend(["-O", spec.format.as_str(), s.as_str(), t.as_str()]);
        self.qemu_img(&args).await?;
        self.qemu_img(&[
            "resize",
            "-f",
            &spec.format,
            &t,
            &format!("{}G", spec.size_gb),
        ])
        .await?;
        tokio::fs::rename(&tmp, &dst)
            .await
            .map_err(|e| DriverError::Io(dst.display().to_string(), e))
    }
}

async fn remove_if_present(p: &Path) -> Result<(), DriverError> {
    match tokio::fs::remove_file(p).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DriverError::Io(p.display().to_string(), e)),
    }
}

#[async_trait]
impl VolumeDriver for FileDriver {
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError> {
        let p = self.volume_path(&spec.id, &spec.format);
        let s = p.to_string_lossy().to_string();
        self.qemu_img(&[
            "create",
            "-q",
            "-f",
            &spec.format,
            &s,
            &format!("{}G", spec.size_gb),
        ])
        .await
    }

    async fn create_from_snapshot(
        &self,
        spec: &VolumeSpec,
        snapshot: &SnapshotSpec,
    ) -> Result<(), DriverError> {
        let src = self.snapshot_path(&snapshot.id);
        if !src.exists() {
            return Err(DriverError::Missing(src.display().to_string()));
        }
        self.copy_into(&src, spec).await
    }

    async fn clone_volume(
        &self,
        spec: &VolumeSpec,
        source: &VolumeSpec,
    ) -> Result<(), DriverError> {
        let (src, _) = self
            .find_volume(&source.id)
            .ok_or_else(|| DriverError::Missing(format!("volume {}", source.id)))?;
        self.copy_into(&src, spec).await
    }

    async fn create_from_image(
        &self,
        spec: &VolumeSpec,
        image: &Path,
        disk_format: &str,
    ) -> Result<(), DriverError> {
        // Only formats qemu-img reads safely by name; anything else is probed.
        let f =
            matches!(disk_format, "raw" | "qcow2" | "vmdk" | "vdi" | "vhdx").then_some(disk_format);
        self.convert_into(image, f, spec).await
    }

    async fn delete_volume(&self, id: &str) -> Result<(), DriverError> {
        for f in ["raw", "qcow2"] {
            let p = self.volume_path(id, f);
            remove_if_present(&p).await?;
            remove_if_present(&p.with_extension("part")).await?;
        }
        Ok(())
    }

    async fn extend_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError> {
        let (p, f) = self
            .find_volume(&spec.id)
            .ok_or_else(|| DriverError::Missing(format!("volume {}", spec.id)))?;
        let s = p.to_string_lossy().to_string();
        self.qemu_img(&["resize", "-f", f, &s, &format!("{}G", spec.size_gb)])
            .await
    }

    async fn create_snapshot(
        &self,
        snapshot: &SnapshotSpec,
        volume: &VolumeSpec,
    ) -> Result<(), DriverError> {
        let (src, _) = self
            .find_volume(&volume.id)
            .ok_or_else(|| DriverError::Missing(format!("volume {}", volume.id)))?;
        let dst = self.snapshot_path(&snapshot.id);
        let tmp = dst.with_extension("part");
        let s = src.to_string_lossy().to_string();
        let t = tmp.to_string_lossy().to_string();
        self.qemu_img(&["convert", "-O", "qcow2", &s, &t]).await?;
        tokio::fs::rename(&tmp, &dst)
            .await
            .map_err(|e| DriverError::Io(dst.display().to_string(), e))
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), DriverError> {
        let p = self.snapshot_path(id);
        remove_if_present(&p).await?;
        remove_if_present(&p.with_extension("part")).await
    }

    async fn export_volume(
        &self,
        spec: &VolumeSpec,
        disk_format: &str,
        scratch: &Path,
    ) -> Result<PathBuf, DriverError> {
        let (src, fmt) = self
            .find_volume(&spec.id)
            .ok_or_else(|| DriverError::Missing(format!("volume {}", spec.id)))?;
        if fmt == disk_format {
            return Ok(src);
        }
        let out = qemu_format(disk_format).ok_or_else(|| {
            DriverError::Command(
                "export".into(),
                format!("unknown disk format {disk_format}"),
            )
        })?;
        let s = src.to_string_lossy().to_string();
        let t = scratch.to_string_lossy().to_string();
        // The source format is given, never probed (a guest may have written an image header
        // into a raw volume); -U reads a volume a running guest holds locked.
        self.qemu_img(&["convert", "-U", "-f", fmt, "-O", out, &s, &t])
            .await?;
        Ok(scratch.to_path_buf())
    }

    async fn disks(&self) -> Result<Disks, DriverError> {
        let io = |e| DriverError::Io(self.dir.display().to_string(), e);
        let mut out = Disks::default();
        let mut dir = tokio::fs::read_dir(&self.dir).await.map_err(io)?;
        while let Some(e) = dir.next_entry().await.map_err(io)? {
            let name = e.file_name().to_string_lossy().to_string();
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            if let Some(id) = stem.strip_prefix("volume-")
                && matches!(ext, "raw" | "qcow2" | "part")
            {
                out.volumes.insert(id.to_string());
            } else if let Some(id) = stem.strip_prefix("snapshot-")
                && matches!(ext, "qcow2" | "part")
            {
                out.snapshots.insert(id.to_string());
            }
        }
        Ok(out)
    }

    fn connection_info(&self, spec: &VolumeSpec) -> Value {
        let (path, format) = self
            .find_volume(&spec.id)
            .unwrap_or_else(|| (self.volume_path(&spec.id, &spec.format), "raw"));
        let format = if spec.format == "qcow2" {
            "qcow2"
        } else {
            format
        };
        json!({
            "driver_volume_type": "file",
            "data": {"device_path": path.to_string_lossy(), "format": format},
        })
    }
}

/// A driver that keeps only a record of its disks (sizes by id), for tests.
#[derive(Debug, Default)]
pub struct FakeDriver {
    volumes: Mutex<BTreeMap<String, i64>>,
    snapshots: Mutex<BTreeMap<String, i64>>,
    /// When set, every create fails (to test error states).
    pub fail_creates: std::sync::atomic::AtomicBool,
}

impl FakeDriver {
    /// The volumes the driver holds, with their sizes.
    pub fn volumes(&self) -> BTreeMap<String, i64> {
        self.volumes.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// The snapshots the driver holds.
    pub fn snapshots(&self) -> Vec<String> {
        self.snapshots
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    fn failing(&self) -> Result<(), DriverError> {
        if self.fail_creates.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DriverError::Command(
                "fake create".into(),
                "told to fail".into(),
            ));
        }
        Ok(())
    }
    fn put(&self, id: &str, size: i64) {
        if let Ok(mut m) = self.volumes.lock() {
            m.insert(id.to_string(), size);
        }
    }
}

#[async_trait]
impl VolumeDriver for FakeDriver {
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError> {
        self.failing()?;
        self.put(&spec.id, spec.size_gb);
        Ok(())
    }
    async fn create_from_snapshot(
        &self,
        spec: &VolumeSpec,
        snapshot: &SnapshotSpec,
    ) -> Result<(), DriverError> {
        self.failing()?;
        let known = self
            .snapshots
            .lock()
            .map(|m| m.contains_key(&snapshot.id))
            .unwrap_or(false);
        if !known {
            return Err(DriverError::Missing(format!("snapshot {}", snapshot.id)));
        }
        self.put(&spec.id, spec.size_gb);
        Ok(())
    }
    async fn clone_volume(
        &self,
        spec: &VolumeSpec,
        source: &VolumeSpec,
    ) -> Result<(), DriverError> {
        self.failing()?;
        if !self.volumes().contains_key(&source.id) {
            return Err(DriverError::Missing(format!("volume {}", source.id)));
        }
        self.put(&spec.id, spec.size_gb);
        Ok(())
    }
    async fn create_from_image(
        &self,
        spec: &VolumeSpec,
        image: &Path,
        _disk_format: &str,
    ) -> Result<(), DriverError> {
        self.failing()?;
        if !image.exists() {
            return Err(DriverError::Missing(image.display().to_string()));
        }
        self.put(&spec.id, spec.size_gb);
        Ok(())
    }
    async fn delete_volume(&self, id: &str) -> Result<(), DriverError> {
        if let Ok(mut m) = self.volumes.lock() {
            m.remove(id);
        }
        Ok(())
    }
    async fn extend_volume(&self, spec: &VolumeSpec) -> Result<(), DriverError> {
        if !self.volumes().contains_key(&spec.id) {
            return Err(DriverError::Missing(format!("volume {}", spec.id)));
        }
        self.put(&spec.id, spec.size_gb);
        Ok(())
    }
    async fn create_snapshot(
        &self,
        snapshot: &SnapshotSpec,
        volume: &VolumeSpec,
    ) -> Result<(), DriverError> {
        let size = self
            .volumes()
            .get(&volume.id)
            .copied()
            .ok_or_else(|| DriverError::Missing(format!("volume {}", volume.id)))?;
        if let Ok(mut m) = self.snapshots.lock() {
            m.insert(snapshot.id.clone(), size);
        }
        Ok(())
    }
    async fn delete_snapshot(&self, id: &str) -> Result<(), DriverError> {
        if let Ok(mut m) = self.snapshots.lock() {
            m.remove(id);
        }
        Ok(())
    }
    async fn export_volume(
        &self,
        spec: &VolumeSpec,
        disk_format: &str,
        scratch: &Path,
    ) -> Result<PathBuf, DriverError> {
        if !self.volumes().contains_key(&spec.id) {
            return Err(DriverError::Missing(format!("volume {}", spec.id)));
        }
        let data = format!("fake {disk_format} image of volume {}", spec.id);
        tokio::fs::write(scratch, data)
            .await
            .map_err(|e| DriverError::Io(scratch.display().to_string(), e))?;
        Ok(scratch.to_path_buf())
    }
    async fn disks(&self) -> Result<Disks, DriverError> {
        Ok(Disks {
            volumes: self.volumes().into_keys().collect(),
            snapshots: self.snapshots().into_iter().collect(),
        })
    }
    fn connection_info(&self, spec: &VolumeSpec) -> Value {
        json!({
            "driver_volume_type": "file",
            "data": {"device_path": format!("/fake/volume-{}.{}", spec.id, spec.format), "format": spec.format},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have_qemu_img() -> bool {
        std::process::Command::new("qemu-img")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[tokio::test]
    async fn file_driver_makes_extends_snapshots_clones_and_deletes_files() {
        if !have_qemu_img() {
            eprintln!("qemu-img missing; skipped");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = FileDriver::new(dir.path()).expect("driver");
        let v = VolumeSpec {
            id: "v1".into(),
            size_gb: 1,
            format: "qcow2".into(),
        };
        d.create_volume(&v).await.expect("create");
        let p = dir.path().join("volume-v1.qcow2");
        assert!(p.exists());
        d.extend_volume(&VolumeSpec {
            size_gb: 2,
            ..v.clone()
        })
        .await
        .expect("extend");
        let info = std::process::Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(&p)
            .output()
            .expect("info");
        let info: Value = serde_json::from_slice(&info.stdout).expect("json");
        assert_eq!(info["virtual-size"], 2_i64 << 30);
        let s = SnapshotSpec {
            id: "s1".into(),
            volume_id: "v1".into(),
        };
        d.create_snapshot(&s, &v).await.expect("snapshot");
        let raw = VolumeSpec {
            id: "v2".into(),
            size_gb: 3,
            format: "raw".into(),
        };
        d.create_from_snapshot(&raw, &s)
            .await
            .expect("from snapshot");
        assert_eq!(
            std::fs::metadata(dir.path().join("volume-v2.raw"))
                .expect("meta")
                .len(),
            3_u64 << 30
        );
        d.clone_volume(
            &VolumeSpec {
                id: "v3".into(),
                ..raw.clone()
            },
            &raw,
        )
        .await
        .expect("clone");
        let ci = d.connection_info(&raw);
        assert_eq!(ci["driver_volume_type"], "file");
        assert_eq!(ci["data"]["format"], "raw");
        let scratch = dir.path().join("export");
        assert_eq!(
            d.export_volume(&raw, "raw", &scratch)
                .await
                .expect("export"),
            dir.path().join("volume-v2.raw"),
            "same format: the volume's own file"
        );
        assert!(!scratch.exists());
        assert_eq!(
            d.export_volume(&raw, "vhd", &scratch)
                .await
                .expect("export"),
            scratch
        );
        let info = std::process::Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(&scratch)
            .output()
            .expect("info");
        let info: Value = serde_json::from_slice(&info.stdout).expect("json");
        assert_eq!(info["format"], "vpc");
        std::fs::remove_file(&scratch).expect("rm");
        let disks = d.disks().await.expect("disks");
        assert_eq!(
            disks.volumes.into_iter().collect::<Vec<_>>(),
            ["v1", "v2", "v3"]
        );
        assert_eq!(disks.snapshots.into_iter().collect::<Vec<_>>(), ["s1"]);
        for id in ["v1", "v2", "v3"] {
            d.delete_volume(id).await.expect("delete");
        }
        d.delete_snapshot("s1").await.expect("delete snapshot");
        d.delete_volume("v1").await.expect("idempotent");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
