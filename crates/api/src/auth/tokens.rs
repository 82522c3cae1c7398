//! Access tokens: issued here (HS256, `kid` = `rapport`) for API clients, or issued by a
//! configured identity provider. Both are JWTs with the claims `sub`, `ws` and `scope`;
//! `exp`, `nbf`, `iss`, `aud` and the algorithm allow-list are enforced.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::scope::ScopeSet;
use rapport_domain::{ApiClientId, WorkspaceId};
use rapport_store::Db;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::Caller;
use crate::config::Settings;
use crate::error::ApiError;

/// The key id of tokens this server issues.
const LOCAL_KID: &str = "rapport";
/// How long a client's active/revoked status is trusted before it is read again. A
/// revocation in this process takes effect at once; other replicas see it within this.
const STATUS_TTL: Duration = Duration::from_secs(15);

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    ws: String,
    #[serde(default)]
    scope: String,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_deserializing, default)]
    exp: i64,
    #[serde(skip_deserializing, default)]
    iat: i64,
    #[serde(skip_deserializing, default)]
    nbf: i64,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

fn validation(algorithms: Vec<Algorithm>, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(algorithms.first().copied().unwrap_or(Algorithm::HS256));
    v.algorithms = algorithms;
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.validate_nbf = true;
    v.leeway = 30;
    v
}

/// Token issuing and verification.
pub struct Tokens {
    encoding: EncodingKey,
    local: Verifier,
    external: Option<Verifier>,
    issuer: String,
    audience: String,
    ttl: u64,
    client_status: Mutex<HashMap<ApiClientId, (bool, Instant)>>,
    known_workspaces: RwLock<HashSet<WorkspaceId>>,
}

/// An issued token.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: ScopeSet,
}

/// Which kind of key an algorithm needs.
fn family(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => "hmac",
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => "rsa",
        Algorithm::ES256 | Algorithm::ES384 => "ec",
        Algorithm::EdDSA => "ed",
    }
}

fn parse_alg(name: &str) -> Result<Algorithm, String> {
    name.parse::<Algorithm>()
        .map_err(|_| format!("unknown JWT algorithm '{name}'"))
}

impl Tokens {
    /// Builds the keys. `local_secret` signs this server's tokens.
    /// # Errors
    /// An unreadable or invalid identity-provider key, or an algorithm that does not fit it.
    pub fn new(settings: &Settings, local_secret: &[u8]) -> Result<Self, String> {
        let external = match &settings.external_idp {
            None => None,
            Some(idp) => {
                let (key, default_algs) = if let Some(secret) = &idp.hs256_secret {
                    (
                        DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                        vec![Algorithm::HS256],
                    )
                } else if let Some(path) = &idp.public_key_file {
                    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    if let Ok(k) = DecodingKey::from_rsa_pem(&pem) {
                        (k, vec![Algorithm::RS256])
                    } else if let Ok(k) = DecodingKey::from_ed_pem(&pem) {
                        (k, vec![Algorithm::EdDSA])
                    } else {
                        return Err(format!(
                            "{}: not an RSA or Ed25519 public key in PEM form",
                            path.display()
                        ));
                    }
                } else {
                    return Err("an external identity provider needs a key".into());
                };
                let algs = if idp.algorithms.is_empty() {
                    default_algs.clone()
                } else {
                    idp.algorithms
                        .iter()
                        .map(|a| parse_alg(a))
                        .collect::<Result<Vec<_>, _>>()?
                };
                for a in &algs {
                    if family(*a) != family(default_algs[0]) {
                        return Err(format!("algorithm {a:?} does not fit the configured key"));
                    }
                }
                Some(Verifier {
                    key,
                    validation: validation(algs, &idp.issuer, &idp.audience),
                })
            }
        };
        Ok(Self {
            encoding: EncodingKey::from_secret(local_secret),
            local: Verifier {
                key: DecodingKey::from_secret(local_secret),
                validation: validation(vec![Algorithm::HS256], &settings.token_issuer, &settings.token_audience),
            },
            external,
            issuer: settings.token_issuer.clone(),
            audience: settings.token_audience.clone(),
            ttl: settings.token_ttl_seconds,
            client_status: Mutex::new(HashMap::new()),
            known_workspaces: RwLock::new(HashSet::new()),
        })
    }

