//! Settings: defaults in code < optional `rapport.toml` < `RAPPORT_*` environment
//! variables (and `DATABASE_URL`). One typed value, passed explicitly; secrets are
//! `SecretString` and never logged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// An external identity provider whose tokens are accepted.
#[derive(Clone, Debug)]
pub struct ExternalIdp {
    /// HS256 shared secret, or …
    pub hs256_secret: Option<SecretString>,
    /// … a PEM public key (RSA for RS256/384/512, Ed25519 for EdDSA).
    pub public_key_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    /// Accepted `alg` values; other algorithms are refused.
    pub algorithms: Vec<String>,
}

/// Every setting of the server. See the README for each variable.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: String,
    pub database_url: String,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub cors_origins: Vec<String>,
    pub workers: Option<usize>,
    pub token_ttl_seconds: u64,
    pub token_secret: Option<SecretString>,
    pub token_issuer: String,
    pub token_audience: String,
    pub external_idp: Option<ExternalIdp>,
    pub max_body_bytes: usize,
    pub max_batch_body_bytes: usize,
    /// Batch upserts run at once; more wait their turn without holding a connection.
    pub batch_concurrency: usize,
    /// How long a double opt-in confirmation token stays valid.
    pub consent_confirmation_seconds: i64,
    /// How long events stay readable in the feed.
    pub event_retention_days: i64,
    /// Deliver webhooks to private and loopback addresses (development and tests).
    pub webhook_allow_private: bool,
    /// Accept `http://` webhook URLs.
    pub webhook_allow_http: bool,
    pub webhook_timeout_seconds: u64,
    /// Seconds before each attempt after the previous one fails (first: at once).
    pub webhook_retry_schedule: Vec<u64>,
    /// How long a worker holds a claimed delivery before another may take it.
    pub webhook_lease_seconds: i64,
    /// How often dynamic segments whose rules depend on the clock (`within_last`,
    /// consent expiry) are reconciled in full.
    pub segment_refresh_seconds: u64,
    /// How often customers without a recent purchase are moved to `churned`.
    pub churn_check_seconds: u64,
    /// Where uploaded import files wait for their job (removed when it ends).
    pub import_dir: std::path::PathBuf,
    /// The largest import file accepted.
    pub import_max_bytes: u64,
    pub shutdown_timeout_seconds: u64,
    pub bootstrap: bool,
    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
}

/// Every key, as written in `rapport.toml`; the environment variable is `RAPPORT_` +
/// the key in upper case (`DATABASE_URL` is also read without the prefix).
pub const KEYS: [&str; 34] = [
    "listen",
    "database_url",
    "db_max_connections",
    "log_format",
    "log",
    "cors_origins",
    "workers",
    "token_ttl_seconds",
    "token_secret",
    "token_issuer",
    "token_audience",
    "external_jwt_hs256_secret",
    "external_jwt_public_key_file",
    "external_jwt_issuer",
    "external_jwt_audience",
    "external_jwt_algorithms",
    "max_body_bytes",
    "max_batch_body_bytes",
    "batch_concurrency",
    "consent_confirmation_seconds",
    "event_retention_days",
    "webhook_allow_private",
    "webhook_allow_http",
    "webhook_timeout_seconds",
    "webhook_retry_schedule",
    "webhook_lease_seconds",
    "segment_refresh_seconds",
    "churn_check_seconds",
    "import_dir",
    "import_max_bytes",
    "shutdown_timeout_seconds",
    "bootstrap",
    "graphql_max_depth",
    "graphql_max_complexity",
];

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// A TOML scalar as the text an environment variable would hold.
fn scalar(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => String::new(),
    }
}

/// The raw layered values.
struct Layers {
    values: BTreeMap<String, String>,
}

