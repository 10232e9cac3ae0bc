//! Fernet keys and the on-disk key repository, in Keystone's layout so that
//! `keystone-manage fernet_setup` / `fernet_rotate` repositories and ours are
//! interchangeable (and can be synced between nodes with the same tooling).
//!
//! A repository is a directory (mode 0700) of files (mode 0600) named by
//! non-negative integers, each holding one urlsafe-base64 32-byte key:
//!
//! - `0` is the *staged* key: distributed to every node but not yet used to
//!   encrypt, so that after the next rotation every node can already decrypt
//!   what the new primary makes;
//! - the highest number is the *primary* key, which encrypts new tokens;
//! - the numbers in between are *secondary* keys, kept only to decrypt tokens
//!   made before the last rotations.
//!
//! Every file is written to `0.tmp` first and renamed into place, so a crash
//! never leaves a half-written key behind.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_PAD_INDIFFERENT};

/// The name of the staged key's file.
const STAGED: u32 = 0;
/// Where a new key is written before it is renamed into place. Keystone uses
/// the same name, and both tools ignore it when loading since it is not a
/// number.
const TMP_NAME: &str = "0.tmp";

/// One Fernet key: a 128-bit HMAC-SHA256 signing key and a 128-bit AES
/// encryption key. `Debug` never prints the key material.
#[derive(Clone, PartialEq, Eq)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(..)")
    }
}

/// A string that is not a urlsafe-base64 encoding of 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a urlsafe-base64 encoded 32-byte Fernet key")]
pub struct InvalidKey;

impl FernetKey {
    /// Makes a new random key from the operating system's CSPRNG (via
    /// `rand`'s thread generator, which is seeded from and reseeded by it).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut signing = [0u8; 16];
        let mut encryption = [0u8; 16];
        signing.copy_from_slice(&bytes[..16]);
        encryption.copy_from_slice(&bytes[16..]);
        Self {
            signing,
            encryption,
        }
    }

    /// Parses a key as Keystone and `cryptography.fernet` store it: urlsafe
    /// base64 of 32 bytes, normally with `=` padding (accepted without).
    /// Surrounding whitespace, such as a trailing newline left by an editor,
    /// is ignored, as Python's lenient base64 decoder ignores it.
    pub fn from_base64(encoded: &str) -> Result<Self, InvalidKey> {
        let bytes = URL_SAFE_PAD_INDIFFERENT
            .decode(encoded.trim())
            .map_err(|_| InvalidKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| InvalidKey)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The key in its file format: 44 characters of padded urlsafe base64.
    pub fn to_base64(&self) -> String {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&self.signing);
        bytes[16..].copy_from_slice(&self.encryption);
        URL_SAFE.encode(bytes)
    }

    pub(crate) fn signing_key(&self) -> &[u8; 16] {
        &self.signing
    }

    pub(crate) fn encryption_key(&self) -> &[u8; 16] {
        &self.encryption
    }
}

/// The keys in effect: the primary first (it encrypts), then the others by
/// descending number, ending with the staged key (all of them decrypt).
/// Never empty.
#[derive(Debug, Clone)]
pub struct Keys {
    keys: Vec<FernetKey>,
}

impl Keys {
    /// Builds a key set from keys in order of preference, primary first.
    /// Returns `None` when `keys` is empty.
    pub fn new(keys: Vec<FernetKey>) -> Option<Self> {
        if keys.is_empty() {
            None
        } else {
            Some(Self { keys })
        }
    }

    /// The key that encrypts new tokens.
    pub fn primary(&self) -> &FernetKey {
        // `new` and `load` never build an empty set.
        &self.keys[0]
    }

    /// Every key, primary first; all of them are tried when decrypting.
    pub fn all(&self) -> &[FernetKey] {
        &self.keys
    }
}

