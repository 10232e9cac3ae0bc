//! [`Hub`]: one thread hashing the data of every stream that has some pending, the streams in
//! lockstep SIMD lanes.
//!
//! A caller hands the hub a stream's [`Md5`] state and a batch of chunks and gets the state
//! back when the batch is hashed. The thread keeps up to [`LANES`] batches in lanes; each
//! round it takes from every lane the next run of whole 64-byte blocks (in place inside a
//! chunk, or the lane's carried block once a chunk boundary filled it), compresses the
//! shortest run's length of blocks of every lane in one [`compress8`] call, and moves on. A
//! lane whose batch is used up gives its state back (a partial block stays in the state) and
//! takes the next waiting batch, so streams join and leave between rounds. Rounds are at most
//! [`MAX_ROUND_BLOCKS`] long so that a batch arriving mid-way waits little.
//!
//! A lone stream runs the `md-5` crate's scalar code: one lane of a vector kernel is no faster
//! than it (AVX2's is slower), and it leaves the vectors to be filled when others come.

use std::collections::VecDeque;
use std::sync::mpsc;

use bytes::Bytes;

use crate::{Block, LANES, LaneStates, Level, Md5, compress8};

/// Blocks per lane in one kernel call at most (16 KiB): between calls new batches join.
pub const MAX_ROUND_BLOCKS: usize = 256;

/// The hub's thread is gone (it panicked): the batch's state is lost.
#[derive(Debug, thiserror::Error)]
#[error("the md5 hashing thread stopped")]
pub struct HubStopped;

struct Job {
    md5: Md5,
    chunks: Vec<Bytes>,
    done: tokio::sync::oneshot::Sender<Md5>,
}

/// The hashing service: a thread that hashes the batches given to [`Hub::update`]. Dropping
/// the hub stops its thread once the batches it has are done.
#[derive(Debug)]
pub struct Hub {
    tx: mpsc::Sender<Job>,
    level: Level,
}

impl Hub {
    /// A hub running `level`'s kernel (the scalar code when the CPU lacks it), with a thread
    /// of its own named `md5x`.
    pub fn new(level: Level) -> std::io::Result<Hub> {
        let level = if level.supported() {
            level
        } else {
            Level::Scalar
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("md5x".into())
            .spawn(move || run(level, &rx))?;
        Ok(Hub { tx, level })
    }

    /// The process's hub at the best level of this CPU, started on first use.
    pub fn global() -> std::io::Result<&'static Hub> {
        static HUB: std::sync::OnceLock<Hub> = std::sync::OnceLock::new();
        if let Some(h) = HUB.get() {
            return Ok(h);
        }
        let hub = Hub::new(Level::detect())?;
        // Two first callers may race: one hub wins, the other's thread ends when it drops.
        Ok(HUB.get_or_init(|| hub))
    }

    /// The kernel this hub runs.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Hashes `chunks` after what `md5` holds and gives the state back. Batches of one stream
    /// must be given one after another (await each).
    pub async fn update(&self, md5: Md5, chunks: Vec<Bytes>) -> Result<Md5, HubStopped> {
        self.submit(md5, chunks).wait().await
    }

    /// Gives the hub a batch now (its hashing starts while the caller does something else)
    /// and returns what to await for the state.
    pub fn submit(&self, md5: Md5, chunks: Vec<Bytes>) -> Pending {
        let (done, rx) = tokio::sync::oneshot::channel();
        let sent = self.tx.send(Job { md5, chunks, done }).is_ok();
        Pending {
            rx: sent.then_some(rx),
        }
    }
}

/// A batch given to [`Hub::submit`].
#[derive(Debug)]
pub struct Pending {
    rx: Option<tokio::sync::oneshot::Receiver<Md5>>,
}

impl Pending {
    /// The stream's state once the batch is hashed.
    pub async fn wait(self) -> Result<Md5, HubStopped> {
        self.rx.ok_or(HubStopped)?.await.map_err(|_| HubStopped)
    }
}

/// A batch in a lane and how far it is hashed.
struct Lane {
    job: Job,
    /// The chunk being hashed and the offset in it.
    idx: usize,
    off: usize,
}

