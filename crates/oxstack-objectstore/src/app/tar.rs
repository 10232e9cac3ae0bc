//! The tar reading bulk upload (`extract-archive=tar`) needs: regular files of ustar and
//! GNU archives (with GNU long names); directories, links and the rest are skipped.

use bytes::Bytes;
use oxstack_common::Result;

use crate::app::meta::bad;

/// The regular files of a tar archive: each path and its bytes, in archive order.
pub fn entries(data: &[u8]) -> Result<Vec<(String, Bytes)>> {
    let field = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size_s = field(&h[124..136]);
        let size = usize::from_str_radix(size_s.trim(), 8)
            .map_err(|_| bad("Invalid Tar File: bad size"))?;
        let kind = h[156];
        let mut name = field(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = field(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let start = pos + 512;
        let end = start
            .checked_add(size)
            .filter(|e| *e <= data.len())
            .ok_or_else(|| bad("Invalid Tar File: truncated"))?;
        match kind {
            b'L' => long_name = Some(field(&data[start..end])),
            b'0' | 0 => {
                let name = long_name.take().unwrap_or(name);
                out.push((name, Bytes::copy_from_slice(&data[start..end])));
            }
            _ => long_name = None,
        }
        pos = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One archive member: a header of `kind` and the padded data.
    fn member(name: &str, prefix: &str, kind: u8, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        let mut out = h;
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn reads_files_prefixes_and_long_names() {
        let long = format!("c/{}", "n".repeat(150));
        let mut tar = member("c/", "", b'5', b"");
        tar.extend(member("a.txt", "c/sub", b'0', b"hello"));
        tar.extend(member("././@LongLink", "", b'L', long.as_bytes()));
        tar.extend(member("truncated-name", "", b'0', &[7u8; 600]));
        tar.extend(member("link", "", b'2', b""));
        tar.extend(vec![0u8; 1024]);
        tar.extend(member("after-the-end", "", b'0', b"x"));
        let got = entries(&tar).expect("parsed");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "c/sub/a.txt");
        assert_eq!(&got[0].1[..], b"hello");
        assert_eq!(got[1].0, long);
        assert_eq!(got[1].1.len(), 600);
    }

    #[test]
    fn refuses_bad_sizes_and_truncation() {
        let mut tar = member("f", "", b'0', b"abc");
        tar[124..136].copy_from_slice(b"zzzzzzzzzzz\0");
        assert_eq!(
            entries(&tar).expect_err("size").message,
            "Invalid Tar File: bad size"
        );
        let tar = member("f", "", b'0', &[1u8; 1000]);
        assert_eq!(
            entries(&tar[..700]).expect_err("short").message,
            "Invalid Tar File: truncated"
        );
        assert!(entries(b"").expect("empty").is_empty());
    }
}