impl Layers {
    fn load(env: &BTreeMap<String, String>) -> Result<(Self, Vec<String>), ConfigError> {
        let mut values = BTreeMap::new();
        let mut warnings = Vec::new();
        // RAPPORT_CONFIG names the file (which must then exist); set empty, it turns the
        // file layer off; unset, ./rapport.toml is read when present.
        let explicit = env.get("RAPPORT_CONFIG").map(PathBuf::from);
        let path = explicit.clone().unwrap_or_else(|| PathBuf::from("rapport.toml"));
        let read = if path.as_os_str().is_empty() {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        } else {
            std::fs::read_to_string(&path)
        };
        match read {
            Ok(text) => {
                let table: toml::Table = text
                    .parse()
                    .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
                for (k, v) in table {
                    if !KEYS.contains(&k.as_str()) {
                        warnings.push(format!("{}: unknown setting '{k}' ignored", path.display()));
                        continue;
                    }
                    let v = match v {
                        toml::Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(","),
                        other => scalar(&other),
                    };
                    values.insert(k, v);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && explicit.as_ref().is_none_or(|p| p.as_os_str().is_empty()) => {}
            Err(e) => return Err(ConfigError(format!("{}: {e}", path.display()))),
        }
        if let Some(url) = env.get("DATABASE_URL") {
            values.insert("database_url".into(), url.clone());
        }
        for (k, v) in env {
            let Some(key) = k.strip_prefix("RAPPORT_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if key == "config" {
                continue;
            }
            if KEYS.contains(&key.as_str()) {
                values.insert(key, v.clone());
            } else {
                warnings.push(format!("unknown environment variable {k} ignored"));
            }
        }
        Ok((Self { values }, warnings))
    }

    fn text(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.text(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("{key}: '{v}' is not a valid value"))),
        }
    }

    fn secret(&self, key: &str) -> Option<SecretString> {
        self.text(key).map(SecretString::from)
    }
}

/// Parses a retry schedule: seconds before each attempt, comma-separated, 1 to 20 of
/// them, each at most a day; the Standard Webhooks schedule by default.
fn schedule(raw: Option<&str>) -> Result<Vec<u64>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(rapport_domain::webhook::STANDARD_SCHEDULE.to_vec());
    };
    let bad = || {
        ConfigError(format!(
            "webhook_retry_schedule: '{raw}' is not 1 to 20 comma-separated seconds (each at most 86400)"
        ))
    };
    let steps: Vec<u64> = raw
        .split(',')
        .map(|p| p.trim().parse::<u64>().ok().filter(|s| *s <= 86_400))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if steps.is_empty() || steps.len() > 20 {
        return Err(bad());
    }
    Ok(steps)
}

impl Settings {
    /// Loads settings from `rapport.toml` (or `RAPPORT_CONFIG`) and the process
    /// environment. Returns warnings (unknown keys) to log once logging is up.
    /// # Errors
    /// An invalid value or an unreadable explicit config file.
    pub fn load() -> Result<(Self, Vec<String>), ConfigError> {
        Self::from_env(&std::env::vars().collect())
    }

    /// The defaults, on the given database (for tests that build the app in-process).
    /// # Errors
    /// Never in practice: the defaults are valid.
    pub fn with_database(url: &str) -> Result<Self, ConfigError> {
        let env = BTreeMap::from([
            ("DATABASE_URL".to_owned(), url.to_owned()),
            ("RAPPORT_CONFIG".to_owned(), String::new()),
        ]);
        Ok(Self::from_env(&env)?.0)
    }

