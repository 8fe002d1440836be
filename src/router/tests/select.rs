//! Route selection through the whole router: specificity, ties, methods, conflicts, explain.

use http::Method;

use super::{p, redirect_route, route, site};
use crate::router::explain::Verdict;
use crate::router::host::{HostConflict, SiteChoice};
use crate::router::{Decision, RouteConflict, Router, RouterError};

/// The label of the route chosen for `method path` on the default site, or what else happened.
fn chosen(router: &Router, method: &Method, path: &str) -> String {
    match router.decide(None, method, &p(path)) {
        Decision::Route(m) => format!("{} +{}", m.route.label, m.consumed),
        Decision::MethodNotAllowed { allowed, .. } => {
            let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            format!("405 {}", names.join(","))
        }
        Decision::NoRoute { .. } => "404".to_owned(),
        Decision::Misdirected => "421".to_owned(),
    }
}

fn one_site(routes: Vec<crate::router::Route>) -> Router {
    Router::new(vec![site("default", &[], routes)]).unwrap()
}

#[test]
fn most_specific_route_wins() {
    let get = Method::GET;
    let router = one_site(vec![
        route("/", None),
        route("*.php", None),
        route("/uploads/", None),
        route("/assets/", None),
        route("/assets/*.js", None),
        route("/assets/*.min.js", None),
        route("= /assets/app.js", None),
        route("/assets/img/", None),
        route("/old/", None),
        route("/old/keep/", None),
    ]);
    let cases = [
        ("/", "/ +0"),
        ("/about.html", "/ +0"),
        // A glob outranks a prefix with as many literal segments ...
        ("/index.php", "*.php +0"),
        ("/blog/post.php", "*.php +0"),
        // ... but not a longer literal start: uploads are never handed to the .php rule.
        ("/uploads/evil.php", "/uploads/ +1"),
        ("/assets/style.css", "/assets/ +1"),
        ("/assets/vendor.js", "/assets/*.js +0"),
        ("/assets/vendor.min.js", "/assets/*.min.js +0"),
        ("/assets/app.js", "= /assets/app.js +0"),
        ("/assets/img/logo.js", "/assets/img/ +2"),
        ("/assets/sub/x.js", "/assets/ +1"),
        ("/old/a/b", "/old/ +1"),
        ("/old/keep/x", "/old/keep/ +2"),
        ("/older", "/ +0"),
        // Normalisation happens before matching.
        ("/uploads/../index.php", "*.php +0"),
        ("/%75ploads/x.php", "/uploads/ +1"),
    ];
    for (path, want) in cases {
        assert_eq!(chosen(&router, &get, path), want, "{path}");
    }
}

#[test]
fn equal_specificity_goes_to_the_route_written_first() {
    // `/x/*.js` outranks `*.js` (a literal segment), so it is reachable though `*.js` matches
    // every path it does.
    let router = one_site(vec![route("*.js", None), route("/x/*.js", None)]);
    assert_eq!(chosen(&router, &Method::GET, "/x/a.js"), "/x/*.js +0");
    let router = one_site(vec![route("a*", None), route("*b", None), route("/", None)]);
    assert_eq!(chosen(&router, &Method::GET, "/ab"), "a* +0");
    let router = one_site(vec![route("*b", None), route("a*", None)]);
    assert_eq!(chosen(&router, &Method::GET, "/ab"), "*b +0");
    assert_eq!(chosen(&router, &Method::GET, "/zz"), "404");
}

#[test]
fn methods_split_a_path_and_405_lists_them() {
    let router = one_site(vec![
        route("/api/", Some(&[Method::GET])),
        route("/api/", Some(&[Method::POST, Method::PUT])),
        route("/", None),
        route("= /form", Some(&[Method::POST])),
    ]);
    assert_eq!(chosen(&router, &Method::GET, "/api/x"), "/api/ +1");
    assert_eq!(chosen(&router, &Method::HEAD, "/api/x"), "/api/ +1");
    assert_eq!(chosen(&router, &Method::PUT, "/api/x"), "/api/ +1");
    // The most specific pattern decides: no fall-through to `/` for another method.
    assert_eq!(
        chosen(&router, &Method::DELETE, "/api/x"),
        "405 GET,HEAD,POST,PUT"
    );
    assert_eq!(chosen(&router, &Method::GET, "/form"), "405 POST");
    assert_eq!(chosen(&router, &Method::DELETE, "/other"), "/ +0");
    let Decision::Route(m) = router.decide(None, &Method::PUT, &p("/api/x")) else {
        panic!("expected a route");
    };
    assert_eq!(
        m.route.methods.as_deref(),
        Some(&[Method::POST, Method::PUT][..])
    );
}