/// Where a lane's next whole blocks are.
#[derive(Clone, Copy)]
enum Run {
    /// `blocks` blocks in place at the lane's chunk and offset.
    Chunk { blocks: usize },
    /// The lane's carried block, filled across a chunk boundary.
    Carried,
}

impl Run {
    fn blocks(self) -> usize {
        match self {
            Run::Chunk { blocks } => blocks,
            Run::Carried => 1,
        }
    }
}

impl Lane {
    fn new(mut job: Job) -> Lane {
        job.md5.len += job.chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        Lane {
            job,
            idx: 0,
            off: 0,
        }
    }

    /// The next run of whole blocks; bytes short of a block go to the carried block. `None`
    /// when the batch is used up.
    fn next_run(&mut self) -> Option<Run> {
        let md5 = &mut self.job.md5;
        loop {
            if md5.buf_len == 64 {
                return Some(Run::Carried);
            }
            let rest = &self.job.chunks.get(self.idx)?[self.off..];
            if rest.is_empty() {
                self.idx += 1;
                self.off = 0;
            } else if md5.buf_len > 0 || rest.len() < 64 {
                let take = (64 - md5.buf_len).min(rest.len());
                md5.buf[md5.buf_len..md5.buf_len + take].copy_from_slice(&rest[..take]);
                md5.buf_len += take;
                self.off += take;
            } else {
                return Some(Run::Chunk {
                    blocks: rest.len() / 64,
                });
            }
        }
    }

    /// The first `n` blocks of `run`.
    fn blocks(&self, run: Run, n: usize) -> &[Block] {
        match run {
            Run::Chunk { .. } => &self.job.chunks[self.idx][self.off..].as_chunks::<64>().0[..n],
            Run::Carried => std::slice::from_ref(&self.job.md5.buf),
        }
    }

    /// Moves past `n` blocks of `run`.
    fn advance(&mut self, run: Run, n: usize) {
        match run {
            Run::Chunk { .. } => self.off += n * 64,
            Run::Carried => self.job.md5.buf_len = 0,
        }
    }
}

