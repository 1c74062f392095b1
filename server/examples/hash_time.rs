//! Prints the time of one Argon2id hash with the server's parameters and the
//! login ceiling it implies (hashing threads ÷ hash time). Used by `bench/run`.

use std::time::Instant;

use server::auth::password::{DEFAULT_PARAMS, Hasher};

#[tokio::main]
async fn main() {
    let hasher = Hasher::for_this_machine().expect("hasher");
    let threads = hasher.threads();
    // Warm up, then take the median of 15 sequential hashes.
    hasher
        .hash("warm up the allocator and caches")
        .await
        .expect("hash");
    let mut times = Vec::new();
    for i in 0..15 {
        let start = Instant::now();
        hasher
            .hash(&format!("benchmark password number {i}"))
            .await
            .expect("hash");
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let (m, t, p) = DEFAULT_PARAMS;
    println!(
        "{{\"m_kib\": {m}, \"t\": {t}, \"p\": {p}, \"threads\": {threads}, \"hash_ms\": {:.2}, \"login_ceiling_rps\": {:.1}}}",
        median * 1000.0,
        threads as f64 / median
    );
}
