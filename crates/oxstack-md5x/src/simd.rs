//! The SIMD kernels: one MD5 block for each of eight lanes at a time, every lane its own
//! message with its own state. This is the crate's only module with `unsafe` code (vector
//! loads from raw pointers and calls of `#[target_feature]` functions); what it offers,
//! [`compress8`], is safe: it checks the lengths and the CPU before any of that happens.
//!
//! A lane's state is one 32-bit element of each of four vectors (a, b, c, d); a round loads
//! 64 bytes of every lane, transposes them so that vector `m[w]` holds word `w` of every lane,
//! and runs MD5's 64 steps on the vectors. MD5 of one stream is a chain of dependent steps
//! (latency-bound), so eight lanes cost about what one does.
//!
//! Levels: [`Level::Avx512`] (AVX-512F + VL on 256-bit vectors: `vpternlogd` computes each
//! round function in one instruction and `vprold` rotates, four instructions on the critical
//! path of a step), [`Level::Avx2`] (the same with and/or/xor and two shifts) and
//! [`Level::Scalar`] (the `md-5` crate, one lane after another).

/// Lanes hashed together by [`compress8`].
pub const LANES: usize = 8;

/// One MD5 block.
pub type Block = [u8; 64];

/// Which kernel [`compress8`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// One lane after another with the `md-5` crate: every CPU.
    Scalar,
    /// Eight lanes in 256-bit AVX2 vectors.
    Avx2,
    /// Eight lanes in 256-bit vectors with AVX-512F/VL's ternary logic and rotates.
    Avx512,
}

impl Level {
    /// The best level this CPU runs.
    pub fn detect() -> Level {
        Level::available().last().copied().unwrap_or(Level::Scalar)
    }

    /// Every level this CPU runs, slowest first (for tests and benchmarks).
    pub fn available() -> Vec<Level> {
        [Level::Scalar, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| l.supported())
            .collect()
    }

    /// Whether this CPU has the instructions of the level (a cached flag test).
    pub fn supported(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Level::Avx2 | Level::Avx512 => false,
        }
    }
}

/// The states of eight lanes, structure of arrays: lane `j` is `(a[j], b[j], c[j], d[j])`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct LaneStates {
    pub a: [u32; LANES],
    pub b: [u32; LANES],
    pub c: [u32; LANES],
    pub d: [u32; LANES],
}

impl LaneStates {
    /// Lane `j`'s state as `md-5` keeps it.
    pub fn get(&self, j: usize) -> [u32; 4] {
        [self.a[j], self.b[j], self.c[j], self.d[j]]
    }

    /// Sets lane `j`'s state.
    pub fn set(&mut self, j: usize, s: [u32; 4]) {
        [self.a[j], self.b[j], self.c[j], self.d[j]] = s;
    }
}

static ZERO_BLOCK: Block = [0; 64];