fn run(level: Level, rx: &mpsc::Receiver<Job>) {
    let mut lanes: [Option<Lane>; LANES] = Default::default();
    let mut waiting = VecDeque::new();
    let mut states = LaneStates::default();
    loop {
        if waiting.is_empty() && lanes.iter().all(Option::is_none) {
            match rx.recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => return,
            }
        }
        waiting.extend(rx.try_iter());
        for slot in lanes.iter_mut().filter(|l| l.is_none()) {
            match waiting.pop_front() {
                Some(job) => *slot = Some(Lane::new(job)),
                None => break,
            }
        }
        // Each lane's next run; lanes whose batch is done give their state back.
        let mut runs: [Option<Run>; LANES] = [None; LANES];
        for (slot, r) in lanes.iter_mut().zip(&mut runs) {
            if let Some(lane) = slot {
                *r = lane.next_run();
                if r.is_none()
                    && let Some(done) = slot.take()
                {
                    // The caller may have gone away (a dropped upload): nothing to tell.
                    let _ = done.job.done.send(done.job.md5);
                }
            }
        }
        let Some(n) = runs.iter().flatten().map(|r| r.blocks()).min() else {
            continue;
        };
        let n = n.min(MAX_ROUND_BLOCKS);
        let active = runs.iter().flatten().count();
        if active == 1 || level == Level::Scalar {
            // The scalar code, lane by lane; a lone lane takes a whole run.
            for (slot, r) in lanes.iter_mut().zip(runs) {
                if let (Some(lane), Some(r)) = (slot, r) {
                    let n = if active == 1 {
                        r.blocks().min(MAX_ROUND_BLOCKS)
                    } else {
                        n
                    };
                    let mut s = lane.job.md5.state;
                    md5::block_api::compress(&mut s, lane.blocks(r, n));
                    lane.job.md5.state = s;
                    lane.advance(r, n);
                }
            }
            continue;
        }
        let mut blocks: [Option<&[Block]>; LANES] = [None; LANES];
        for (j, (slot, r)) in lanes.iter().zip(runs).enumerate() {
            if let (Some(lane), Some(r)) = (slot, r) {
                states.set(j, lane.job.md5.state);
                blocks[j] = Some(lane.blocks(r, n));
            }
        }
        compress8(level, &mut states, &blocks, n);
        for (j, (slot, r)) in lanes.iter_mut().zip(runs).enumerate() {
            if let (Some(lane), Some(r)) = (slot, r) {
                lane.job.md5.state = states.get(j);
                lane.advance(r, n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{bytes, reference};

    /// Splits `data` into chunks of pseudo-random sizes (some empty, some under a block).
    fn chunked(data: &[u8], seed: u64) -> Vec<Bytes> {
        let sizes = bytes(seed, 64);
        let mut out = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < data.len() {
            let s = sizes[i % sizes.len()] as usize;
            let len = match s % 4 {
                0 => s % 70,
                1 => s * 37,
                2 => 64 * (s % 9),
                _ => s * 811,
            }
            .min(data.len() - at);
            out.push(Bytes::copy_from_slice(&data[at..at + len]));
            at += len;
            i += 1;
        }
        out
    }

    /// Streams of the given lengths hashed at once, each in batches of `batch` chunks, with
    /// the hub of every level: each digest must be the `md-5` crate's.
    async fn check(lens: &[usize], batch: usize) {
        for level in Level::available() {
            let hub = std::sync::Arc::new(Hub::new(level).expect("hub"));
            let tasks = lens.iter().copied().enumerate().map(|(i, len)| {
                let hub = hub.clone();
                async move {
                    let data = bytes(i as u64 * 1000 + len as u64, len);
                    let mut md5 = Md5::new();
                    for b in chunked(&data, i as u64).chunks(batch) {
                        md5 = hub.update(md5, b.to_vec()).await.expect("hub");
                        // Let the other streams' batches interleave with this one's.
                        tokio::task::yield_now().await;
                    }
                    assert_eq!(md5.len(), len as u64);
                    assert_eq!(
                        md5.finalize(),
                        reference(&data),
                        "{level:?} stream {i} len {len}"
                    );
                }
            });
            futures_join_all(tasks).await;
        }
    }

    async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
        tasks: impl Iterator<Item = F>,
    ) {
        let handles: Vec<_> = tasks.map(tokio::spawn).collect();
        for h in handles {
            h.await.expect("stream task");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn lone_streams_of_edge_lengths() {
        for len in [0usize, 1, 55, 56, 63, 64, 65, 127, 128, 129, 3 << 20] {
            check(&[len], 3).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_streams_of_different_lengths_at_once() {
        let lens: Vec<usize> = (0..20)
            .map(|i| [0, 1, 55, 56, 63, 64, 65, 1000, 70_000, 1 << 20][i % 10] + i)
            .collect();
        check(&lens, 2).await;
        check(&lens[..4], 5).await;
        check(
            &[
                5 << 20,
                3 << 20,
                4096,
                2 << 20,
                100,
                1 << 20,
                7,
                0,
                333_333,
                2 << 20,
            ],
            4,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn streams_starting_and_finishing_at_different_times() {
        for level in Level::available() {
            let hub = std::sync::Arc::new(Hub::new(level).expect("hub"));
            let handles: Vec<_> = (0..12u64)
                .map(|i| {
                    let hub = hub.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(i * 3)).await;
                        let data = bytes(i, (i as usize * 97_531) % (2 << 20));
                        let mut md5 = Md5::new();
                        for b in chunked(&data, i + 7).chunks(1 + i as usize % 5) {
                            md5 = hub.update(md5, b.to_vec()).await.expect("hub");
                        }
                        assert_eq!(md5.finalize(), reference(&data), "{level:?} stream {i}");
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("stream");
            }
        }
    }

    #[tokio::test]
    async fn a_dropped_caller_does_not_stop_the_hub() {
        let hub = Hub::new(Level::detect()).expect("hub");
        let data = Bytes::from(bytes(1, 1 << 20));
        drop(hub.update(Md5::new(), vec![data.clone()]));
        let md5 = hub
            .update(Md5::new(), vec![data.clone()])
            .await
            .expect("hub");
        assert_eq!(md5.finalize(), reference(&data));
    }
}
