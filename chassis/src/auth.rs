//! Bearer-token authentication with per-route scopes.
//!
//! Tokens are kept only as SHA-256 digests and compared in constant time against every
//! caller, so neither a token's content nor its length leaks through timing.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::callers::{self, CallersError, Scope};
use crate::error::ApiError;

/// Who made a request; put in the request's extensions by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerName(pub String);

/// Every scope the request's caller holds (not only the route's); put in the request's
/// extensions by the auth layer, for handlers whose behaviour depends on a further scope.
#[derive(Debug, Clone)]
pub struct Grants(Option<Arc<HashSet<String>>>);

impl Grants {
    /// Whether the caller holds `scope` (an anonymous node grants every scope).
    pub fn holds(&self, scope: Scope) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(scope.as_str()))
    }
}

#[derive(Debug)]
struct Known {
    name: String,
    digest: [u8; 32],
    scopes: Arc<HashSet<String>>,
}

#[derive(Debug)]
enum Mode {
    Callers(Vec<Known>),
    Anonymous,
}

/// The node's view of who may call it.
#[derive(Debug, Clone)]
pub struct Auth(Arc<Mode>);

/// Why auth could not be configured.
#[derive(Debug, Error)]
pub enum AuthConfigError {
    /// Neither a callers file nor anonymous mode was chosen.
    #[error(
        "no callers file given: pass --callers FILE (or its environment variable), \
         or --allow-anonymous for local experiments only"
    )]
    NoCallers,
    /// Both were chosen; the intent is unclear.
    #[error("--callers and --allow-anonymous exclude each other")]
    Both,
    /// The callers file is unusable.
    #[error(transparent)]
    Callers(#[from] CallersError),
}

impl Auth {
    /// Builds auth from the node's flags for a node checking the scopes it `declared`;
    /// refuses to guess when neither flag is given.
    pub fn from_flags(
        callers: Option<&Path>,
        allow_anonymous: bool,
        declared: &[Scope],
    ) -> Result<Self, AuthConfigError> {
        match (callers, allow_anonymous) {
            (Some(_), true) => Err(AuthConfigError::Both),
            (None, false) => Err(AuthConfigError::NoCallers),
            (None, true) => {
                tracing::warn!(
                    "anonymous access allowed: every request gets every scope; \
                     use this for local experiments only"
                );
                Ok(Self::anonymous())
            }
            (Some(path), false) => {
                let entries = callers::load(path)?;
                callers::check_declared(&entries, declared).map_err(|message| {
                    CallersError::Invalid {
                        path: path.to_owned(),
                        message,
                    }
                })?;
                tracing::info!(callers = entries.len(), file = %path.display(), "callers loaded");
                Ok(Self::from_entries(entries))
            }
        }
    }

    /// Auth that lets every request through with every scope.
    pub fn anonymous() -> Self {
        Self(Arc::new(Mode::Anonymous))
    }

    /// Auth for the given callers.
    pub fn from_entries(entries: Vec<callers::CallerEntry>) -> Self {
        let known = entries
            .into_iter()
            .map(|e| Known {
                digest: digest(e.token.as_bytes()),
                name: e.name,
                scopes: Arc::new(e.scopes.into_iter().collect()),
            })
            .collect();
        Self(Arc::new(Mode::Callers(known)))
    }

    /// Checks an `Authorization` header value against `scope`.
    pub fn check(&self, header: Option<&str>, scope: Scope) -> Result<CallerName, ApiError> {
        self.check_grants(header, scope).map(|(name, _)| name)
    }

