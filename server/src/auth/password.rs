//! Password hashing with Argon2id (PHC strings). Hashing is deliberately
//! slow, so it runs on a fixed pool of threads of its own, one per core: a
//! login storm queues up instead of starving the async runtime. The queue is
//! bounded: a hash must be reserved first ([`Hasher::reserve`]), and when
//! every slot is taken the caller is told at once ([`HashError::Busy`], a
//! `503`) instead of waiting behind an unbounded line. Each hashing thread
//! allocates Argon2's 19 MiB working memory once and reuses it for every
//! hash: allocated per hash, glibc kept the freed blocks, and a login storm
//! peaked at 380 MiB of RSS.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
    mpsc,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// OWASP's baseline for Argon2id: 19 MiB, 2 passes, 1 lane.
pub const DEFAULT_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing pool stopped")]
    Closed,
    /// Every hashing slot is taken: the caller should come back later.
    #[error("every password hashing slot is taken")]
    Busy,
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Correct, and the stored hash uses weaker parameters than today's.
    MatchNeedsRehash,
}

/// A hashing thread's Argon2 working memory, allocated once, then reused.
type Memory = Vec<Block>;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Hashes and verifies passwords on a fixed pool of threads.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    jobs: mpsc::Sender<Job>,
    threads: usize,
    /// One permit per hash that may be running or waiting at once.
    slots: Arc<Semaphore>,
    capacity: usize,
    /// A hash of a random password, checked when the account does not
    /// exist, so that "no such user" costs as much as "wrong password".
    dummy: Arc<str>,
    /// Argon2 computations so far (hashes and each candidate verified), for
    /// tests and metrics.
    runs: Arc<AtomicU64>,
}

impl Hasher {
    /// A hasher with `(m_cost KiB, t_cost, p_cost)`, `threads` concurrent
    /// hashes, and room for `waiting` more waiting for a thread.
    pub fn new(
        (m, t, p): (u32, u32, u32),
        threads: usize,
        waiting: usize,
    ) -> Result<Self, HashError> {
        let params = Params::new(m, t, p, None).map_err(|e| HashError::Hash(e.to_string()))?;
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let dummy = hash_now(&params, &random, &mut Memory::new())?;
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Memory::new();
                    // Ends when every Hasher (every sender) is gone.
                    while let Ok(job) = queue
                        .lock()
                        .map_or_else(|e| e.into_inner().recv(), |q| q.recv())
                    {
                        job(&mut memory);
                    }
                })
                .map_err(|e| HashError::Hash(format!("cannot start a hashing thread: {e}")))?;
        }
        let capacity = threads + waiting;
        Ok(Self {
            params,
            jobs,
            threads,
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            dummy: dummy.into(),
            runs: Arc::default(),
        })
    }

    /// One hashing thread per core, with room for `queue` hashes waiting.
    pub fn for_this_machine(queue: usize) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(DEFAULT_PARAMS, cores, queue)
    }

    /// How many hashes can run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How many hashes are running or waiting right now.
    /// Hashes that may be running or waiting at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn in_use(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// Reserves a slot for one hash (or verification), or refuses at once
    /// with [`HashError::Busy`] when the queue is full.
    pub fn reserve(&self) -> Result<Reserved, HashError> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        Ok(Reserved {
            hasher: self.clone(),
            permit,
        })
    }

    /// Reserves a slot and hashes `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.reserve()?.hash(password).await
    }

    /// Reserves a slot and checks `password` against `phc`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<Verdict, HashError> {
        self.reserve()?.verify(&[password], phc).await
    }

    /// How many Argon2 computations this hasher has made: one per hash, one
    /// per candidate checked.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Queues `work` for a hashing thread. The slot `permit` travels with
    /// the job and is released only when the job is done, so a request that
    /// is cancelled while its job waits still holds its place in the bound;
    /// and its job, finding nobody waiting for the answer, computes nothing.
    async fn run<T: Send + 'static>(
        &self,
        permit: OwnedSemaphorePermit,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if done.is_closed() {
                return;
            }
            let output = work(memory);
            // Free before answering: whoever has the answer finds the slot free.
            drop(permit);
            let _ = done.send(output);
        });
        self.jobs.send(job).map_err(|_| HashError::Closed)?;
        result.await.map_err(|_| HashError::Closed)
    }
}

/// A reserved hashing slot, spent by the one job it is used for.
pub struct Reserved {
    hasher: Hasher,
    permit: OwnedSemaphorePermit,
}

impl Reserved {
    /// Hashes `password` into a PHC string with a fresh random salt.
    pub async fn hash(self, password: &str) -> Result<String, HashError> {
        let params = self.hasher.params.clone();
        let password = password.to_owned();
        let runs = self.hasher.runs.clone();
        self.hasher
            .run(self.permit, move |memory| {
                runs.fetch_add(1, Ordering::Relaxed);
                hash_now(&params, password.as_bytes(), memory)
            })
            .await?
    }

