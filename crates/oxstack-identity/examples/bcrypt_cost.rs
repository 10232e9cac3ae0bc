//! Seconds one bcrypt hash takes at a cost (default 12): the limit password token issue is
//! bound by (cores ÷ this). Used by scripts/bench/identity.
//!
//! `cargo run --release -p oxstack-identity --example bcrypt_cost -- [COST] [N]`

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let hash = match bcrypt::hash("secret", cost) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bcrypt: {e}");
            std::process::exit(1);
        }
    };
    let start = std::time::Instant::now();
    for _ in 0..n {
        let _ = bcrypt::verify("secret", &hash);
    }
    println!("{:.4}", start.elapsed().as_secs_f64() / f64::from(n));
}
