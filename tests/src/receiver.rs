//! A real HTTP endpoint for webhook deliveries, and an independent check of their
//! Standard Webhooks signatures.
//!
//! The [`Receiver`] listens on `127.0.0.1`, speaks just enough HTTP/1.1 (one request per
//! connection, answered with `Connection: close`), records every request, and is steered
//! while it runs: what it answers, how late, and whether it listens at all (stopping and
//! listening again on the same port is a receiver that is down, then up).
//!
//! [`verify`] checks a signature from the specification alone, without the server's code.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request head the receiver reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the receiver reads.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// What the receiver answers to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long to wait, after reading the request, before answering.
    pub delay: Duration,
}

impl Answer {
    /// An answer with this status, no body, at once.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    /// With a `Retry-After: <seconds>` header.
    #[must_use]
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header("Retry-After", &seconds.to_string())
    }

    /// With another response header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With this body (sent as `text/plain`).
    #[must_use]
    pub fn body(mut self, body: &str) -> Self {
        body.clone_into(&mut self.body);
        self
    }

    /// Answering only after `delay`.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request the receiver read.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The request target, as sent (path and query).
    pub path: String,
    /// Headers by lower-cased name; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// When the request was read whole.
    pub at: Instant,
    /// The same moment on the wall clock (to compare with event times).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