/// Failures of the key repository. Each names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum KeyRepositoryError {
    /// The directory is missing or cannot be listed.
    #[error("Fernet key repository {path} is missing or unreadable")]
    Unreadable {
        /// The repository directory.
        path: PathBuf,
        /// Why listing it failed.
        #[source]
        source: io::Error,
    },
    /// The directory holds no key files (run setup first).
    #[error("Fernet key repository {path} holds no keys; run fernet setup first")]
    Empty {
        /// The repository directory.
        path: PathBuf,
    },
    /// A key file does not hold a valid key.
    #[error("Fernet key file {path} does not hold a urlsafe-base64 32-byte key")]
    GarbledKey {
        /// The offending key file.
        path: PathBuf,
    },
    /// Rotation needs a staged key `0` to promote.
    #[error("Fernet key repository {path} has no staged key 0 to promote; run fernet setup")]
    NoStagedKey {
        /// The repository directory.
        path: PathBuf,
    },
    /// `max_active_keys` below 2 would purge the new primary key.
    #[error("max_active_keys must be at least 2 (staged + primary), got {0}")]
    TooFewActiveKeys(usize),
    /// A file system operation failed.
    #[error("I/O error on Fernet key repository path {path}")]
    Io {
        /// The file or directory being worked on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyRepositoryError + '_ {
    move |source| KeyRepositoryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Parses a key file name. Only canonical decimal numbers count: Keystone
/// skips non-numeric names (such as `0.tmp`), and we also skip oddities like
/// `01` so that two files can never claim the same number.
fn key_number(name: &std::ffi::OsStr) -> Option<u32> {
    let name = name.to_str()?;
    let n: u32 = name.parse().ok()?;
    (n.to_string() == name).then_some(n)
}

/// Lists the key files of a repository, ascending by number, with their
/// contents. Empty files are skipped with a warning, as Keystone does.
fn key_files(dir: &Path) -> Result<Vec<(u32, PathBuf, String)>, KeyRepositoryError> {
    let entries = fs::read_dir(dir).map_err(|source| KeyRepositoryError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let Some(n) = key_number(&entry.file_name()) else {
            continue;
        };
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let content = fs::read_to_string(&path).map_err(io_err(&path))?;
        if content.trim().is_empty() {
            tracing::warn!(path = %path.display(), "ignoring empty Fernet key file");
            continue;
        }
        files.push((n, path, content));
    }
    files.sort_by_key(|(n, _, _)| *n);
    Ok(files)
}

/// Writes `key` to `dir/name` atomically: into `0.tmp` (mode 0600), flushed
/// to disk, then renamed over the target. A crash at any point leaves either
/// the old file or the complete new one (plus maybe a stray `0.tmp`, which
/// loading ignores and the next write replaces).
fn write_key_atomically(dir: &Path, name: &str, key: &FernetKey) -> Result<(), KeyRepositoryError> {
    let tmp = dir.join(TMP_NAME);
    write_tmp_key(&tmp, key)?;
    let target = dir.join(name);
    fs::rename(&tmp, &target).map_err(io_err(&target))?;
    sync_dir(dir)
}

/// Writes a key to the temporary file, replacing any leftover from a crash.
fn write_tmp_key(tmp: &Path, key: &FernetKey) -> Result<(), KeyRepositoryError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(io_err(tmp))?;
    // `mode` only applies when the file is created; a leftover temp file may
    // have other permissions, and a key must never be readable by others.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io_err(tmp))?;
    file.write_all(key.to_base64().as_bytes())
        .map_err(io_err(tmp))?;
    file.sync_all().map_err(io_err(tmp))
}

/// Makes renames and unlinks in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), KeyRepositoryError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Initializes a key repository the way `keystone-manage fernet_setup` does:
/// creates the directory (mode 0700) if needed, then, unless a staged key `0`
/// already exists, writes one and rotates, leaving a staged key `0` and a
/// primary key `1`. Idempotent: an initialized repository is left untouched.
pub fn setup(dir: &Path) -> Result<(), KeyRepositoryError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    if dir.join(STAGED.to_string()).exists() {
        return Ok(());
    }
    write_key_atomically(dir, &STAGED.to_string(), &FernetKey::generate())?;
    // Setup never purges: whatever keys were there stay usable.
    rotate_inner(dir, usize::MAX).map(|_| ())
}

