//! Router tests: host selection, route selection and specificity, redirects, explanations.

mod host;
mod path;
mod redirect;
mod select;

use std::path::PathBuf;

use http::Method;

use super::path::PathPattern;
use super::redirect::Redirect;
use super::{Responder, Route, Site};
use crate::handlers::static_files::StaticOptions;
use crate::http::target::{NormalPath, normalise};

/// A normalised request path.
fn p(path: &str) -> NormalPath {
    normalise(path).unwrap()
}

/// A files route on `pattern`, labelled with the pattern, taking `methods` if given.
fn route(pattern: &str, methods: Option<&[Method]>) -> Route {
    Route {
        label: pattern.to_owned(),
        pattern: PathPattern::parse(pattern).unwrap(),
        methods: methods.map(<[Method]>::to_vec),
        policy: Default::default(),
        responder: Responder::Files(StaticOptions::new(PathBuf::from("/srv"))),
    }
}

/// A redirect route.
fn redirect_route(pattern: &str, to: &str) -> Route {
    Route {
        responder: Responder::Redirect(Redirect::new(to, 308).unwrap()),
        ..route(pattern, None)
    }
}

/// A site with `hosts` (parsed) and `routes`.
fn site(label: &str, hosts: &[&str], routes: Vec<Route>) -> Site {
    Site {
        label: label.to_owned(),
        hosts: hosts
            .iter()
            .map(|h| super::host::HostPattern::parse(h).unwrap())
            .collect(),
        routes,
    }
}
