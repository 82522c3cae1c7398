//! Prometheus metrics: request counts and latencies by route, and database statement
//! counts and latencies. Served as text at `/metrics`.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The process's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    queries: IntCounterVec,
    query_latency: HistogramVec,
}

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Registers every metric.
    /// # Errors
    /// Only if two metrics were given the same name.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("rapport".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let queries = IntCounterVec::new(
            Opts::new("db_queries_total", "Database statements by outcome"),
            &["outcome"],
        )?;
        let query_latency = HistogramVec::new(
            HistogramOpts::new("db_query_duration_seconds", "Database statement latency").buckets(BUCKETS.to_vec()),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(queries.clone()))?;
        registry.register(Box::new(query_latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            queries,
            query_latency,
        })
    }

    /// Records one database statement.
    pub fn observe_query(&self, elapsed: Duration, failed: bool) {
        let outcome = if failed { "error" } else { "ok" };
        self.queries.with_label_values(&[outcome]).inc();
        self.query_latency
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: counts and times each request under its route pattern (not its
/// concrete path, which would make one series per id).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let status = res.status().as_u16().to_string();
        m.requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
