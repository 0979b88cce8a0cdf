//! The bad-input corpus: seeded, generated requests that each carry at least one defect the
//! node must refuse before it writes anything, sent over keep-alive connections with a token
//! holding every scope of the node.
//!
//! The operations come from the node's `/openapi.json`. What the corpus must know about a
//! route beyond its path (its JSON body, query parameters and checked headers) is in
//! [`spec`]; an operation the document lists but [`spec`] does not know fails the test, so a
//! new route is noticed here too.
//!
//! [`cases`] draws each case's family of defect and builds the request around it, with the
//! defects of each part of a request in their own module: [`paths`] (ids in the path, path
//! shapes, methods), [`bodies`] (JSON bodies and content types), [`headers`] (checked
//! headers), [`query`] (query strings and search syntax) and [`transport`] (HTTP framing).
//! [`runner`] sends the corpus and judges the answers.
//!
//! `BAD_INPUT_CASES` sets the cases per node (10,000 by default), `BAD_INPUT_SEED` replays a
//! run whose seed was printed, `BAD_INPUT_CONNECTIONS` the concurrent connections per node
//! (4).

mod bodies;
mod cases;
mod headers;
mod paths;
mod query;
mod runner;
mod spec;
mod transport;

use crate::Which;
use runner::run_corpus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_refuses_bad_input_without_writing() {
    run_corpus(Which::Catalog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_refuse_bad_input_without_writing() {
    run_corpus(Which::Orders).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_refuses_bad_input_without_writing() {
    run_corpus(Which::Search).await;
}
