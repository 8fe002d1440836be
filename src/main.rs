//! The `usher` binary: parse the command line, build the config, run the server.

fn main() {}
