//! Reading an image's virtual (guest-visible) size from its header, as Glance's format
//! inspector does, for the formats whose header states it.

/// `QFI\xfb`: the qcow2 magic.
const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
/// `KDMV`: the magic of a hosted sparse VMDK extent.
const VMDK_MAGIC: &[u8] = b"KDMV";

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The virtual size of an image of `disk_format` whose first bytes are `head` and whose
/// data is `size` bytes long; `None` when the format does not say or the header does not
/// match the format.
///
/// - qcow2: the header's `size` field (big-endian u64 at offset 24), after the magic;
/// - vmdk (monolithic sparse): `capacity` in 512-byte sectors (little-endian u64 at 12);
/// - raw: the data's size.
pub fn virtual_size(disk_format: Option<&str>, head: &[u8], size: u64) -> Option<i64> {
    let v = match disk_format? {
        "qcow2" if head.starts_with(QCOW2_MAGIC) => be_u64(head, 24)?,
        "vmdk" if head.starts_with(VMDK_MAGIC) => le_u64(head, 12)?.checked_mul(512)?,
        "raw" => size,
        _ => return None,
    };
    i64::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A qcow2 version 3 header as `qemu-img create -f qcow2 x 1G` writes it (first 32
    /// bytes: magic, version, backing file offset and size, cluster bits, size).
    fn qcow2_header(size: u64) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(QCOW2_MAGIC);
        h.extend_from_slice(&3u32.to_be_bytes());
        h.extend_from_slice(&0u64.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes());
        h.extend_from_slice(&16u32.to_be_bytes());
        h.extend_from_slice(&size.to_be_bytes());
        h.resize(512, 0);
        h
    }

    #[test]
    fn qcow2_vmdk_and_raw() {
        assert_eq!(
            virtual_size(Some("qcow2"), &qcow2_header(1 << 30), 196_616),
            Some(1 << 30)
        );
        // A qcow2 image whose data is not qcow2: the header says nothing.
        assert_eq!(virtual_size(Some("qcow2"), b"not an image", 12), None);
        let mut vmdk = VMDK_MAGIC.to_vec();
        vmdk.extend_from_slice(&1u32.to_le_bytes());
        vmdk.extend_from_slice(&3u32.to_le_bytes());
        vmdk.extend_from_slice(&2048u64.to_le_bytes());
        assert_eq!(virtual_size(Some("vmdk"), &vmdk, 65_536), Some(1 << 20));
        assert_eq!(virtual_size(Some("raw"), b"abc", 3), Some(3));
        assert_eq!(virtual_size(Some("iso"), b"abc", 3), None);
        assert_eq!(virtual_size(None, b"abc", 3), None);
    }
}
