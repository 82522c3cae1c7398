//! The load generator: a fixed number of keep-alive connections, each sending one
//! request after another for a fixed time, recording every latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

/// One request to send.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<(&'static str, Vec<u8>)>,
    pub headers: Vec<(&'static str, &'static str)>,
}

/// Builds the next request of an operation from a random source.
pub type MakeRequest = Arc<dyn Fn(&mut Rng) -> Request + Send + Sync>;

/// xorshift64*: fast, deterministic per connection, good enough to pick ids.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64, so neighbouring seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `1..=n`.
    pub fn upto(&mut self, n: u64) -> u64 {
        1 + self.next() % n.max(1)
    }
}

/// What one measured run saw.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Latencies in microseconds, sorted.
    pub latencies: Vec<u32>,
    pub first_error: Option<String>,
}

impl Stats {
    #[allow(clippy::cast_precision_loss)]
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }
}

async fn connection(addr: Arc<String>, token: Arc<String>, make: MakeRequest, seed: u64, until: Instant) -> Stats {
    let mut conn = crate::http::Connection::new(&addr);
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    while Instant::now() < until {
        let req = make(&mut rng);
        let started = Instant::now();
        let ok = match conn.send(&req, &token).await {
            Ok(r) if r.error_body.is_none() => true,
            Ok(r) => {
                stats
                    .first_error
                    .get_or_insert_with(|| format!("{}: {}", r.status, r.error_body.unwrap_or_default()));
                false
            }
            Err(e) => {
                stats.first_error.get_or_insert_with(|| e.to_string());
                false
            }
        };
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        stats.requests += 1;
        if ok {
            stats.latencies.push(micros);
        } else {
            stats.errors += 1;
        }
    }
    stats
}

/// Runs `make` over `connections` connections for `duration`.
pub async fn run(
    base: &str,
    token: &str,
    make: &MakeRequest,
    connections: usize,
    duration: Duration,
    salt: u64,
) -> Stats {
    let base = Arc::new(base.to_owned());
    let token = Arc::new(token.to_owned());
    let until = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(connection(
                base.clone(),
                token.clone(),
                make.clone(),
                salt + i as u64,
                until,
            ))
        })
        .collect();
    let mut all = Stats::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.requests += s.requests;
            all.errors += s.errors;
            all.latencies.extend(s.latencies);
            if all.first_error.is_none() {
                all.first_error = s.first_error;
            }
        }
    }
    all.seconds = started.elapsed().as_secs_f64();
    all.latencies.sort_unstable();
    all
}
