//! Integration tests: a real usher on 127.0.0.1:0, driven by real clients (reqwest, raw TCP,
//! curl) and, for the binary's own behaviour, the `usher` executable itself.

mod access_log;
mod cache;
mod cgi;
mod cgi_edges;
mod cli;
mod compress;
mod config;
mod dirs;
mod errors;
mod express;
mod fastcgi;
mod fastcgi_site;
mod files;
mod http1;
mod http1_hostile;
mod memory;
mod policy;
mod precompressed;
mod protocol;
mod proxy;
mod proxy_hostile;
mod proxy_peers;
mod sandbox;
mod scripted;
mod support;
mod upstream;