/// Rotates the keys the way `keystone-manage fernet_rotate` does: the staged
/// key `0` becomes the new primary (numbered one above the current highest),
/// a fresh staged key `0` is written, and the oldest secondary keys are
/// deleted until `max_active_keys` keys remain (staged and primary included).
/// Returns the new primary's number.
///
/// Unlike Keystone, which renames `0` away and then renames the new key in
/// (leaving no staged key if it crashes in between), the old staged key is
/// hard-linked to its new number first and the new staged key then replaces
/// `0` in one rename, so the repository is complete at every instant.
/// `max_active_keys` must be at least 2; Keystone accepts 1 but would then
/// delete the key it just promoted.
pub fn rotate(dir: &Path, max_active_keys: usize) -> Result<u32, KeyRepositoryError> {
    if max_active_keys < 2 {
        return Err(KeyRepositoryError::TooFewActiveKeys(max_active_keys));
    }
    rotate_inner(dir, max_active_keys)
}

fn rotate_inner(dir: &Path, max_active_keys: usize) -> Result<u32, KeyRepositoryError> {
    let files = key_files(dir)?;
    if files.first().map(|(n, _, _)| *n) != Some(STAGED) {
        return Err(KeyRepositoryError::NoStagedKey {
            path: dir.to_path_buf(),
        });
    }
    // Refuse to promote a garbled staged key: every token would be unreadable
    // by nodes that (correctly) fail to load it.
    for (_, path, content) in &files {
        FernetKey::from_base64(content)
            .map_err(|_| KeyRepositoryError::GarbledKey { path: path.clone() })?;
    }
    // `files` is sorted and non-empty (it starts with 0), so the last is the highest.
    let highest = files.last().map_or(STAGED, |(n, _, _)| *n);
    let new_primary = highest
        .checked_add(1)
        .ok_or_else(|| KeyRepositoryError::Io {
            path: dir.to_path_buf(),
            source: io::Error::other("key numbers exhausted"),
        })?;

    let tmp = dir.join(TMP_NAME);
    write_tmp_key(&tmp, &FernetKey::generate())?;
    let staged = dir.join(STAGED.to_string());
    let promoted = dir.join(new_primary.to_string());
    fs::hard_link(&staged, &promoted).map_err(io_err(&promoted))?;
    fs::rename(&tmp, &staged).map_err(io_err(&staged))?;
    sync_dir(dir)?;

    // Everything but the staged key, newest first; keep max_active_keys - 1
    // of them (the staged key is the remaining one).
    let mut active: Vec<(u32, PathBuf)> = files
        .into_iter()
        .filter(|(n, _, _)| *n != STAGED)
        .map(|(n, path, _)| (n, path))
        .collect();
    active.push((new_primary, promoted));
    active.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let keep = max_active_keys.saturating_sub(1);
    if active.len() > keep {
        for (_, path) in active.drain(keep..) {
            fs::remove_file(&path).map_err(io_err(&path))?;
            tracing::info!(path = %path.display(), "purged excess Fernet key");
        }
        sync_dir(dir)?;
    }
    Ok(new_primary)
}