impl Received {
    /// A header, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The `webhook-id` header, which every delivery carries.
    pub fn id(&self) -> &str {
        self.header("webhook-id")
            .unwrap_or_else(|| panic!("a request without webhook-id: {self:?}"))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("a body that is not JSON ({e}): {}", self.text()))
    }

    /// The `v1,` entries of `webhook-signature`, in order.
    pub fn signatures(&self) -> Vec<String> {
        self.header("webhook-signature")
            .unwrap_or_default()
            .split(' ')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Verifies this request's signature with `secret` (see [`verify`]) at the current
    /// time; returns the position of the entry that matched.
    pub fn verify(&self, secret: &str) -> Result<usize, String> {
        let missing = |h: &str| format!("no {h} header");
        verify(
            secret,
            self.header("webhook-id").ok_or_else(|| missing("webhook-id"))?,
            self.header("webhook-timestamp")
                .ok_or_else(|| missing("webhook-timestamp"))?,
            &self.body,
            self.header("webhook-signature")
                .ok_or_else(|| missing("webhook-signature"))?,
            unix_now(),
        )
    }
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

/// How far a signature's timestamp may be from `now`, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Verifies a Standard Webhooks signature: `key` is the base64-decoded part of `secret`
/// after `whsec_`; the expected signature is base64(HMAC-SHA256(key,
/// "{id}.{timestamp}.{body}")); `signatures` holds space-separated `v1,<base64>` entries
/// (other versions are skipped), each compared in constant time. The timestamp must lie
/// within five minutes of `now`. Returns the position of the first entry that matches.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> Result<usize, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| format!("a secret without the whsec_ prefix: {secret:?}"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| format!("a secret that is not base64 after whsec_: {e}"))?;
    let at: i64 = timestamp
        .parse()
        .map_err(|_| format!("a timestamp that is not Unix seconds: {timestamp:?}"))?;
    if (now - at).abs() > TOLERANCE_SECONDS {
        return Err(format!("the timestamp {at} is more than five minutes from now ({now})"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| format!("an unusable key: {e}"))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    for (i, entry) in signatures.split(' ').enumerate() {
        let Some(signature) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(bytes) = STANDARD.decode(signature) else {
            continue;
        };
        // `verify_slice` compares in constant time.
        if mac.clone().verify_slice(&bytes).is_ok() {
            return Ok(i);
        }
    }
    Err(format!("no v1 signature in {signatures:?} matches the secret"))
}

/// What the receiver shares with its connections.
#[derive(Debug)]
struct State {
    received: Vec<Received>,
    /// Answers for the next requests, in order, before `answer`.
    queue: VecDeque<Answer>,
    answer: Answer,
}

/// A running HTTP endpoint on `127.0.0.1` that records what it is sent.
pub struct Receiver {
    port: u16,
    state: Arc<Mutex<State>>,
    /// The accept loop, while listening; its connections die with it.
    listening: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on a free port, answering `200` to everything.
    pub async fn start() -> Self {
        let listener = bind(0).await;
        let port = listener.local_addr().expect("receiver address").port();
        let state = Arc::new(Mutex::new(State {
            received: Vec::new(),
            queue: VecDeque::new(),
            answer: Answer::status(200),
        }));
        let listening = Some(tokio::spawn(accept(listener, Arc::clone(&state))));
        Self { port, state, listening }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The port it listens on (the same across [`Receiver::stop`] and
    /// [`Receiver::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answers every later request with `answer` (once any queued answers are used).
    pub fn answer(&self, answer: Answer) {
        self.state().answer = answer;
    }

    /// Answers every later request with this status and no body.
    pub fn respond(&self, status: u16) {
        self.answer(Answer::status(status));
    }

    /// Answers the next request not yet given a queued answer with `answer`, once.
    pub fn then(&self, answer: Answer) {
        self.state().queue.push_back(answer);
    }

    /// Stops listening: later connections are refused, and requests in progress are
    /// dropped unanswered.
    pub async fn stop(&mut self) {
        if let Some(task) = self.listening.take() {
            task.abort();
            // The listener and the connections are closed once the task is gone.
            let _ = task.await;
        }
    }

    /// Listens again, on the same port.
    pub async fn restart(&mut self) {
        assert!(self.listening.is_none(), "the receiver is listening already");
        let listener = bind(self.port).await;
        self.listening = Some(tokio::spawn(accept(listener, Arc::clone(&self.state))));
    }

    /// Whether it listens.
    pub fn is_listening(&self) -> bool {
        self.listening.is_some()
    }

    /// Every request read so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// How many requests were read so far.
    pub fn count(&self) -> usize {
        self.state().received.len()
    }

    /// Waits until at least `n` requests were read; returns all of them.
    /// # Panics
    /// When fewer arrived within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(&format!("{n} requests"), timeout, |r| r.len() >= n)
            .await
    }

    /// Waits until the requests read so far satisfy `done`; returns them.
    /// # Panics
    /// When they do not within `timeout`, naming `what` and listing what came.
    pub async fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            if Instant::now() >= deadline {
                let got: Vec<String> = received.iter().map(summary).collect();
                panic!(
                    "the receiver on port {} did not get {what} within {timeout:?}; it got {}: {got:#?}",
                    self.port,
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits `period` (for anything still on its way) and returns every request read.
    pub async fn settle(&self, period: Duration) -> Vec<Received> {
        tokio::time::sleep(period).await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.listening.take() {
            task.abort();
        }
    }
}

/// A request in one line, for failure messages.
fn summary(r: &Received) -> String {
    let id = r.header("webhook-id").unwrap_or("-");
    let body: String = r.text().chars().take(160).collect();
    format!("{} {} webhook-id={id} {body}", r.method, r.path)
}

/// A listener on `127.0.0.1:port` (0 for any free port), with `SO_REUSEADDR` so a
/// stopped receiver can listen on its port again at once.
async fn bind(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        let bound = socket
            .bind(([127, 0, 0, 1], port).into())
            .and_then(|()| socket.listen(128));
        match bound {
            Ok(listener) => return listener,
            Err(e) if Instant::now() >= deadline => panic!("cannot listen on 127.0.0.1:{port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Accepts connections until aborted; each is served on its own task, which is aborted
/// with this one.
async fn accept(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve(stream, Arc::clone(&state)));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Reads one request, records it, and answers as configured.
async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let answer = {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.received.push(request);
        s.queue.pop_front().unwrap_or_else(|| s.answer.clone())
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        reason(answer.status),
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(answer.body.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads a request: the head up to CRLFCRLF, then a `Content-Length` or chunked body.
/// `None` when the connection closes first or the request is not HTTP/1.1 as expected.
async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD || !read_more(stream, &mut buf).await {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    if headers
        .get("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.ok()?;
    }
    let mut rest = buf.split_off(head_end + 4);
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        loop {
            if let Some(body) = dechunk(&rest) {
                break body;
            }
            if rest.len() > MAX_BODY || !read_more(stream, &mut rest).await {
                return None;
            }
        }
    } else {
        let length: usize = match headers.get("content-length") {
            Some(l) => l.parse().ok()?,
            None => 0,
        };
        if length > MAX_BODY {
            return None;
        }
        while rest.len() < length {
            if !read_more(stream, &mut rest).await {
                return None;
            }
        }
        rest.truncate(length);
        rest
    };
    Some(Received {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
        received_at: chrono::Utc::now(),
    })
}

/// Appends what the stream has next; false at its end or on an error.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0_u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body of a complete chunked encoding, or `None` while incomplete.
fn dechunk(raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + find(&raw[at..], b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            find(&raw[at..], b"\r\n")?;
            return Some(body);
        }
        if raw.len() < at + size + 2 {
            return None;
        }
        body.extend_from_slice(&raw[at..at + size]);
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const THEN: i64 = 1_614_265_330;

    #[test]
    fn the_published_test_vector_verifies() {
        assert_eq!(verify(SECRET, ID, AT, BODY, SIGNATURE, THEN), Ok(0));
        assert_eq!(verify(SECRET, ID, AT, BODY, SIGNATURE, THEN + 300), Ok(0));
    }

    #[test]
    fn the_matching_entry_of_several_is_found() {
        let other = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let header = format!("{other} v2,xyz {SIGNATURE}");
        assert_eq!(verify(SECRET, ID, AT, BODY, &header, THEN), Ok(2));
    }

    #[test]
    fn a_changed_byte_an_old_timestamp_or_another_key_does_not_verify() {
        assert!(verify(SECRET, ID, AT, br#"{"test": 2432232315}"#, SIGNATURE, THEN).is_err());
        assert!(verify(SECRET, "msg_other", AT, BODY, SIGNATURE, THEN).is_err());
        assert!(verify(SECRET, ID, AT, BODY, SIGNATURE, THEN + 301).is_err());
        assert!(verify(SECRET, ID, AT, BODY, SIGNATURE, THEN - 301).is_err());
        let other_key = "whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=";
        assert!(verify(other_key, ID, AT, BODY, SIGNATURE, THEN).is_err());
        assert!(verify("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID, AT, BODY, SIGNATURE, THEN).is_err());
        let unversioned = SIGNATURE.trim_start_matches("v1,");
        assert!(verify(SECRET, ID, AT, BODY, unversioned, THEN).is_err());
    }

    #[test]
    fn chunked_bodies_are_decoded_once_complete() {
        assert_eq!(dechunk(b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n"), Some(b"abcdef".to_vec()));
        assert_eq!(dechunk(b"4\r\nabcd\r\n2\r\nef\r\n"), None);
        assert_eq!(dechunk(b"4\r\nab"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_receiver_records_answers_as_told_and_listens_again_on_its_port() {
        let mut rx = Receiver::start().await;
        let http = reqwest::Client::new();
        rx.then(Answer::status(429).retry_after(2).body("slow down"));
        let first = http
            .post(rx.url("/hook?x=1"))
            .header("Webhook-Id", "msg_1")
            .json(&serde_json::json!({"a": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 429);
        assert_eq!(first.headers()["retry-after"], "2");
        assert_eq!(first.text().await.unwrap(), "slow down");
        let got = rx.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!((got[0].method.as_str(), got[0].path.as_str()), ("POST", "/hook?x=1"));
        assert_eq!(got[0].id(), "msg_1");
        assert_eq!(got[0].header("content-type"), Some("application/json"));
        assert_eq!(got[0].json(), serde_json::json!({"a": 1}));

        let second = http.post(rx.url("/hook")).body("x").send().await.unwrap();
        assert_eq!(second.status(), 200);
        rx.respond(410);
        let port = rx.port();
        rx.stop().await;
        assert!(http.post(rx.url("/hook")).body("x").send().await.is_err());
        rx.restart().await;
        assert_eq!(rx.port(), port);
        let third = http.post(rx.url("/hook")).body("y").send().await.unwrap();
        assert_eq!(third.status(), 410);
        assert_eq!(rx.wait_for(3, Duration::from_secs(5)).await[2].text(), "y");

        rx.answer(Answer::status(200).after(Duration::from_millis(300)));
        let started = Instant::now();
        let late = http.post(rx.url("/")).send().await.unwrap();
        assert_eq!(late.status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
