//! MB/s of computing Glance's two digests (md5 + sha512) over bytes already in memory, with
//! the store's own [`Digester`] in 1 MiB chunks on one thread: the hashing limit that image
//! upload is measured against. Used by scripts/bench/image.
//!
//! `cargo run --release -p oxstack-image --example digest_speed -- [MiB]` (default 1024)

use oxstack_image::data::Digester;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    // Incompressible-looking bytes (a xorshift stream), as an image's would be.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: bytes::Bytes = (0..mib * 1024 * 1024 / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect::<Vec<u8>>()
        .into();
    let start = std::time::Instant::now();
    let mut digest = Digester::default(); // both digests inline, on this thread
    let mut offset = 0;
    while offset < data.len() {
        let end = (offset + 1024 * 1024).min(data.len());
        digest.update(&data.slice(offset..end));
        offset = end;
    }
    let written = digest.finish();
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(written);
    println!("{:.0}", data.len() as f64 / secs / 1e6);
}
