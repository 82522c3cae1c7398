//! A JSON body extractor with the errors an integrator needs: a missing or wrong
//! `Content-Type` is a 415, a body over the limit a 413 (checked against
//! `Content-Length` before reading), malformed JSON a 400 `malformed_json`, and a
//! well-formed body of the wrong shape (wrong type, unknown field, missing field) a 422
//! `validation_failed` with a JSON pointer to the offending value.

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The body size limit for a route, set with `.app_data(BodyLimit(n))`.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match ct.as_deref() {
        Some("application/json" | "application/merge-patch+json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        Some(t) => Err(ApiError::UnsupportedMediaType(format!(
            "expected Content-Type application/json, got {t}"
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "expected Content-Type application/json".into(),
        )),
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body<S>(req: &HttpRequest, payload: &mut S, limit: usize) -> Result<web::Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("invalid_request", format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Converts a path into a JSON pointer.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    use std::fmt::Write;
    let mut p = String::new();
    for seg in path {
        let _ = match seg {
            Segment::Seq { index } => write!(p, "/{index}"),
            Segment::Map { key } => write!(p, "/{}", rapport_domain::error::pointer_token(key)),
            Segment::Enum { .. } | Segment::Unknown => Ok(()),
        };
    }
    p
}

/// Removes serde's line/column suffix, which means nothing to an API caller.
fn clean(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Turns a deserialisation error into a 400 (not JSON) or a 422 pointing at the value.
fn shape_error(err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {}", clean(&inner.to_string())),
        );
    }
    let message = clean(&inner.to_string());
    let mut ptr = pointer(err.path());
    let named = |ptr: &mut String| {
        if let Some(name) = message.split('`').nth(1) {
            ptr.push('/');
            ptr.push_str(&rapport_domain::error::pointer_token(name));
        }
    };
    let code = if message.starts_with("unknown field") {
        // The path already ends at the unknown field.
        "unknown_field"
    } else if message.starts_with("missing field") {
        named(&mut ptr);
        "required"
    } else if message.starts_with("unknown variant") {
        "invalid_value"
    } else {
        "wrong_type"
    };
    ApiError::invalid(ptr, code, message)
}

/// Parses JSON bytes into `T` with precise errors.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the request body is empty; a JSON document was expected",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize::<_, T>(&mut *de).map_err(|e| {
        // A shape error found before a syntax error further on: the body is still not
        // JSON, and that is what the caller must hear first.
        match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(syntax) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", clean(&syntax.to_string())),
            ),
            Ok(_) => shape_error(&e),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {}", clean(&e.to_string())),
        )
    })?;
    Ok(v)
}

/// Converts an already parsed JSON value into `T` (one item of a batch), with the same
/// errors as [`parse`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| shape_error(&e))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            is_json(&req)?;
            let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |l| l.0);
            let bytes = read_body(&req, &mut payload, limit).await?;
            parse(&bytes).map(Json)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Batch {
        items: Vec<Item>,
    }

    fn problem(body: &str) -> (String, Vec<(String, &'static str)>) {
        let e = parse::<Batch>(body.as_bytes()).unwrap_err();
        let p = e.problem();
        (
            p.code.to_owned(),
            p.errors.iter().map(|f| (f.pointer.clone(), f.code)).collect(),
        )
    }

    #[test]
    fn malformed_json_is_a_400() {
        assert_eq!(problem("{").0, "malformed_json");
        assert_eq!(problem("").0, "malformed_json");
        assert_eq!(problem(r#"{"items": []} trailing"#).0, "malformed_json");
    }

    #[test]
    fn broken_json_is_a_400_even_after_a_wrongly_typed_value() {
        assert_eq!(problem(r#"{"items": [{"name": 5}], "x"#).0, "malformed_json");
    }

    #[test]
    fn a_wrong_type_points_at_the_value() {
        let (code, errs) = problem(r#"{"items": [{"name": "a"}, {"name": 5}]}"#);
        assert_eq!(code, "validation_failed");
        assert_eq!(errs, vec![("/items/1/name".to_owned(), "wrong_type")]);
    }

    #[test]
    fn an_unknown_field_points_at_the_field() {
        let (_, errs) = problem(r#"{"items": [{"name": "a", "colour": "red"}]}"#);
        assert_eq!(errs, vec![("/items/0/colour".to_owned(), "unknown_field")]);
    }

    #[test]
    fn a_missing_field_points_where_it_belongs() {
        let (_, errs) = problem(r#"{"items": [{"tags": []}]}"#);
        assert_eq!(errs, vec![("/items/0/name".to_owned(), "required")]);
    }
}