    /// Checks the `candidates` for the password, in order, against `phc`, or
    /// against the dummy hash when the account does not exist (`phc` is
    /// `None`; always a mismatch). A match by any candidate but the first
    /// asks for a re-hash (of the first). Every candidate is tried when none
    /// matches, so the time spent does not tell whether the account exists.
    pub async fn verify(
        self,
        candidates: &[&str],
        phc: Option<&str>,
    ) -> Result<Verdict, HashError> {
        let known = phc.is_some();
        let phc = phc.map_or_else(|| self.hasher.dummy.to_string(), str::to_owned);
        let current = self.hasher.params.clone();
        let candidates: Vec<String> = candidates.iter().map(|c| (*c).to_owned()).collect();
        let runs = self.hasher.runs.clone();
        let verdict = self
            .hasher
            .run(self.permit, move |memory| {
                let Ok(parsed) = PasswordHash::new(&phc) else {
                    return Verdict::Mismatch;
                };
                let Some(which) = candidates.iter().position(|c| {
                    runs.fetch_add(1, Ordering::Relaxed);
                    matches(&parsed, c.as_bytes(), memory)
                }) else {
                    return Verdict::Mismatch;
                };
                if which > 0 || is_weaker(&parsed, &current) {
                    Verdict::MatchNeedsRehash
                } else {
                    Verdict::Match
                }
            })
            .await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }
}

fn argon2_for(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// The first `params.block_count()` blocks of `memory`, grown if need be.
fn blocks<'m>(memory: &'m mut Memory, params: &Params) -> &'m mut [Block] {
    let count = params.block_count();
    if memory.len() < count {
        memory.resize(count, Block::default());
    }
    &mut memory[..count]
}

fn hash_now(params: &Params, password: &[u8], memory: &mut Memory) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt = Salt::new(&salt).map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_for(params)
        .hash_password_into_with_memory(password, &salt, &mut out, blocks(memory, params))
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to `stored`, with the algorithm, version,
/// parameters and salt `stored` names (as the argon2 crate's verifier does);
/// the outputs are compared in constant time.
fn matches(stored: &PasswordHash, password: &[u8], memory: &mut Memory) -> bool {
    let (Ok(algorithm), Ok(version), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(stored.algorithm.as_str()),
        stored
            .version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(stored),
        &stored.salt,
        &stored.hash,
    ) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let memory = blocks(memory, &params);
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory)
        .is_ok()
        && Output::new(&out).is_ok_and(|out| out == *expected)
}

