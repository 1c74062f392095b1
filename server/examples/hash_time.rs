//! Prints the time of an Argon2id hash with the server's parameters and the
//! login ceiling it implies (hashing threads ÷ hash time). Used by `bench/run`.
//!
//! Two times are measured. `alone_ms` is one hash at a time, the other cores
//! idle. `busy_ms` is the time per hash while every hashing thread hashes, as
//! under a login storm: the threads then share the memory bus and the cores,
//! so each hash takes longer, and this is the time the ceiling divides by.

use std::time::{Duration, Instant};

use server::auth::password::{DEFAULT_PARAMS, Hasher};

const SAMPLES: usize = 15;
const BUSY_FOR: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() {
    let hasher = Hasher::for_this_machine(0).expect("hasher");
    let threads = hasher.threads();
    hasher
        .hash("warm up the allocator and caches")
        .await
        .expect("hash");

    let mut alone = Vec::new();
    for i in 0..SAMPLES {
        let start = Instant::now();
        hasher.hash(&format!("alone {i}")).await.expect("hash");
        alone.push(start.elapsed().as_secs_f64());
    }

    // Every thread kept hashing for a few seconds, three times: this machine's
    // speed drifts, and one short sample can land on either side of it.
    let mut busy = Vec::new();
    for run in 0..3 {
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let mut done = 0_u32;
                    while start.elapsed() < BUSY_FOR {
                        let password = format!("busy {run} {t} {done}");
                        hasher.hash(&password).await.expect("hash");
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let mut hashes = 0;
        for worker in workers {
            hashes += worker.await.expect("task");
        }
        busy.push(start.elapsed().as_secs_f64() * threads as f64 / f64::from(hashes));
    }

    let (alone, busy) = (median(alone), median(busy));
    let (m, t, p) = DEFAULT_PARAMS;
    println!(
        "{{\"m_kib\": {m}, \"t\": {t}, \"p\": {p}, \"threads\": {threads}, \"alone_ms\": {:.2}, \"busy_ms\": {:.2}, \"login_ceiling_rps\": {:.1}}}",
        alone * 1000.0,
        busy * 1000.0,
        threads as f64 / busy
    );
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
