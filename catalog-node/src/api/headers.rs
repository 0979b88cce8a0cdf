//! Headers the catalog reads and writes: `If-Match`, `ETag`, `X-Catalog-Seq`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chassis::ApiError;
use contracts::Code;

use crate::service::Precondition;

/// Header carrying the feed seq of a write, for read-your-writes elsewhere.
pub const CATALOG_SEQ: HeaderName = HeaderName::from_static("x-catalog-seq");

/// Parses `If-Match`: `*`, `"7"` or `7` (weak tags are refused: versions are exact).
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(Precondition::None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::new(Code::InvalidIfMatch, "If-Match is not ASCII"))?
        .trim();
    if text == "*" {
        return Ok(Precondition::Exists);
    }
    text.trim_matches('"')
        .parse::<u64>()
        .map(Precondition::Version)
        .map_err(|_| {
            ApiError::new(
                Code::InvalidIfMatch,
                "If-Match must be * or the product's version, e.g. \"3\"",
            )
        })
}

/// Adds `X-Catalog-Seq` (and an `ETag` when a version is given) to a response.
pub fn stamped(seq: u64, version: Option<u64>, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(CATALOG_SEQ, HeaderValue::from(seq));
    if let Some(tag) = version.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok()) {
        headers.insert(header::ETAG, tag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(precondition(&HeaderMap::new()).unwrap(), Precondition::None);
        assert_eq!(precondition(&with("*")).unwrap(), Precondition::Exists);
        assert_eq!(
            precondition(&with("\"3\"")).unwrap(),
            Precondition::Version(3)
        );
        assert_eq!(precondition(&with("3")).unwrap(), Precondition::Version(3));
        assert!(precondition(&with("W/\"3\"")).is_err());
        assert!(precondition(&with("abc")).is_err());
    }
}
