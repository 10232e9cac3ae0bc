//! Aggregate MD5 throughput of 1, 4 and 8 concurrent 1 MiB streams: the `md-5` crate one
//! stream after another, the lane kernel of every level this CPU has, and the hub (its thread
//! and hand-offs included, batches of 256 KiB as four chunks).
//!
//! `cargo bench -p oxstack-md5x`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use md5::Digest as _;
use oxstack_md5x::{Block, Hub, LANES, LaneStates, Level, Md5, compress8};

const LEN: usize = 1 << 20;

fn data(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (0..LEN).map(|j| (j * 31 + i * 7) as u8).collect())
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    for streams in [1usize, 4, 8] {
        let mut g = c.benchmark_group(format!("{streams} streams"));
        g.throughput(Throughput::Bytes((streams * LEN) as u64));
        g.sample_size(20);
        let d = data(streams);
        g.bench_function("md-5 crate", |b| {
            b.iter(|| {
                for s in &d {
                    black_box(md5::Md5::digest(s));
                }
            })
        });
        for level in Level::available() {
            g.bench_function(BenchmarkId::new("compress8", format!("{level:?}")), |b| {
                let lanes: [Option<&[Block]>; LANES] =
                    std::array::from_fn(|j| d.get(j).map(|s| s.as_chunks::<64>().0));
                b.iter(|| {
                    let mut st = LaneStates::default();
                    compress8(level, &mut st, &lanes, LEN / 64);
                    black_box(st)
                })
            });
            let hub = std::sync::Arc::new(Hub::new(level).expect("hub"));
            let batches: Vec<Vec<Vec<Bytes>>> = d
                .iter()
                .map(|s| {
                    let b = Bytes::from(s.clone());
                    (0..4)
                        .map(|k| {
                            (0..4)
                                .map(|q| b.slice((k * 4 + q) << 16..(k * 4 + q + 1) << 16))
                                .collect()
                        })
                        .collect()
                })
                .collect();
            g.bench_function(BenchmarkId::new("hub", format!("{level:?}")), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let tasks: Vec<_> = batches
                            .iter()
                            .map(|s| {
                                let (hub, s) = (hub.clone(), s.clone());
                                tokio::spawn(async move {
                                    let mut md5 = Md5::new();
                                    for batch in s {
                                        md5 = hub.update(md5, batch).await.expect("hub");
                                    }
                                    md5.finalize()
                                })
                            })
                            .collect();
                        for t in tasks {
                            black_box(t.await.expect("task"));
                        }
                    })
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