    /// Loads settings from the given environment (for tests).
    /// # Errors
    /// As [`Settings::load`].
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<(Self, Vec<String>), ConfigError> {
        let (l, warnings) = Layers::load(env)?;
        let log_format = match l.text("log_format").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(ConfigError(format!("log_format: '{other}' is not text or json"))),
        };
        let external_idp = {
            let hs = l.secret("external_jwt_hs256_secret");
            let pem = l.text("external_jwt_public_key_file").map(PathBuf::from);
            if hs.is_none() && pem.is_none() {
                None
            } else {
                if hs.is_some() && pem.is_some() {
                    return Err(ConfigError(
                        "set either external_jwt_hs256_secret or external_jwt_public_key_file, not both".into(),
                    ));
                }
                let issuer = l.text("external_jwt_issuer").ok_or_else(|| {
                    ConfigError("external_jwt_issuer is required with an external identity provider".into())
                })?;
                let audience = l.text("external_jwt_audience").ok_or_else(|| {
                    ConfigError("external_jwt_audience is required with an external identity provider".into())
                })?;
                let algorithms = l
                    .text("external_jwt_algorithms")
                    .map(|a| {
                        a.split([',', ' '])
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(ExternalIdp {
                    hs256_secret: hs,
                    public_key_file: pem,
                    issuer,
                    audience,
                    algorithms,
                })
            }
        };
        let db_max_connections: u32 = l.parse("db_max_connections", 16)?;
        let settings = Settings {
            listen: l.text("listen").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url: l
                .text("database_url")
                .unwrap_or_else(|| "sqlite://rapport.db?mode=rwc".into()),
            db_max_connections,
            log_format,
            log_filter: l
                .text("log")
                .or_else(|| env.get("RUST_LOG").cloned())
                .unwrap_or_else(|| "info".into()),
            cors_origins: l
                .text("cors_origins")
                .map(|o| {
                    o.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            workers: l
                .text("workers")
                .map(|w| w.parse())
                .transpose()
                .map_err(|_| ConfigError("workers: not a number".into()))?,
            token_ttl_seconds: l.parse("token_ttl_seconds", 3600)?,
            token_secret: l.secret("token_secret"),
            token_issuer: l.text("token_issuer").unwrap_or_else(|| "rapport".into()),
            token_audience: l.text("token_audience").unwrap_or_else(|| "rapport".into()),
            external_idp,
            max_body_bytes: l.parse("max_body_bytes", 1 << 20)?,
            max_batch_body_bytes: l.parse("max_batch_body_bytes", 16 << 20)?,
            batch_concurrency: l.parse(
                "batch_concurrency",
                usize::try_from(db_max_connections / 4).unwrap_or(1).max(1),
            )?,
            consent_confirmation_seconds: l.parse("consent_confirmation_seconds", 72 * 3600)?,
            event_retention_days: l.parse("event_retention_days", 30)?,
            webhook_allow_private: l.parse("webhook_allow_private", false)?,
            webhook_allow_http: l.parse("webhook_allow_http", false)?,
            webhook_timeout_seconds: l.parse("webhook_timeout_seconds", 10)?,
            webhook_retry_schedule: schedule(l.text("webhook_retry_schedule").as_deref())?,
            webhook_lease_seconds: l.parse("webhook_lease_seconds", 60)?,
            segment_refresh_seconds: l.parse("segment_refresh_seconds", 900)?,
            churn_check_seconds: l.parse("churn_check_seconds", 3600)?,
            import_dir: l.text("import_dir").map_or_else(
                || std::env::temp_dir().join("rapport-imports"),
                std::path::PathBuf::from,
            ),
            import_max_bytes: l.parse("import_max_bytes", 1 << 30)?,
            shutdown_timeout_seconds: l.parse("shutdown_timeout_seconds", 30)?,
            bootstrap: l.parse("bootstrap", true)?,
            graphql_max_depth: l.parse("graphql_max_depth", 12)?,
            graphql_max_complexity: l.parse("graphql_max_complexity", 2000)?,
        };
        settings.check()?;
        Ok((settings, warnings))
    }

    /// Refuses values that parse but make no sense together or out of range.
    fn check(&self) -> Result<(), ConfigError> {
        if self.cors_origins.iter().any(|o| o == "*") && self.cors_origins.len() > 1 {
            return Err(ConfigError(
                "cors_origins: '*' cannot be combined with other origins".into(),
            ));
        }
        if self.batch_concurrency == 0 {
            return Err(ConfigError("batch_concurrency must be at least 1".into()));
        }
        if !(1..=30 * 86_400).contains(&self.consent_confirmation_seconds) {
            return Err(ConfigError(
                "consent_confirmation_seconds must be between 1 and 2592000 (30 days)".into(),
            ));
        }
        if !(1..=300).contains(&self.webhook_timeout_seconds) {
            return Err(ConfigError("webhook_timeout_seconds must be between 1 and 300".into()));
        }
        if !(1..=3600).contains(&self.webhook_lease_seconds) {
            return Err(ConfigError("webhook_lease_seconds must be between 1 and 3600".into()));
        }
        if !(1..=86_400).contains(&self.segment_refresh_seconds) {
            return Err(ConfigError(
                "segment_refresh_seconds must be between 1 and 86400".into(),
            ));
        }
        if !(1..=86_400).contains(&self.churn_check_seconds) {
            return Err(ConfigError("churn_check_seconds must be between 1 and 86400".into()));
        }
        if !(1..=3650).contains(&self.event_retention_days) {
            return Err(ConfigError("event_retention_days must be between 1 and 3650".into()));
        }
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return Err(ConfigError("token_ttl_seconds must be between 60 and 86400".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        m.insert("RAPPORT_CONFIG".into(), "/nonexistent/rapport.toml".into());
        m
    }

    #[test]
    fn defaults_start_on_sqlite_on_loopback() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("empty.toml"), "").unwrap();
        let mut e = env(&[]);
        e.insert("RAPPORT_CONFIG".into(), dir.join("empty.toml").display().to_string());
        let (s, _) = Settings::from_env(&e).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://rapport.db?mode=rwc");
    }

    #[test]
    fn an_explicit_missing_config_file_is_an_error() {
        assert!(Settings::from_env(&env(&[])).is_err());
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_keys_warn() {
        let dir = tempfile_dir();
        let path = dir.join("rapport.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nworkers = 3\nbogus = 1\n").unwrap();
        let mut e = env(&[
            ("RAPPORT_WORKERS", "5"),
            ("RAPPORT_NOPE", "x"),
            ("DATABASE_URL", "postgres://x/y"),
        ]);
        e.insert("RAPPORT_CONFIG".into(), path.display().to_string());
        let (s, warnings) = Settings::from_env(&e).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.workers, Some(5));
        assert_eq!(s.database_url, "postgres://x/y");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn an_external_idp_needs_issuer_and_audience() {
        let mut e = env(&[("RAPPORT_EXTERNAL_JWT_HS256_SECRET", "s")]);
        let dir = tempfile_dir();
        e.insert("RAPPORT_CONFIG".into(), dir.join("none.toml").display().to_string());
        std::fs::write(dir.join("none.toml"), "").unwrap();
        assert!(Settings::from_env(&e).is_err());
        e.insert("RAPPORT_EXTERNAL_JWT_ISSUER".into(), "https://idp".into());
        e.insert("RAPPORT_EXTERNAL_JWT_AUDIENCE".into(), "rapport".into());
        assert!(Settings::from_env(&e).unwrap().0.external_idp.is_some());
    }

    #[test]
    fn bad_values_are_refused() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("c.toml"), "").unwrap();
        for (k, v) in [
            ("RAPPORT_LOG_FORMAT", "xml"),
            ("RAPPORT_DB_MAX_CONNECTIONS", "many"),
            ("RAPPORT_CORS_ORIGINS", "*,https://a"),
            ("RAPPORT_BATCH_CONCURRENCY", "0"),
        ] {
            let mut e = env(&[(k, v)]);
            e.insert("RAPPORT_CONFIG".into(), dir.join("c.toml").display().to_string());
            assert!(Settings::from_env(&e).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn batch_concurrency_follows_the_pool_unless_set() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("c.toml"), "").unwrap();
        for (pairs, expected) in [
            (vec![], 4),
            (vec![("RAPPORT_DB_MAX_CONNECTIONS", "40")], 10),
            (vec![("RAPPORT_DB_MAX_CONNECTIONS", "2")], 1),
            (vec![("RAPPORT_BATCH_CONCURRENCY", "7")], 7),
        ] {
            let mut e = env(&pairs);
            e.insert("RAPPORT_CONFIG".into(), dir.join("c.toml").display().to_string());
            assert_eq!(
                Settings::from_env(&e).unwrap().0.batch_concurrency,
                expected,
                "{pairs:?}"
            );
        }
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("rapport-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
