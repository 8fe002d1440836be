//! Command-line definitions (clap). Every flag is an `Option` so "unset" differs from a default.
