//! usher: a web server that serves files, explains every error, and hands requests to programs.
//!
//! # Layout
//! Dependencies point down only:
//! - [`cli`]: clap definitions; every flag is an `Option` so "unset" differs from a default.
//! - [`config`]: the validated, typed configuration shared as `Arc<Config>`.
//! - [`server`]: listeners, connection setup (usher's HTTP/1.x, hyper's h2c), graceful shutdown,
//!   and the per-request service that dispatches to handlers.
//! - [`handlers`]: one folder per kind of responder; each takes a request and its typed
//!   options and returns a response or a [`Problem`](problem::Problem).
//! - [`router`]: Host -> site, path and method -> route; pure, powers `usher explain`.
//! - [`http`]: pure protocol helpers (request target, conditionals, ranges, negotiation).
//! - [`problem`]: the one error type a handler returns, with its negotiated body.
//! - [`body`]: the response body type every handler produces.
//! - [`tools`]: `usher check` and `usher explain`, the config file run dry.
//! - [`page_cache`]: whether a file range is in memory (`cachestat` and `mincore`, which no
//!   safe crate offers).
//!
//! `unsafe` is denied but in four modules of the library, each saying why at its top:
//! [`page_cache`], `server::in_place`, `server::socket` and `http::field_value` (and the
//! binary's allocator).
#![deny(unsafe_code)]

pub mod body;
pub mod cli;
pub mod config;
pub mod handlers;
pub mod http;
pub mod page_cache;
pub mod problem;
pub mod router;
pub mod server;
pub mod tools;
