//! Responders, one folder per kind. Each takes the request and its typed options and returns
//! a response or a [`Problem`](crate::problem::Problem).

pub mod balance;
pub mod cgi;
pub mod fastcgi;
pub mod policy;
pub mod proxy;
pub mod spool;
pub mod static_files;
pub mod stderr_log;
pub mod upstream;