    /// [`Self::check`], also returning every scope the caller holds.
    pub fn check_grants(
        &self,
        header: Option<&str>,
        scope: Scope,
    ) -> Result<(CallerName, Grants), ApiError> {
        let known = match &*self.0 {
            Mode::Anonymous => return Ok((CallerName("anonymous".into()), Grants(None))),
            Mode::Callers(known) => known,
        };
        let token = header
            .and_then(bearer_token)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        let presented = digest(token.as_bytes());
        // Visit every caller so the time taken does not tell which one matched.
        let mut found: Option<&Known> = None;
        for caller in known {
            if bool::from(caller.digest.ct_eq(&presented)) {
                found = Some(caller);
            }
        }
        let caller = found.ok_or_else(|| ApiError::unauthorized("unknown bearer token"))?;
        if caller.scopes.contains(scope.as_str()) {
            Ok((
                CallerName(caller.name.clone()),
                Grants(Some(caller.scopes.clone())),
            ))
        } else {
            Err(ApiError::forbidden(format!(
                "caller {:?} lacks the scope {scope}",
                caller.name
            )))
        }
    }

    /// Wraps `route` so that it answers only callers holding `scope`.
    pub fn guard<S>(&self, scope: Scope, route: MethodRouter<S>) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        route.route_layer(middleware::from_fn_with_state(
            (self.clone(), scope),
            require_scope,
        ))
    }
}

async fn require_scope(
    State((auth, scope)): State<(Auth, Scope)>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth.check_grants(header, scope) {
        Ok((caller, grants)) => {
            request.extensions_mut().insert(caller);
            request.extensions_mut().insert(grants);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token of an `Authorization: Bearer TOKEN` header. The scheme is matched without
/// regard to case (RFC 9110, 11.1): `bearer` and `BEARER` are the same scheme.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callers::CallerEntry;

    const READ: Scope = Scope::new("catalog:read");
    const WRITE: Scope = Scope::new("catalog:write");
    const RESERVE: Scope = Scope::new("catalog:reserve");
    const ON_BEHALF: Scope = Scope::new("orders:on-behalf");

    fn auth() -> Auth {
        Auth::from_entries(vec![
            CallerEntry {
                name: "order-node".into(),
                token: "order-token-0123456789".into(),
                scopes: vec!["catalog:read".into(), "catalog:reserve".into()],
            },
            CallerEntry {
                name: "admin".into(),
                token: "admin-token-0123456789".into(),
                scopes: vec!["catalog:write".into()],
            },
        ])
    }

    #[test]
    fn grants_only_held_scopes() {
        let a = auth();
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let header = format!("{scheme} order-token-0123456789");
            assert!(a.check(Some(&header), READ).is_ok(), "{scheme}");
        }
        let ok = a.check(Some("Bearer order-token-0123456789"), READ);
        assert_eq!(ok.unwrap(), CallerName("order-node".into()));
        let denied = a.check(Some("Bearer order-token-0123456789"), WRITE);
        assert_eq!(denied.unwrap_err().status().as_u16(), 403);
    }

    #[test]
    fn grants_list_every_held_scope() {
        let (_, grants) = auth()
            .check_grants(Some("Bearer order-token-0123456789"), READ)
            .unwrap();
        assert!(grants.holds(RESERVE));
        assert!(!grants.holds(ON_BEHALF));
        let (_, all) = Auth::anonymous().check_grants(None, READ).unwrap();
        assert!(all.holds(ON_BEHALF));
    }

    #[test]
    fn rejects_missing_or_unknown_tokens() {
        let a = auth();
        for header in [
            None,
            Some("order-token-0123456789"),
            Some("Bearer "),
            Some("Bearer nope"),
        ] {
            let err = a.check(header, READ).unwrap_err();
            assert_eq!(err.status().as_u16(), 401, "{header:?}");
        }
    }

    #[test]
    fn flags_must_be_explicit() {
        assert!(matches!(
            Auth::from_flags(None, false, &[READ]),
            Err(AuthConfigError::NoCallers)
        ));
        assert!(matches!(
            Auth::from_flags(Some(Path::new("x")), true, &[READ]),
            Err(AuthConfigError::Both)
        ));
        assert!(Auth::from_flags(None, true, &[READ]).is_ok());
    }
}
