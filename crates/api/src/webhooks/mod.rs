//! Outgoing webhooks: the HTTP client that delivers them, the signing, the address
//! guard, and the worker that sends due deliveries.

pub mod guard;
pub mod sign;
pub mod worker;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rapport_domain::webhook::Endpoint;

use crate::config::Settings;

/// The longest response body kept with an attempt.
const KEPT_BODY: usize = 1024;

/// The delivery client: a timeout, no redirects, and the guarded resolver.
/// # Errors
/// When the TLS backend cannot start.
pub fn client(settings: &Settings) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.webhook_timeout_seconds))
        .connect_timeout(Duration::from_secs(settings.webhook_timeout_seconds.min(5)))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(guard::Resolver {
            allow_private: settings.webhook_allow_private,
        }))
        .user_agent(concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub body: Option<String>,
    pub error: Option<String>,
    /// `Retry-After`, in seconds, on a 429 or 503.
    pub retry_after: Option<i64>,
}

impl Sent {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends one signed message to an endpoint, checking its address first.
pub async fn send(
    client: &reqwest::Client,
    settings: &Settings,
    endpoint: &Endpoint,
    message_id: &str,
    body: Vec<u8>,
) -> Sent {
    let at = rapport_store::now();
    let started = Instant::now();
    let failed = |error: String| Sent {
        at,
        status: None,
        latency_ms: 0,
        body: None,
        error: Some(error),
        retry_after: None,
    };
    let url = match guard::parse(&endpoint.url, settings.webhook_allow_http) {
        Ok(u) => u,
        Err(e) => return failed(e.message),
    };
    // Literal addresses skip the resolver; check them (and names, early) here.
    if !settings.webhook_allow_private
        && let Ok(ips) = guard::addresses(&url).await
        && ips.iter().any(|ip| !guard::public(*ip))
    {
        return failed("address not allowed".into());
    }
    let timestamp = at.timestamp();
    let signature = sign::header(&endpoint.signing_secrets(at), message_id, timestamp, &body);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match response {
        Err(e) => Sent {
            latency_ms,
            ..failed(describe(&e))
        },
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = (status == 429 || status == 503)
                .then(|| {
                    r.headers()
                        .get("retry-after")?
                        .to_str()
                        .ok()?
                        .trim()
                        .parse::<i64>()
                        .ok()
                })
                .flatten();
            let text = r.bytes().await.ok().map(|b| {
                let cut = &b[..b.len().min(KEPT_BODY)];
                String::from_utf8_lossy(cut).into_owned()
            });
            Sent {
                at,
                status: Some(status),
                latency_ms,
                body: text.filter(|t| !t.is_empty()),
                error: (!(200..300).contains(&status)).then(|| format!("the endpoint answered {status}")),
                retry_after,
            }
        }
    }
}

/// A transport error in a few words, without the URL's secrets.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = e.to_string();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        "timed out".into()
    } else if deepest.contains("address not allowed") {
        "address not allowed".into()
    } else if e.is_connect() {
        format!("could not connect: {deepest}")
    } else {
        deepest
    }
}
