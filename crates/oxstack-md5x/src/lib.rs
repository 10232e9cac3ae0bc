//! Multi-buffer MD5: the MD5 of several concurrent streams computed together, each stream in
//! a lane of SIMD vectors, as Intel's isa-l_crypto `md5_mb` and minio's `md5-simd` do.
//!
//! MD5 of one stream is a chain of dependent steps, so one core hashes one stream at ~5
//! cycles a byte however wide its vectors are; independent streams fill the vectors' other
//! lanes for almost nothing. [`Hub`] is the service concurrent uploads give their data to: a
//! thread that hashes every stream with data pending in lockstep lanes. [`Md5`] is one
//! stream's state, which moves between the caller and the hub; [`compress8`] is the kernel
//! (the crate's only `unsafe` code is in its module).
//!
//! MD5 is broken for adversarial use; it is here because Swift's ETag is the MD5 of an
//! object's bytes.

mod hub;
#[allow(unsafe_code)]
mod simd;

pub use hub::{Hub, HubStopped, Pending};
pub use simd::{Block, LANES, LaneStates, Level, compress8};

/// The MD5 initial state (RFC 1321).
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// One stream's MD5 state: the chaining value, the length so far and the bytes of a block not
/// yet complete. [`Md5::update`] hashes on the calling thread; [`Hub::update`] in a lane of
/// the hub's thread. Both give the same state.
#[derive(Clone, Debug)]
pub struct Md5 {
    pub(crate) state: [u32; 4],
    pub(crate) len: u64,
    pub(crate) buf: Block,
    pub(crate) buf_len: usize,
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5::new()
    }
}

impl Md5 {
    /// The state of an empty stream.
    pub fn new() -> Md5 {
        Md5 {
            state: INIT,
            len: 0,
            buf: [0; 64],
            buf_len: 0,
        }
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hashes `data` on this thread (the `md-5` crate's compression function).
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return;
            }
            md5::block_api::compress(&mut self.state, std::slice::from_ref(&self.buf));
            self.buf_len = 0;
        }
        let (blocks, rest) = data.as_chunks::<64>();
        md5::block_api::compress(&mut self.state, blocks);
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// The digest: pads the stream (a 1 bit, zeros, the length in bits) and hashes the last
    /// block or two.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let n = self.buf_len;
        self.buf[n] = 0x80;
        self.buf[n + 1..].fill(0);
        if n >= 56 {
            md5::block_api::compress(&mut self.state, std::slice::from_ref(&self.buf));
            self.buf.fill(0);
        }
        self.buf[56..].copy_from_slice(&bits.to_le_bytes());
        md5::block_api::compress(&mut self.state, std::slice::from_ref(&self.buf));
        let mut out = [0; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The digest as lowercase hex (Swift's ETag).
    pub fn finalize_hex(self) -> String {
        use std::fmt::Write as _;
        self.finalize()
            .iter()
            .fold(String::with_capacity(32), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

#[cfg(test)]
mod tests {
    use md5::Digest as _;

    use super::*;

    /// Deterministic pseudo-random bytes (xorshift), so failures repeat.
    pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    pub(crate) fn reference(data: &[u8]) -> [u8; 16] {
        md5::Md5::digest(data).into()
    }

    #[test]
    fn scalar_stream_matches_md5_crate_for_every_split() {
        for len in [
            0usize, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096,
        ] {
            let data = bytes(len as u64, len);
            for split in [0, 1, 3, 63, 64, 65, len / 2, len] {
                let split = split.min(len);
                let mut m = Md5::new();
                m.update(&data[..split]);
                m.update(&[]);
                m.update(&data[split..]);
                assert_eq!(m.len(), len as u64);
                assert_eq!(m.finalize(), reference(&data), "len {len} split {split}");
            }
        }
        assert_eq!(
            Md5::new().finalize_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn every_level_matches_md5_crate_block_by_block() {
        for level in Level::available() {
            for n in [1usize, 2, 5, 33] {
                let data: Vec<Vec<u8>> = (0..LANES)
                    .map(|j| bytes((n * 8 + j) as u64, n * 64))
                    .collect();
                let blocks: Vec<&[Block]> = data.iter().map(|d| d.as_chunks::<64>().0).collect();
                let mut st = LaneStates::default();
                for j in 0..LANES {
                    st.set(j, [j as u32, 1 << j, !(j as u32), 0x1234_5678 ^ j as u32]);
                }
                let start = st;
                // Every subset of lanes present: lanes with j % k == r.
                for k in 1..=3 {
                    let mut got = start;
                    let lanes: [Option<&[Block]>; LANES] =
                        std::array::from_fn(|j| (j % k == 0).then_some(blocks[j]));
                    compress8(level, &mut got, &lanes, n);
                    for j in (0..LANES).filter(|j| j % k == 0) {
                        let mut want = start.get(j);
                        md5::block_api::compress(&mut want, blocks[j]);
                        assert_eq!(got.get(j), want, "{level:?} n {n} lane {j} every {k}");
                    }
                }
            }
        }
    }
}