#[test]
fn hosts_pick_the_site_and_unknown_hosts_get_421() {
    let router = Router::new(vec![
        site("a", &["a.test"], vec![route("/", None)]),
        site("b", &["*.b.test"], vec![route("/", None)]),
    ])
    .unwrap();
    let label = |host| match router.decide(Some(host), &Method::GET, &p("/")) {
        Decision::Route(m) => m.site.label.clone(),
        Decision::Misdirected => "421".to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(label("A.test:80"), "a");
    assert_eq!(label("x.b.test"), "b");
    assert_eq!(label("c.test"), "421");
    assert_eq!(router.sites().count(), 2);
    assert!(router.reads_host());
    let empty = Router::new(vec![site("empty", &[], vec![])]).unwrap();
    assert!(matches!(
        empty.decide(Some("x"), &Method::GET, &p("/")),
        Decision::NoRoute { .. }
    ));
}

#[test]
fn unreachable_routes_and_hosts_are_all_reported() {
    let errors = Router::new(vec![
        site(
            "s0",
            &["a.test"],
            vec![
                route("/old/", None),
                route("/old", None),
                // Equal rank (0 literal segments, 1 literal character); `*a*` covers `*a`.
                route("*a*", None),
                route("*a", None),
                route("/api/", Some(&[Method::GET])),
                route("/api/", Some(&[Method::HEAD])),
                route("/docs/", Some(&[Method::GET])),
                route("/docs/**", None),
            ],
        ),
        site("s1", &["a.test"], vec![]),
    ])
    .unwrap_err();
    assert_eq!(
        errors,
        vec![
            RouterError::Host(HostConflict::Duplicate {
                site: 1,
                host: 0,
                other_site: 0,
                other_host: 0
            }),
            RouterError::Route {
                site: 0,
                conflict: RouteConflict::SamePattern {
                    route: 1,
                    other: 0,
                    method: None
                }
            },
            RouterError::Route {
                site: 0,
                conflict: RouteConflict::Shadowed { route: 3, by: 2 }
            },
            RouterError::Route {
                site: 0,
                conflict: RouteConflict::SamePattern {
                    route: 5,
                    other: 4,
                    method: Some(Method::HEAD)
                }
            },
            RouterError::Route {
                site: 0,
                conflict: RouteConflict::SamePattern {
                    route: 7,
                    other: 6,
                    method: Some(Method::GET)
                }
            },
        ]
    );
}

#[test]
fn explain_records_every_step() {
    let router = Router::new(vec![site(
        "usher.toml:1",
        &["*.example.test"],
        vec![
            route("/", None),
            redirect_route("/old/", "/new{path}"),
            route("*.txt", Some(&[Method::POST])),
        ],
    )])
    .unwrap();
    let (decision, why) = router.explain(Some("WWW.example.test:8080"), &Method::GET, &p("/old/a"));
    assert!(matches!(decision, Decision::Route(m) if m.route.label == "/old/"));
    assert_eq!(why.choice, SiteChoice::Wildcard(0));
    let verdicts: Vec<(&str, Verdict)> = why
        .routes
        .iter()
        .map(|r| (r.label.as_str(), r.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [("/old/", Verdict::Chosen), ("/", Verdict::Outranked)]
    );
    assert_eq!(
        why.to_string(),
        "host \"WWW.example.test:8080\": site usher.toml:1, by wildcard *.example.test\n\
         route /old/ (/old/): prefix of 1 segment: chosen\n\
         route / (/): prefix of 0 segments: matches too, less specific or written later\n"
    );
    let (_, why) = router.explain(None, &Method::GET, &p("/old/a.txt"));
    assert_eq!(
        why.to_string(),
        "no host: no site names it and there is no default site: 421 Misdirected Request\n"
    );
    let (decision, why) = router.explain(Some("a.example.test"), &Method::GET, &p("/a.txt"));
    assert!(matches!(decision, Decision::MethodNotAllowed { .. }));
    assert_eq!(
        why.to_string(),
        "host \"a.example.test\": site usher.toml:1, by wildcard *.example.test\n\
         route /**/*.txt (*.txt): glob with 0 segments literal, 4 characters literal: does not take GET\n\
         route / (/): prefix of 0 segments: matches too, less specific or written later\n\
         GET is not allowed here: 405\n"
    );
    // `decide` and `explain` are one implementation: they agree.
    for path in ["/", "/old/", "/x.txt", "/old/x.txt"] {
        let a = format!(
            "{:?}",
            router.decide(Some("a.example.test"), &Method::GET, &p(path))
        );
        let b = format!(
            "{:?}",
            router
                .explain(Some("a.example.test"), &Method::GET, &p(path))
                .0
        );
        assert_eq!(a, b, "{path}");
    }
}

#[test]
fn explain_adds_the_chosen_routes_policy() {
    use crate::handlers::policy::headers::{HeaderOps, HeaderRule, SecurityPreset, SegmentGlob};
    let mut assets = route("/assets/", None);
    assets.policy.security = Some(SecurityPreset::Basic);
    assets.policy.rules.push(HeaderRule {
        glob: SegmentGlob::parse("*.js").unwrap(),
        ops: HeaderOps::default(),
    });
    let router = one_site(vec![route("/", None), assets]);
    let path = p("/assets/app.js");
    let (decision, mut why) = router.explain(None, &Method::GET, &path);
    let Decision::Route(m) = decision else {
        panic!("route expected");
    };
    let req = http::Request::get("/assets/app.js")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    why.add_policy(m.route, &req, &path);
    assert_eq!(
        why.to_string(),
        "no host: no site names it: the default site default\n\
         route /assets/ (/assets/): prefix of 1 segment: chosen\n\
         route / (/): prefix of 0 segments: matches too, less specific or written later\n\
         security headers: basic\n\
         header rule \"*.js\" matches \"app.js\"\n"
    );
}

#[test]
fn one_site_without_names_answers_whatever_the_host() {
    let router = Router::new(vec![site("only", &[], vec![route("/", None)])]).unwrap();
    // A caller may skip finding the host: the decision is the same without it.
    assert!(!router.reads_host());
    for host in [None, Some("a.test"), Some("[::1]:8080"), Some("not a host")] {
        let decision = router.decide(host, &Method::GET, &p("/x"));
        assert!(
            matches!(decision, Decision::Route(ref m) if m.site.label == "only"),
            "{host:?}"
        );
    }
}

/// `route_on` picks, on a site given by index and whatever the Host, the route a request
/// would get: the one a 404's suggestions must share.
#[test]
fn route_on_a_site_is_the_route_a_request_gets() {
    let router = Router::new(vec![
        site("named", &["a.test"], vec![route("/", None)]),
        site(
            "default",
            &[],
            vec![route("/", None), route("/private/", Some(&[Method::GET]))],
        ),
    ])
    .unwrap();
    let label = |site: usize, method: &Method, path: &str| {
        router.route_on(site, method, &p(path)).map(|r| {
            format!(
                "{} {}",
                r.label,
                std::ptr::eq(r, &router.sites().nth(site).unwrap().routes[0])
            )
        })
    };
    assert_eq!(
        label(1, &Method::GET, "/private/s.txt").as_deref(),
        Some("/private/ false")
    );
    assert_eq!(
        label(1, &Method::GET, "/privat/s.txt").as_deref(),
        Some("/ true")
    );
    assert_eq!(
        label(0, &Method::GET, "/private/s.txt").as_deref(),
        Some("/ true")
    );
    // A method the most specific route does not take: no route (the request gets 405).
    assert_eq!(label(1, &Method::PUT, "/private/s.txt"), None);
    assert_eq!(label(2, &Method::GET, "/"), None);
}