/// Whether a stored hash is cheaper to attack than hashes made today.
fn is_weaker(stored: &PasswordHash, current: &Params) -> bool {
    if stored.algorithm != argon2::ARGON2ID_IDENT {
        return true;
    }
    match Params::try_from(stored) {
        Ok(p) => {
            p.m_cost() < current.m_cost()
                || p.t_cost() < current.t_cost()
                || p.p_cost() < current.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Small parameters keep unit tests fast; DEFAULT_PARAMS is tested once.
    fn fast() -> Hasher {
        Hasher::new((1024, 1, 1), 2, 16).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let h = fast();
        let phc = h.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify("correct horse battery staple", Some(&phc))
                .await
                .unwrap(),
            Verdict::Match
        );
        assert_eq!(
            h.verify("correct horse battery stapler", Some(&phc))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn the_same_password_gets_a_different_salt_each_time() {
        let h = fast();
        assert_ne!(
            h.hash("same password twice").await.unwrap(),
            h.hash("same password twice").await.unwrap()
        );
    }

    #[tokio::test]
    async fn default_parameters_meet_the_owasp_baseline() {
        let h = Hasher::new(DEFAULT_PARAMS, 1, 16).unwrap();
        let phc = h.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[tokio::test]
    async fn hashes_with_weaker_parameters_ask_to_be_upgraded() {
        let old = fast().hash("correct horse battery staple").await.unwrap();
        let today = Hasher::new((2048, 2, 1), 1, 16).unwrap();
        assert_eq!(
            today
                .verify("correct horse battery staple", Some(&old))
                .await
                .unwrap(),
            Verdict::MatchNeedsRehash
        );
        // A wrong password is a mismatch whatever the parameters.
        assert_eq!(
            today
                .verify("wrong password entirely", Some(&old))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_s_own_hasher_and_verifier() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let params = Params::new(1024, 1, 1, None).unwrap();
        let password = "correct horse battery staple";
        // Stored before the hashing threads reused their memory: the crate's own PHC string.
        let theirs = argon2_for(&params)
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string();
        let h = fast();
        assert_eq!(
            h.verify(password, Some(&theirs)).await.unwrap(),
            Verdict::Match
        );
        assert_eq!(
            h.verify("a wrong one", Some(&theirs)).await.unwrap(),
            Verdict::Mismatch
        );

        let ours = PasswordHash::new(&h.hash(password).await.unwrap())
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2_for(&params)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            argon2_for(&params)
                .verify_password(b"a wrong one", &parsed)
                .is_err()
        );
    }

    #[tokio::test]
    async fn one_thread_s_memory_serves_hashes_of_any_size_in_turn() {
        let h = Hasher::new((1024, 1, 1), 1, 16).unwrap();
        let big = Hasher::new((4096, 1, 1), 1, 16)
            .unwrap()
            .hash("pw of a big hash")
            .await
            .unwrap();
        let small = h.hash("pw of a small hash").await.unwrap();
        // One thread: the buffer grows for the big hash and is then used in part.
        for (password, phc) in [
            ("pw of a small hash", &small),
            ("pw of a big hash", &big),
            ("pw of a small hash", &small),
        ] {
            assert_eq!(h.verify(password, Some(phc)).await.unwrap(), Verdict::Match);
            assert_eq!(
                h.verify("wrong", Some(phc)).await.unwrap(),
                Verdict::Mismatch
            );
        }
    }

    #[tokio::test]
    async fn hashes_run_on_the_pool_s_own_threads_only() {
        let h = fast();
        let permit = h.reserve().unwrap().permit;
        let name = h
            .run(permit, |_| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("argon2-")));
        assert_eq!(h.threads(), 2);
    }

    /// A caller that gives up while its job waits keeps its slot until the
    /// job has run, and its job computes nothing.
    #[tokio::test]
    async fn a_cancelled_hash_keeps_its_slot_until_its_job_is_done_and_computes_nothing() {
        let h = Hasher::new((1024, 1, 1), 1, 1).unwrap();
        // The one thread is busy until `release` is sent.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = h.reserve().unwrap().permit;
        let busy = h.clone();
        let blocking =
            tokio::spawn(async move { busy.run(blocker, move |_| held.recv().ok()).await });
        let waiting = h.reserve().unwrap();
        let cancelled = tokio::spawn(waiting.hash("never computed"));
        tokio::task::yield_now().await;
        cancelled.abort();
        let _ = cancelled.await;
        assert_eq!(h.in_use(), 2, "the cancelled job still holds its slot");
        assert!(matches!(h.reserve(), Err(HashError::Busy)));
        let before = h.runs();
        release.send(()).unwrap();
        blocking.await.unwrap().unwrap();
        // The cancelled job runs next, finds nobody waiting, and frees its slot.
        let phc = h.hash("now there is room").await.unwrap();
        assert_eq!(h.runs(), before + 1, "only the last hash was computed");
        assert_eq!(h.in_use(), 0);
        assert_eq!(
            h.verify("now there is room", Some(&phc)).await.unwrap(),
            Verdict::Match
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_slots_afterwards() {
        let h = Hasher::new((1024, 1, 1), 1, 2).unwrap();
        let held: Vec<Reserved> = (0..3).map(|_| h.reserve().unwrap()).collect();
        assert_eq!(h.in_use(), 3);
        assert!(matches!(h.reserve(), Err(HashError::Busy)));
        let phc = held
            .into_iter()
            .next()
            .unwrap()
            .hash("one of three")
            .await
            .unwrap();
        // The other two reservations were dropped unused: every slot is free.
        assert_eq!(h.in_use(), 0);
        assert_eq!(
            h.verify("one of three", Some(&phc)).await.unwrap(),
            Verdict::Match
        );
    }

    #[tokio::test]
    async fn a_later_candidate_matches_and_asks_for_a_rehash() {
        let h = fast();
        let old = h
            .hash("caf\u{65}\u{301} au lait, s'il vous plait")
            .await
            .unwrap();
        let composed = "caf\u{e9} au lait, s'il vous plait";
        let decomposed = "caf\u{65}\u{301} au lait, s'il vous plait";
        assert_eq!(
            h.reserve()
                .unwrap()
                .verify(&[composed, decomposed], Some(&old))
                .await
                .unwrap(),
            Verdict::MatchNeedsRehash
        );
        assert_eq!(
            h.reserve()
                .unwrap()
                .verify(&[decomposed], Some(&old))
                .await
                .unwrap(),
            Verdict::Match
        );
        let before = h.runs();
        assert_eq!(
            h.reserve()
                .unwrap()
                .verify(&["wrong one", "wrong two"], None)
                .await
                .unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            h.runs(),
            before + 2,
            "every candidate is tried, also for nobody"
        );
    }

    #[tokio::test]
    async fn unknown_accounts_and_garbage_hashes_never_match() {
        let h = fast();
        assert_eq!(
            h.verify("anything at all here", None).await.unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            h.verify("anything at all here", Some("not a phc string"))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
    }
}