/// Compresses the first `n` blocks of every present lane into its state. An absent lane's
/// state changes to something meaningless. Runs `level` if this CPU has it, else the scalar
/// code.
///
/// # Panics
///
/// If a present lane has fewer than `n` blocks.
pub fn compress8(level: Level, st: &mut LaneStates, lanes: &[Option<&[Block]>; LANES], n: usize) {
    assert!(
        lanes.iter().flatten().all(|l| l.len() >= n),
        "a lane has fewer than {n} blocks"
    );
    if n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level != Level::Scalar && level.supported() {
        let mut ptr = [ZERO_BLOCK.as_ptr(); LANES];
        let mut stride = [0usize; LANES];
        for (j, lane) in lanes.iter().enumerate() {
            if let Some(l) = lane {
                ptr[j] = l.as_ptr().cast();
                stride[j] = 64;
            }
        }
        match level {
            // SAFETY: `supported` checked the CPU's features for the kernel; every present
            // lane's pointer starts `n` (asserted above) contiguous 64-byte blocks read with
            // stride 64, an absent lane's the 64-byte static block read with stride 0, so
            // every load stays inside memory borrowed for the call.
            Level::Avx512 => unsafe { x86::compress_avx512(st, &ptr, &stride, n) },
            // SAFETY: as above.
            Level::Avx2 => unsafe { x86::compress_avx2(st, &ptr, &stride, n) },
            Level::Scalar => {}
        }
        return;
    }
    let _ = level;
    for (j, lane) in lanes.iter().enumerate() {
        if let Some(l) = lane {
            let mut s = st.get(j);
            md5::block_api::compress(&mut s, &l[..n]);
            st.set(j, s);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{LANES, LaneStates};

    /// One MD5 step on vectors: `a = b + rotl(a + fun(b, c, d) + m + k, s)`.
    macro_rules! step {
        ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            $a = _mm256_add_epi32(
                $b,
                rotl!(
                    _mm256_add_epi32(
                        _mm256_add_epi32(
                            $a,
                            _mm256_add_epi32($m, _mm256_set1_epi32(u32::cast_signed($k)))
                        ),
                        $fun!($b, $c, $d)
                    ),
                    $s
                ),
            );
        };
    }

    /// Transposes eight vectors of eight words: out[w] holds word w of every input.
    macro_rules! transpose8 {
        ($r:expr) => {{
            let r = $r;
            let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
            let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
            let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
            let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
            let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
            let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
            let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
            let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
            let u0 = _mm256_unpacklo_epi64(t0, t2);
            let u1 = _mm256_unpackhi_epi64(t0, t2);
            let u2 = _mm256_unpacklo_epi64(t1, t3);
            let u3 = _mm256_unpackhi_epi64(t1, t3);
            let u4 = _mm256_unpacklo_epi64(t4, t6);
            let u5 = _mm256_unpackhi_epi64(t4, t6);
            let u6 = _mm256_unpacklo_epi64(t5, t7);
            let u7 = _mm256_unpackhi_epi64(t5, t7);
            [
                _mm256_permute2x128_si256::<0x20>(u0, u4),
                _mm256_permute2x128_si256::<0x20>(u1, u5),
                _mm256_permute2x128_si256::<0x20>(u2, u6),
                _mm256_permute2x128_si256::<0x20>(u3, u7),
                _mm256_permute2x128_si256::<0x31>(u0, u4),
                _mm256_permute2x128_si256::<0x31>(u1, u5),
                _mm256_permute2x128_si256::<0x31>(u2, u6),
                _mm256_permute2x128_si256::<0x31>(u3, u7),
            ]
        }};
    }

    /// The kernel body, shared by the levels: they define `ff!`, `gg!`, `hh!`, `ii!` (MD5's
    /// round functions) and `rotl!` before expanding it.
    macro_rules! kernel {
        ($st:ident, $ptr:ident, $stride:ident, $n:ident) => {{
            let st: &mut LaneStates = $st;
            // SAFETY: `LaneStates` holds four arrays of eight u32, each
            // 32 bytes, read without alignment requirement.
            let mut a = unsafe { _mm256_loadu_si256(st.a.as_ptr().cast()) };
            // SAFETY: as above.
            let mut b = unsafe { _mm256_loadu_si256(st.b.as_ptr().cast()) };
            // SAFETY: as above.
            let mut c = unsafe { _mm256_loadu_si256(st.c.as_ptr().cast()) };
            // SAFETY: as above.
            let mut d = unsafe { _mm256_loadu_si256(st.d.as_ptr().cast()) };
            for blk in 0..$n {
                let mut lo = [_mm256_setzero_si256(); LANES];
                let mut hi = [_mm256_setzero_si256(); LANES];
                for j in 0..LANES {
                    // SAFETY: the caller's contract: lane j's pointer plus blk * stride is the
                    // start of a readable 64-byte block for every blk < n.
                    unsafe {
                        let p = $ptr[j].add(blk * $stride[j]);
                        lo[j] = _mm256_loadu_si256(p.cast());
                        hi[j] = _mm256_loadu_si256(p.add(32).cast());
                    }
                }
                let ml = transpose8!(lo);
                let mh = transpose8!(hi);
                let m = [
                    ml[0], ml[1], ml[2], ml[3], ml[4], ml[5], ml[6], ml[7], mh[0], mh[1], mh[2],
                    mh[3], mh[4], mh[5], mh[6], mh[7],
                ];
                let (a0, b0, c0, d0) = (a, b, c, d);
                kernel!(@steps m, a, b, c, d);
                a = _mm256_add_epi32(a, a0);
                b = _mm256_add_epi32(b, b0);
                c = _mm256_add_epi32(c, c0);
                d = _mm256_add_epi32(d, d0);
            }
            // SAFETY: as the loads above, into the same arrays.
            unsafe { _mm256_storeu_si256(st.a.as_mut_ptr().cast(), a) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(st.b.as_mut_ptr().cast(), b) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(st.c.as_mut_ptr().cast(), c) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(st.d.as_mut_ptr().cast(), d) };
        }};
        (@steps $m:ident, $a:ident, $b:ident, $c:ident, $d:ident) => {
        step!(ff, $a, $b, $c, $d, $m[0], 0xd76aa478, 7);
        step!(ff, $d, $a, $b, $c, $m[1], 0xe8c7b756, 12);
        step!(ff, $c, $d, $a, $b, $m[2], 0x242070db, 17);
        step!(ff, $b, $c, $d, $a, $m[3], 0xc1bdceee, 22);
        step!(ff, $a, $b, $c, $d, $m[4], 0xf57c0faf, 7);
        step!(ff, $d, $a, $b, $c, $m[5], 0x4787c62a, 12);
        step!(ff, $c, $d, $a, $b, $m[6], 0xa8304613, 17);
        step!(ff, $b, $c, $d, $a, $m[7], 0xfd469501, 22);
        step!(ff, $a, $b, $c, $d, $m[8], 0x698098d8, 7);
        step!(ff, $d, $a, $b, $c, $m[9], 0x8b44f7af, 12);
        step!(ff, $c, $d, $a, $b, $m[10], 0xffff5bb1, 17);
        step!(ff, $b, $c, $d, $a, $m[11], 0x895cd7be, 22);
        step!(ff, $a, $b, $c, $d, $m[12], 0x6b901122, 7);
        step!(ff, $d, $a, $b, $c, $m[13], 0xfd987193, 12);
        step!(ff, $c, $d, $a, $b, $m[14], 0xa679438e, 17);
        step!(ff, $b, $c, $d, $a, $m[15], 0x49b40821, 22);
        step!(gg, $a, $b, $c, $d, $m[1], 0xf61e2562, 5);
        step!(gg, $d, $a, $b, $c, $m[6], 0xc040b340, 9);
        step!(gg, $c, $d, $a, $b, $m[11], 0x265e5a51, 14);
        step!(gg, $b, $c, $d, $a, $m[0], 0xe9b6c7aa, 20);
        step!(gg, $a, $b, $c, $d, $m[5], 0xd62f105d, 5);
        step!(gg, $d, $a, $b, $c, $m[10], 0x02441453, 9);
        step!(gg, $c, $d, $a, $b, $m[15], 0xd8a1e681, 14);
        step!(gg, $b, $c, $d, $a, $m[4], 0xe7d3fbc8, 20);
        step!(gg, $a, $b, $c, $d, $m[9], 0x21e1cde6, 5);
        step!(gg, $d, $a, $b, $c, $m[14], 0xc33707d6, 9);
        step!(gg, $c, $d, $a, $b, $m[3], 0xf4d50d87, 14);
        step!(gg, $b, $c, $d, $a, $m[8], 0x455a14ed, 20);
        step!(gg, $a, $b, $c, $d, $m[13], 0xa9e3e905, 5);
        step!(gg, $d, $a, $b, $c, $m[2], 0xfcefa3f8, 9);
        step!(gg, $c, $d, $a, $b, $m[7], 0x676f02d9, 14);
        step!(gg, $b, $c, $d, $a, $m[12], 0x8d2a4c8a, 20);
        step!(hh, $a, $b, $c, $d, $m[5], 0xfffa3942, 4);
        step!(hh, $d, $a, $b, $c, $m[8], 0x8771f681, 11);
        step!(hh, $c, $d, $a, $b, $m[11], 0x6d9d6122, 16);
        step!(hh, $b, $c, $d, $a, $m[14], 0xfde5380c, 23);
        step!(hh, $a, $b, $c, $d, $m[1], 0xa4beea44, 4);
        step!(hh, $d, $a, $b, $c, $m[4], 0x4bdecfa9, 11);
        step!(hh, $c, $d, $a, $b, $m[7], 0xf6bb4b60, 16);
        step!(hh, $b, $c, $d, $a, $m[10], 0xbebfbc70, 23);
        step!(hh, $a, $b, $c, $d, $m[13], 0x289b7ec6, 4);
        step!(hh, $d, $a, $b, $c, $m[0], 0xeaa127fa, 11);
        step!(hh, $c, $d, $a, $b, $m[3], 0xd4ef3085, 16);
        step!(hh, $b, $c, $d, $a, $m[6], 0x04881d05, 23);
        step!(hh, $a, $b, $c, $d, $m[9], 0xd9d4d039, 4);
        step!(hh, $d, $a, $b, $c, $m[12], 0xe6db99e5, 11);
        step!(hh, $c, $d, $a, $b, $m[15], 0x1fa27cf8, 16);
        step!(hh, $b, $c, $d, $a, $m[2], 0xc4ac5665, 23);
        step!(ii, $a, $b, $c, $d, $m[0], 0xf4292244, 6);
        step!(ii, $d, $a, $b, $c, $m[7], 0x432aff97, 10);
        step!(ii, $c, $d, $a, $b, $m[14], 0xab9423a7, 15);
        step!(ii, $b, $c, $d, $a, $m[5], 0xfc93a039, 21);
        step!(ii, $a, $b, $c, $d, $m[12], 0x655b59c3, 6);
        step!(ii, $d, $a, $b, $c, $m[3], 0x8f0ccc92, 10);
        step!(ii, $c, $d, $a, $b, $m[10], 0xffeff47d, 15);
        step!(ii, $b, $c, $d, $a, $m[1], 0x85845dd1, 21);
        step!(ii, $a, $b, $c, $d, $m[8], 0x6fa87e4f, 6);
        step!(ii, $d, $a, $b, $c, $m[15], 0xfe2ce6e0, 10);
        step!(ii, $c, $d, $a, $b, $m[6], 0xa3014314, 15);
        step!(ii, $b, $c, $d, $a, $m[13], 0x4e0811a1, 21);
        step!(ii, $a, $b, $c, $d, $m[4], 0xf7537e82, 6);
        step!(ii, $d, $a, $b, $c, $m[11], 0xbd3af235, 10);
        step!(ii, $c, $d, $a, $b, $m[2], 0x2ad7d2bb, 15);
        step!(ii, $b, $c, $d, $a, $m[9], 0xeb86d391, 21);
        };
    }

    /// AVX2: the round functions from and/or/xor, rotates from two shifts.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2; for every lane `j` and `blk < n`, `ptr[j] + blk * stride[j]` starts
    /// 64 readable bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn compress_avx2(
        st: &mut LaneStates,
        ptr: &[*const u8; LANES],
        stride: &[usize; LANES],
        n: usize,
    ) {
        let ones = _mm256_set1_epi32(-1);
        // F = d ^ (b & (c ^ d)), G = c ^ (d & (b ^ c)), H = b ^ c ^ d, I = c ^ (b | !d).
        macro_rules! ff {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_xor_si256($z, _mm256_and_si256($x, _mm256_xor_si256($y, $z)))
            };
        }
        macro_rules! gg {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_xor_si256($y, _mm256_and_si256($z, _mm256_xor_si256($x, $y)))
            };
        }
        macro_rules! hh {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_xor_si256(_mm256_xor_si256($x, $y), $z)
            };
        }
        macro_rules! ii {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_xor_si256($y, _mm256_or_si256($x, _mm256_xor_si256($z, ones)))
            };
        }
        macro_rules! rotl {
            ($x:expr, $s:literal) => {{
                let x = $x;
                _mm256_or_si256(
                    _mm256_slli_epi32::<$s>(x),
                    _mm256_srli_epi32::<{ 32 - $s }>(x),
                )
            }};
        }
        kernel!(st, ptr, stride, n)
    }

    /// AVX-512F/VL on 256-bit vectors: one `vpternlogd` per round function, `vprold`.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2, AVX-512F and AVX-512VL; the pointers as for [`compress_avx2`].
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    pub(super) unsafe fn compress_avx512(
        st: &mut LaneStates,
        ptr: &[*const u8; LANES],
        stride: &[usize; LANES],
        n: usize,
    ) {
        // Truth tables, bit (x << 2 | y << 1 | z): F = x ? y : z, G = z ? x : y,
        // H = x ^ y ^ z, I = y ^ (x | !z).
        macro_rules! ff {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_ternarylogic_epi32::<0xCA>($x, $y, $z)
            };
        }
        macro_rules! gg {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_ternarylogic_epi32::<0xE4>($x, $y, $z)
            };
        }
        macro_rules! hh {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_ternarylogic_epi32::<0x96>($x, $y, $z)
            };
        }
        macro_rules! ii {
            ($x:expr, $y:expr, $z:expr) => {
                _mm256_ternarylogic_epi32::<0x39>($x, $y, $z)
            };
        }
        macro_rules! rotl {
            ($x:expr, $s:literal) => {
                _mm256_rol_epi32::<$s>($x)
            };
        }
        kernel!(st, ptr, stride, n)
    }
}
