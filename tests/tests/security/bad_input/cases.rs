//! The shared case generator: one seeded case per index, each a request with at least one
//! defect of a drawn family, written out as the bytes that go on the wire.

use system_tests::Rng;

use super::spec::{Checked, Spec, families};
use super::{bodies, headers, paths, query, transport};
use crate::{Operation, PRODUCTS, RESERVATION};

/// What an answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A 4xx with the JSON error body: the request has a defect the node checks.
    Refused,
    /// Anything but a 5xx (a harmless read may succeed); a 4xx has the JSON error body.
    NoServerError,
    /// Broken HTTP: a 4xx, or the connection closed; never a 5xx.
    Transport,
    /// An HTTP version that does not exist: like [`Expect::Transport`], but 505 (HTTP Version
    /// Not Supported, the server's protocol answer, not a failure) is right too.
    UnknownVersion,
}

/// One generated request.
#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) family: &'static str,
    pub(super) op: String,
    pub(super) bytes: Vec<u8>,
    pub(super) head: bool,
    pub(super) expect: Expect,
}

/// The parts of a request before it is written out.
pub(super) struct Draft {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) content_type: Option<String>,
    pub(super) body: Option<Vec<u8>>,
}

impl Draft {
    pub(super) fn bytes(&self, token: &str) -> Vec<u8> {
        if self.method == "RAW" {
            // The token goes right after the request line, so that requests the server does
            // parse get past the guard to the handler.
            let raw = self.body.as_deref().unwrap_or_default();
            let auth = format!("authorization: Bearer {token}\r\n");
            return match raw.windows(2).position(|w| w == b"\r\n") {
                Some(at) => [&raw[..at + 2], auth.as_bytes(), &raw[at + 2..]].concat(),
                None => raw.to_vec(),
            };
        }
        let target = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut out = format!(
            "{} {target} HTTP/1.1\r\nhost: fuzz\r\nauthorization: Bearer {token}\r\n",
            self.method
        )
        .into_bytes();
        if let Some(ct) = &self.content_type {
            out.extend_from_slice(format!("content-type: {ct}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body.as_deref().unwrap_or_default();
        if self.body.is_some() {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// Percent-encodes every byte but unreserved characters.
pub(super) fn encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Ids of things that exist, by the path segment before the parameter.
pub(super) struct Existing {
    pub(super) order: String,
}

impl Existing {
    pub(super) fn fill(&self, op: &Operation) -> String {
        op.path_with(|_, previous| existing_for(previous, self))
    }
}

/// Case `index` of the corpus for one node.
pub(super) fn case(
    seed: u64,
    node: u64,
    index: u64,
    ops: &[(Operation, Spec)],
    existing: &Existing,
    token: &str,
) -> Case {
    let mut rng = Rng::for_case(seed, node, index);
    // Each (operation, family) pair is drawn by its weight: the defects a route's own
    // validation must catch count more than the ones routing or the HTTP parser catch.
    let pairs: Vec<(usize, &'static str, usize)> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, (op, spec))| {
            families(op, spec).into_iter().map(move |f| {
                let weight = match f {
                    "path_shape" | "wrong_method" | "transport" => 1,
                    "query_syntax" => 8,
                    _ => 3,
                };
                (i, f, weight)
            })
        })
        .collect();
    let total: usize = pairs.iter().map(|(_, _, w)| w).sum();
    loop {
        let mut draw = rng.index(total);
        let mut chosen = pairs[0];
        for pair in &pairs {
            if draw < pair.2 {
                chosen = *pair;
                break;
            }
            draw -= pair.2;
        }
        let (op, spec) = &ops[chosen.0];
        let family = chosen.1;
        if let Some((draft, expect)) = draft(&mut rng, family, op, spec, existing) {
            return Case {
                family,
                op: op.label(),
                head: draft.method == "HEAD",
                bytes: draft.bytes(token),
                expect,
            };
        }
    }
}

/// A request of `family` against `op`; `None` when this draw does not apply (draw again).
pub(super) fn draft(
    rng: &mut Rng,
    family: &'static str,
    op: &Operation,
    spec: &Spec,
    existing: &Existing,
) -> Option<(Draft, Expect)> {
    let mut d = Draft {
        method: op.method.clone(),
        path: existing.fill(op),
        query: String::new(),
        headers: Vec::new(),
        content_type: None,
        body: None,
    };
    // The valid parts, around the defect: a request without its defect would succeed.
    if let Some((template, _)) = &spec.body {
        d.content_type = Some("application/json".into());
        d.body = serde_json::to_vec(template).ok();
    }
    if spec.headers.iter().any(|h| matches!(h, Checked::IfMatch)) {
        d.headers.push(("if-match".into(), b"*".to_vec()));
    }
    if spec.query_syntax {
        d.query = "q=kettle".into();
    }
    let expect = match family {
        "path_shape" => {
            paths::break_path(rng, &mut d);
            Expect::Refused
        }
        "wrong_method" => {
            if !paths::wrong_method(rng, op, &mut d) {
                return None;
            }
            Expect::Refused
        }
        "transport" => return Some(transport::broken_request(rng, op, &mut d)),
        "bad_path_id" => {
            paths::bad_path_id(rng, op, existing, &mut d);
            Expect::Refused
        }
        "content_type" => {
            bodies::bad_content_type(rng, &mut d);
            Expect::Refused
        }
        "bad_header" => {
            headers::bad_header(rng, op, spec, &mut d);
            Expect::Refused
        }
        "query_unknown" | "query_value" | "query_encoding" | "query_duplicate" => {
            query::broken_query(rng, family, spec, &mut d)
        }
        "query_edges" => {
            query::edges(rng, spec, &mut d);
            Expect::NoServerError
        }
        "query_syntax" => {
            query::search_syntax(rng, &mut d);
            Expect::NoServerError
        }
        body_family => {
            let (template, fields) = spec.body.as_ref()?;
            d.body = Some(bodies::bad_body(rng, body_family, template, fields)?);
            Expect::Refused
        }
    };
    Some((d, expect))
}

/// The id of a thing that exists, by the path segment before the parameter.
pub(super) fn existing_for(previous: &str, existing: &Existing) -> String {
    match previous {
        "products" => PRODUCTS[0].to_owned(),
        "reservations" => RESERVATION.to_owned(),
        "orders" => existing.order.clone(),
        _ => "x-1".to_owned(),
    }
}

impl Draft {
    /// A request given as raw bytes (the token is not added).
    pub(super) fn raw(bytes: Vec<u8>) -> Self {
        Self {
            method: "RAW".into(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            content_type: None,
            body: Some(bytes),
        }
    }
}