/// Loads every key of a repository, primary (highest number) first and the
/// staged key `0` last, as Keystone orders them. Fails when the directory is
/// missing, holds no keys, or any key file is garbled: a node that silently
/// dropped a key would reject its peers' tokens.
pub fn load(dir: &Path) -> Result<Keys, KeyRepositoryError> {
    let files = key_files(dir)?;
    if let Ok(meta) = fs::metadata(dir)
        && meta.permissions().mode() & 0o005 != 0
    {
        tracing::warn!(path = %dir.display(), "Fernet key repository is world-accessible");
    }
    let mut keys = Vec::with_capacity(files.len());
    for (_, path, content) in files.into_iter().rev() {
        let key = FernetKey::from_base64(&content)
            .map_err(|_| KeyRepositoryError::GarbledKey { path: path.clone() })?;
        keys.push(key);
    }
    Keys::new(keys).ok_or_else(|| KeyRepositoryError::Empty {
        path: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort_by_key(|s| (s.len(), s.clone()));
        v
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).expect("read key")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn key_base64_round_trip_and_debug_hides_material() {
        let k = FernetKey::generate();
        let s = k.to_base64();
        assert_eq!(s.len(), 44);
        assert_eq!(FernetKey::from_base64(&s), Ok(k.clone()));
        assert_eq!(FernetKey::from_base64(&format!("{s}\n")), Ok(k.clone()));
        assert_eq!(
            FernetKey::from_base64(s.trim_end_matches('=')),
            Ok(k.clone())
        );
        assert_eq!(format!("{k:?}"), "FernetKey(..)");
        assert_eq!(FernetKey::from_base64("c2hvcnQ="), Err(InvalidKey));
        assert_eq!(FernetKey::from_base64("!!not base64!!"), Err(InvalidKey));
        assert_ne!(FernetKey::generate(), FernetKey::generate());
    }

    #[test]
    fn setup_creates_staged_and_primary_with_private_modes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("fernet-keys");
        setup(&dir).expect("setup");
        assert_eq!(names(&dir), ["0", "1"]);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("0")), 0o600);
        assert_eq!(mode(&dir.join("1")), 0o600);
        assert_ne!(read(&dir, "0"), read(&dir, "1"));

        let keys = load(&dir).expect("load");
        assert_eq!(keys.all().len(), 2);
        let primary = FernetKey::from_base64(&read(&dir, "1")).expect("key 1");
        assert_eq!(keys.primary(), &primary);
    }

    #[test]
    fn setup_is_idempotent() {
        let tmp = tempfile::tempdir().expect("tempdir");
        setup(tmp.path()).expect("setup");
        let before = (read(tmp.path(), "0"), read(tmp.path(), "1"));
        setup(tmp.path()).expect("setup again");
        assert_eq!(names(tmp.path()), ["0", "1"]);
        assert_eq!(before, (read(tmp.path(), "0"), read(tmp.path(), "1")));
    }

    #[test]
    fn rotate_promotes_staged_and_purges_oldest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        setup(dir).expect("setup");
        let staged = read(dir, "0");
        let first_primary = read(dir, "1");

        assert_eq!(rotate(dir, 3).expect("rotate"), 2);
        assert_eq!(names(dir), ["0", "1", "2"]);
        // The staged key became the primary; a fresh key is staged.
        assert_eq!(read(dir, "2"), staged);
        assert_ne!(read(dir, "0"), staged);
        assert_eq!(read(dir, "1"), first_primary);
        assert_eq!(mode(&dir.join("0")), 0o600);
        assert_eq!(mode(&dir.join("2")), 0o600);
        let keys = load(dir).expect("load");
        assert_eq!(keys.primary().to_base64(), staged);
        assert_eq!(keys.all().len(), 3);
        // Staged key last, as Keystone orders them.
        assert_eq!(keys.all()[2].to_base64(), read(dir, "0"));

        // At the limit, each rotation purges the oldest secondary.
        assert_eq!(rotate(dir, 3).expect("rotate"), 3);
        assert_eq!(names(dir), ["0", "2", "3"]);
        assert_eq!(rotate(dir, 3).expect("rotate"), 4);
        assert_eq!(names(dir), ["0", "3", "4"]);

        // A larger limit keeps more; a smaller one purges down to it.
        assert_eq!(rotate(dir, 5).expect("rotate"), 5);
        assert_eq!(names(dir), ["0", "3", "4", "5"]);
        assert_eq!(rotate(dir, 2).expect("rotate"), 6);
        assert_eq!(names(dir), ["0", "6"]);
    }

    #[test]
    fn rotate_rejects_too_small_limit_and_missing_staged_key() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        setup(dir).expect("setup");
        assert!(matches!(
            rotate(dir, 1),
            Err(KeyRepositoryError::TooFewActiveKeys(1))
        ));
        assert_eq!(names(dir), ["0", "1"]);

        fs::remove_file(dir.join("0")).expect("rm 0");
        assert!(matches!(
            rotate(dir, 3),
            Err(KeyRepositoryError::NoStagedKey { .. })
        ));
        assert_eq!(names(dir), ["1"]);
        // Setup repairs it: a new staged key, promoted above the old primary.
        setup(dir).expect("setup");
        assert_eq!(names(dir), ["0", "1", "2"]);
    }

    #[test]
    fn rotate_refuses_garbled_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        setup(dir).expect("setup");
        fs::write(dir.join("0"), "garbage").expect("write");
        assert!(matches!(
            rotate(dir, 3),
            Err(KeyRepositoryError::GarbledKey { .. })
        ));
        assert_eq!(names(dir), ["0", "1"]);
    }

    #[test]
    fn load_errors_clearly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("nope");
        let err = load(&missing).expect_err("missing dir");
        assert!(matches!(err, KeyRepositoryError::Unreadable { .. }));
        assert!(err.to_string().contains("nope"), "{err}");

        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        assert!(matches!(
            load(&empty),
            Err(KeyRepositoryError::Empty { .. })
        ));
        // Empty files, temp files and non-canonical names are not keys.
        fs::write(empty.join("1"), "").expect("write");
        fs::write(empty.join("0.tmp"), FernetKey::generate().to_base64()).expect("write");
        fs::write(empty.join("01"), FernetKey::generate().to_base64()).expect("write");
        fs::write(empty.join("README"), "x").expect("write");
        assert!(matches!(
            load(&empty),
            Err(KeyRepositoryError::Empty { .. })
        ));

        let garbled = tmp.path().join("garbled");
        setup(&garbled).expect("setup");
        fs::write(garbled.join("1"), "bm90IGEga2V5").expect("write");
        let err = load(&garbled).expect_err("garbled");
        assert!(matches!(&err, KeyRepositoryError::GarbledKey { path } if path.ends_with("1")));
    }

    #[test]
    fn load_orders_numerically_not_lexically() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let k: Vec<FernetKey> = (0..3).map(|_| FernetKey::generate()).collect();
        fs::write(dir.join("0"), k[0].to_base64()).expect("write");
        fs::write(dir.join("9"), k[1].to_base64()).expect("write");
        fs::write(dir.join("10"), format!("{}\n", k[2].to_base64())).expect("write");
        let keys = load(dir).expect("load");
        assert_eq!(keys.all(), [k[2].clone(), k[1].clone(), k[0].clone()]);
    }

    #[test]
    fn atomic_write_leaves_old_key_when_it_fails_and_cleans_up_leftovers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        setup(dir).expect("setup");

        // A crash mid-write leaves a partial temp file: it is not a key...
        fs::write(dir.join(TMP_NAME), "half-writ").expect("write");
        fs::set_permissions(dir.join(TMP_NAME), fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(load(dir).expect("load").all().len(), 2);
        // ...and the next write replaces it, with private permissions.
        rotate(dir, 3).expect("rotate");
        assert_eq!(names(dir), ["0", "1", "2"]);
        assert_eq!(mode(&dir.join("0")), 0o600);
        assert!(FernetKey::from_base64(&read(dir, "0")).is_ok());

        // If the new key cannot be written at all, nothing is renamed: the
        // repository is exactly as before.
        let tmp2 = tempfile::tempdir().expect("tempdir");
        let dir2 = tmp2.path();
        setup(dir2).expect("setup");
        let before2 = (read(dir2, "0"), read(dir2, "1"));
        fs::create_dir(dir2.join(TMP_NAME)).expect("block the temp path");
        assert!(matches!(
            rotate(dir2, 3),
            Err(KeyRepositoryError::Io { .. })
        ));
        assert_eq!(names(dir2), ["0", "1", "0.tmp"]);
        assert_eq!(before2, (read(dir2, "0"), read(dir2, "1")));
    }
}