    /// Issues a token for an API client.
    /// # Errors
    /// Only if signing fails.
    pub fn issue(&self, client: ApiClientId, ws: WorkspaceId, scope: ScopeSet) -> Result<Issued, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl).unwrap_or(3600);
        let claims = Claims {
            sub: client.to_string(),
            ws: ws.to_string(),
            scope: scope.to_string(),
            iss: Some(self.issuer.clone()),
            aud: Some(self.audience.clone()),
            exp: now + ttl,
            iat: now,
            nbf: now,
            jti: Some(uuid::Uuid::now_v7().simple().to_string()),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(LOCAL_KID.into());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("token signing: {e}")))?;
        Ok(Issued {
            access_token,
            expires_in: self.ttl,
            scope,
        })
    }

    /// Verifies a bearer token and returns who is calling.
    /// # Errors
    /// 401 `invalid_token` (forged, malformed, wrong issuer/audience/algorithm,
    /// revoked client) or `token_expired`.
    pub async fn verify(&self, db: &Db, token: &str) -> Result<Caller, ApiError> {
        let invalid =
            |why: &str| ApiError::unauthorized("invalid_token", format!("the access token is not valid: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        let local = header.kid.as_deref() == Some(LOCAL_KID);
        let verifier = if local {
            &self.local
        } else {
            self.external
                .as_ref()
                .ok_or_else(|| invalid("not issued by this server"))?
        };
        let data = jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the access token has expired; request a new one")
                }
                ErrorKind::ImmatureSignature => invalid("not valid yet (nbf)"),
                ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                ErrorKind::InvalidAudience => invalid("wrong audience"),
                ErrorKind::InvalidAlgorithm => invalid("algorithm not allowed"),
                ErrorKind::InvalidSignature => invalid("bad signature"),
                ErrorKind::MissingRequiredClaim(c) => invalid(&format!("missing claim {c}")),
                _ => invalid("malformed"),
            }
        })?;
        let claims = data.claims;
        let workspace: WorkspaceId = claims
            .ws
            .parse()
            .map_err(|_| invalid("the ws claim is not a workspace id"))?;
        let scopes = ScopeSet::parse_lenient(&claims.scope);
        if local {
            let client: ApiClientId = claims.sub.parse().map_err(|_| invalid("unknown client"))?;
            if !self.client_active(db, client).await? {
                return Err(invalid("the API client was revoked"));
            }
            Ok(Caller::new(
                workspace,
                scopes,
                Actor {
                    kind: ActorKind::ApiClient,
                    id: Some(claims.sub),
                },
            ))
        } else {
            if claims.sub.is_empty() || claims.sub.len() > 255 {
                return Err(invalid("the sub claim is empty or too long"));
            }
            if !self.workspace_exists(db, workspace).await? {
                return Err(invalid("the ws claim names no workspace"));
            }
            Ok(Caller::new(
                workspace,
                scopes,
                Actor {
                    kind: ActorKind::User,
                    id: Some(claims.sub),
                },
            ))
        }
    }

    async fn client_active(&self, db: &Db, id: ApiClientId) -> Result<bool, ApiError> {
        if let Ok(cache) = self.client_status.lock()
            && let Some((active, at)) = cache.get(&id)
            && at.elapsed() < STATUS_TTL
        {
            return Ok(*active);
        }
        let active = rapport_store::api_clients::find_for_authentication(db.read(), id)
            .await?
            .is_some_and(|(c, _)| c.revoked_at.is_none());
        self.remember(id, active);
        Ok(active)
    }

    /// Whether a workspace exists. Workspaces are never removed, so a positive answer is
    /// remembered.
    async fn workspace_exists(&self, db: &Db, ws: WorkspaceId) -> Result<bool, ApiError> {
        if self.known_workspaces.read().is_ok_and(|k| k.contains(&ws)) {
            return Ok(true);
        }
        match rapport_store::workspaces::get(db.read(), ws).await {
            Ok(_) => {
                if let Ok(mut k) = self.known_workspaces.write()
                    && k.len() < 100_000
                {
                    k.insert(ws);
                }
                Ok(true)
            }
            Err(rapport_store::StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a client's status (called on revocation so it applies at once here).
    pub fn remember(&self, id: ApiClientId, active: bool) {
        if let Ok(mut cache) = self.client_status.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(id, (active, Instant::now()));
        }
    }
}

/// A new random signing key, base64 (stored as an instance secret on first start).
/// # Errors
/// When the OS has no randomness.
pub fn new_signing_key() -> Result<String, getrandom::Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(super::secret::random_bytes::<32>()?))
}
