//! Unit tests for `Problem`: constructors, negotiation, the three formats, escaping, HEAD.

use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    RETRY_AFTER, VARY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::Value;

use super::*;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                       image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

fn respond(problem: Problem, accept: Option<&str>) -> Response<ResponseBody> {
    let accept = accept.map(|a| HeaderValue::from_str(a).unwrap());
    problem.into_response(accept.as_ref(), false)
}

fn body(response: &Response<ResponseBody>) -> String {
    match response.body() {
        ResponseBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("expected a full body, got {other:?}"),
    }
}

fn header(response: &Response<ResponseBody>, name: http::HeaderName) -> &str {
    response.headers()[name].to_str().unwrap()
}

fn render_as(problem: Problem, accept: &str) -> String {
    body(&respond(problem, Some(accept)))
}

fn json(problem: Problem) -> Value {
    serde_json::from_str(&render_as(problem, JSON)).unwrap()
}

fn format_for(accept: Option<&str>) -> Format {
    negotiate(accept.map(str::as_bytes))
}

#[test]
fn negotiation_table() {
    for (accept, want) in [
        (Some(BROWSER), Format::Html),
        (Some("text/html"), Format::Html),
        (Some("text/*"), Format::Html),
        (Some("*/*"), Format::Text),
        (None, Format::Text),
        (Some(""), Format::Text),
        (Some("garbage;;;q=x"), Format::Text),
        (Some("application/json"), Format::ProblemJson),
        (Some("application/problem+json"), Format::ProblemJson),
        (Some("application/*"), Format::ProblemJson),
        // axios and HTTPie defaults.
        (
            Some("application/json, text/plain, */*"),
            Format::ProblemJson,
        ),
        (Some("application/json, */*;q=0.5"), Format::ProblemJson),
        (Some(TEXT), Format::Text),
        // Nothing acceptable: text anyway, never a 406.
        (Some("text/plain;q=0"), Format::Text),
        (Some("image/png"), Format::Text),
        (Some("application/xml"), Format::Text),
        // Browsers fetching an image or script that is missing.
        (Some("image/avif,image/webp,*/*;q=0.8"), Format::Text),
        // Text refused but anything else welcome: the first other format.
        (Some("*/*, text/plain;q=0"), Format::Html),
        (Some("text/html;q=0.5, text/plain;q=0.9"), Format::Text),
        (
            Some("application/problem+json;q=0.9, text/html"),
            Format::Html,
        ),
        // problem+json refused by name, JSON taken: the same body as application/json.
        (
            Some("application/problem+json;q=0, application/json"),
            Format::Json,
        ),
        (
            Some("application/json, application/problem+json;q=0"),
            Format::Json,
        ),
    ] {
        assert_eq!(format_for(accept), want, "{accept:?}");
    }
}

/// The remembered choice is the one negotiation makes, whatever the order of values: each
/// asked twice in a row (a hit), and the list asked forwards and backwards (misses).
#[test]
fn the_remembered_choice_is_negotiations() {
    let values = [
        BROWSER,
        "text/html",
        "application/json",
        "application/json;q=0",
        "application/json, text/plain, */*",
        "*/*",
        "text/plain;q=0, */*",
        "garbage;;;q=x",
    ];
    for pass in 0..2 {
        let ordered: Vec<&str> = if pass == 0 {
            values.to_vec()
        } else {
            values.iter().rev().copied().collect()
        };
        for value in ordered {
            let fresh = negotiate_afresh(value.as_bytes());
            assert_eq!(negotiate(Some(value.as_bytes())), fresh, "{value:?}");
            assert_eq!(negotiate(Some(value.as_bytes())), fresh, "{value:?}, again");
        }
    }
}

#[test]
fn content_types_and_common_headers() {
    for (accept, ct) in [
        (BROWSER, "text/html; charset=utf-8"),
        (JSON, "application/problem+json"),
        ("application/problem+json", "application/problem+json"),
        ("*/*", "text/plain; charset=utf-8"),
    ] {
        let r = respond(Problem::not_found("/x", vec![]), Some(accept));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&r, CONTENT_TYPE), ct);
        assert_eq!(header(&r, VARY), "Accept");
        assert_eq!(header(&r, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&r, CONTENT_LENGTH), body(&r).len().to_string());
        assert!(
            r.headers().get(CACHE_CONTROL).is_none(),
            "404 may be cached"
        );
        assert_eq!(
            r.headers().contains_key(CONTENT_SECURITY_POLICY),
            ct.starts_with("text/html")
        );
    }
}

#[test]
fn server_errors_are_not_stored() {
    for p in [Problem::internal(), Problem::unavailable("", 5)] {
        let r = respond(p, None);
        assert_eq!(header(&r, CACHE_CONTROL), "no-store");
    }
}

#[test]
fn head_has_same_headers_and_no_body() {
    let p = Problem::method_not_allowed(&Method::POST, &[Method::GET, Method::HEAD]);
    let accept = HeaderValue::from_static(BROWSER);
    let get = p.clone().into_response(Some(&accept), false);
    let head = p.into_response(Some(&accept), true);
    assert_eq!(get.status(), head.status());
    assert_eq!(get.headers(), head.headers());
    assert!(matches!(head.body(), ResponseBody::Empty));
    assert_eq!(header(&head, CONTENT_LENGTH), body(&get).len().to_string());
}

#[test]
fn not_found_in_each_format() {
    let p = || Problem::not_found("/docs/intro.htm", vec!["/docs/intro.html".into()]);
    let text = render_as(p(), "*/*");
    assert_eq!(
        text,
        "404 Not Found\nNo file or directory at /docs/intro.htm.\n\n\
         Did you mean:\n  /docs/intro.html\n"
    );
    let html = render_as(p(), BROWSER);
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("<title>404 Not Found</title>"));
    assert!(html.contains("<p>No file or directory at /docs/intro.htm.</p>"));
    assert!(html.contains("<a href=\"/docs/intro.html\">/docs/intro.html</a>"));
    assert!(html.ends_with("</html>\n"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
    let v = json(p());
    assert_eq!(v["type"], "urn:usher:problem:not-found");
    assert_eq!(v["title"], "Not Found");
    assert_eq!(v["status"], 404);
    assert_eq!(v["detail"], "No file or directory at /docs/intro.htm.");
    assert_eq!(v["instance"], "/docs/intro.htm");
    assert_eq!(v["suggestions"], serde_json::json!(["/docs/intro.html"]));
    assert!(v.get("available").is_none() && v.get("request_id").is_none());
}

#[test]
fn not_found_without_suggestions_says_what_to_do_and_keeps_three() {
    let p = Problem::not_found("/x", vec![]);
    assert!(p.detail.contains("Check the address"), "{}", p.detail);
    let many = (0..10).map(|i| format!("/s{i}")).collect();
    assert_eq!(
        Problem::not_found("/x", many).suggestions.len(),
        MAX_SUGGESTIONS
    );
    let html = render_as(Problem::not_found("/x", vec![]), BROWSER);
    assert!(!html.contains("Did you mean"));
}

#[test]
fn method_not_allowed_sets_allow() {
    let allowed = [Method::GET, Method::HEAD, Method::OPTIONS];
    let p = Problem::method_not_allowed_on("/x", &Method::POST, &allowed);
    assert_eq!(
        p.detail,
        "POST is not allowed on /x. Allowed methods: GET, HEAD, OPTIONS."
    );
    let r = respond(p, None);
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&r, ALLOW), "GET, HEAD, OPTIONS");
    let p = Problem::method_not_allowed(&Method::DELETE, &allowed[..1]);
    assert_eq!(
        p.detail,
        "DELETE is not allowed here. Allowed methods: GET."
    );
    let p = Problem::method_not_allowed(&Method::GET, &[]);
    assert_eq!(respond(p, None).headers()[ALLOW], "");
}

#[test]
fn not_implemented_names_the_method() {
    let brew = Method::from_bytes(b"BREW").unwrap();
    let p = Problem::not_implemented(&brew);
    assert_eq!(p.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(p.detail, "usher does not implement the method BREW.");
    assert_eq!(json(p)["type"], "urn:usher:problem:not-implemented");
}

#[test]
fn range_not_satisfiable_sets_content_range() {
    let p = Problem::range_not_satisfiable("/f", 1234);
    assert_eq!(
        p.detail,
        "The range does not overlap the 1234-byte representation of /f; \
         request bytes within 0-1233."
    );
    let r = respond(p, None);
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, CONTENT_RANGE), "bytes */1234");
    let empty = Problem::range_not_satisfiable("/e", 0);
    assert!(empty.detail.contains("is empty"), "{}", empty.detail);
    assert_eq!(empty.headers[CONTENT_RANGE], "bytes */0");
}

#[test]
fn forbidden_names_the_policy() {
    let p = Problem::forbidden("/link", "symbolic links leaving the root are not followed");
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.detail.starts_with(
        "Access to /link is refused: symbolic links leaving the root are not followed."
    ));
}

#[test]
fn not_acceptable_lists_the_representations() {
    let available = vec!["/doc.en.html".to_owned(), "application/pdf".to_owned()];
    let p = || Problem::not_acceptable("/doc", available.clone());
    assert_eq!(p().status, StatusCode::NOT_ACCEPTABLE);
    let text = render_as(p(), TEXT);
    assert!(
        text.contains("Available:\n  /doc.en.html\n  application/pdf\n"),
        "{text}"
    );
    let html = render_as(p(), "text/html");
    assert!(html.contains("<a href=\"/doc.en.html\">/doc.en.html</a>"));
    assert!(html.contains("<code>application/pdf</code>"));
    assert_eq!(
        json(p())["available"],
        serde_json::json!(["/doc.en.html", "application/pdf"])
    );
}

#[test]
fn precondition_and_bad_request() {
    let p = Problem::precondition_failed("/f");
    assert_eq!(p.status, StatusCode::PRECONDITION_FAILED);
    assert!(p.detail.contains("/f") && p.detail.contains("If-Match"));
    let p = Problem::bad_request("The Range header is malformed.");
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(json(p)["detail"], "The Range header is malformed.");
}

#[test]
fn internal_shows_the_request_id_and_nothing_else() {
    let p = || Problem::internal().with_request_id("r-42");
    assert!(p().detail.contains("logged"));
    let text = render_as(p(), "*/*");
    assert!(text.ends_with("\nRequest id: r-42\n"), "{text}");
    assert!(render_as(p(), BROWSER).contains("Request id: <code>r-42</code>"));
    let v = json(p());
    assert_eq!(v["request_id"], "r-42");
    assert_eq!(v["status"], 500);
    assert!(v.get("instance").is_none());
}

#[test]
fn unavailable_sets_retry_after() {
    let p = Problem::unavailable("usher is shutting down.", 30);
    assert_eq!(p.detail, "usher is shutting down. Try again in 30 seconds.");
    let r = respond(p, None);
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, RETRY_AFTER), "30");
    assert_eq!(Problem::unavailable("", 1).detail, "Try again in 1 second.");
}

#[test]
fn hostile_names_are_escaped_in_every_format() {
    let name = "/<script>alert(\"x&'\")</script> 100%#1?.html";
    let suggestion = "/a \"b\" <c> & 'd' %25 #e ?f/café.html";
    let p = || Problem::not_found(name, vec![suggestion.to_owned()]);

    let html = render_as(p(), BROWSER);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&amp;&#39;&quot;)&lt;/script&gt;"));
    assert!(html.contains(
        "<a href=\"/a%20%22b%22%20%3Cc%3E%20%26%20%27d%27%20%2525%20%23e%20%3Ff/caf%C3%A9.html\">\
         /a &quot;b&quot; &lt;c&gt; &amp; &#39;d&#39; %25 #e ?f/café.html</a>"
    ));

    let v = json(p());
    assert_eq!(
        v["instance"],
        "/%3Cscript%3Ealert%28%22x%26%27%22%29%3C/script%3E%20100%25%231%3F.html"
    );
    assert_eq!(v["detail"], format!("No file or directory at {name}."));

    let text = render_as(p(), TEXT);
    assert!(text.contains(suggestion));
}

#[test]
fn control_characters_cannot_reach_a_terminal() {
    let p = Problem::not_found("/a\n\u{1b}[2Jb", vec!["/x\u{202E}y".into()]);
    let text = render_as(p, TEXT);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202E}'),
        "{text:?}"
    );
    assert!(
        text.contains("/a%0A%1B[2Jb") && text.contains("/x%E2%80%AEy"),
        "{text:?}"
    );
    let p = Problem::bad_request("bad\r\nX-Injected: 1");
    assert_eq!(p.detail, "bad%0D%0AX-Injected: 1");
}

#[test]
fn protocol_relative_suggestions_stay_on_this_host() {
    let html = render_as(
        Problem::not_found("/x", vec!["//evil.example/".into()]),
        BROWSER,
    );
    assert!(html.contains("href=\"/.//evil.example/\""), "{html}");
}

#[test]
fn extra_headers_override_except_body_framing() {
    let mut p = Problem::not_found("/x", vec![]);
    p.headers
        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    p.headers
        .insert(VARY, HeaderValue::from_static("Accept-Language"));
    p.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
    p.headers
        .insert(CONTENT_LENGTH, HeaderValue::from_static("1"));
    let r = respond(p, None);
    assert_eq!(header(&r, CACHE_CONTROL), "max-age=60");
    let vary: Vec<_> = r.headers().get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept, Accept-Language"]);
    assert_eq!(header(&r, CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(header(&r, CONTENT_LENGTH), body(&r).len().to_string());
}

#[test]
fn extra_vary_is_merged_into_one_line_without_repeats() {
    let mut p = Problem::precondition_failed("/about");
    p.headers
        .insert(VARY, HeaderValue::from_static("accept, Accept-Language"));
    let r = respond(p, None);
    let vary: Vec<_> = r.headers().get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept, Accept-Language"]);
}

#[test]
fn empty_problem_renders_without_empty_members() {
    let p = || Problem::new(StatusCode::IM_A_TEAPOT, "teapot", "I'm a teapot");
    let v = json(p());
    assert_eq!(
        v,
        serde_json::json!({"type": "urn:usher:problem:teapot", "title": "I'm a teapot", "status": 418})
    );
    assert_eq!(render_as(p(), TEXT), "418 I'm a teapot\n");
    assert!(render_as(p(), "text/html").contains("<h1>I&#39;m a teapot</h1>"));
}

#[test]
fn text_is_where_negotiation_looks_for_it() {
    assert_eq!(OFFERED[super::TEXT].0, "text/plain");
}

fn body_ptr(response: &Response<ResponseBody>) -> *const u8 {
    match response.body() {
        ResponseBody::Full(Some(b)) => b.as_ptr(),
        other => panic!("expected a full body, got {other:?}"),
    }
}

/// A remembered problem renders each format once: its clones answer with the same bytes,
/// and a format not asked for yet is rendered when it is.
#[test]
fn a_remembered_problem_renders_each_format_once() {
    let kept = Problem::not_found("/missing.txt", vec!["/mission.txt".to_owned()]).remembered();
    let first = respond(kept.clone(), Some(JSON));
    let second = respond(kept.clone(), Some(JSON));
    assert_eq!(body_ptr(&first), body_ptr(&second));
    assert_eq!(
        body(&first),
        body(&respond(forgotten(kept.clone()), Some(JSON)))
    );
    let page = respond(kept.clone(), Some(BROWSER));
    assert!(body(&page).starts_with("<!doctype html>"));
    assert_ne!(body_ptr(&page), body_ptr(&first));
    assert_eq!(body_ptr(&page), body_ptr(&respond(kept, Some(BROWSER))));
}

/// What makes a body a request's own is never taken from, or left in, the shared renderings:
/// a request id, or a changed detail or instance.
#[test]
fn a_remembered_problem_changed_or_given_an_id_renders_afresh() {
    let kept = Problem::not_found("/missing.txt", Vec::new()).remembered();
    let shared = respond(kept.clone(), Some(JSON));
    let with_id = respond(kept.clone().with_request_id("r-42"), Some(JSON));
    assert!(body(&with_id).contains("r-42"), "{}", body(&with_id));
    let detailed = respond(kept.clone().with_detail("Another detail."), Some(JSON));
    assert!(body(&detailed).contains("Another detail."));
    let elsewhere = respond(kept.clone().with_instance("/other.txt"), Some(JSON));
    assert!(body(&elsewhere).contains("/other.txt"));
    let again = respond(kept, Some(JSON));
    assert_eq!(body_ptr(&again), body_ptr(&shared));
    assert!(!body(&again).contains("r-42") && !body(&again).contains("Another detail."));
}

/// `problem` with its renderings dropped: rendered afresh from its fields.
fn forgotten(mut problem: Problem) -> Problem {
    problem.forget();
    problem
}

/// A remembered problem keeps its fields with each body: they are the ones a fresh rendering
/// gives, in every format, for a HEAD too, with fields of its own (merged `Vary`, `Allow`)
/// and for a 5xx (`no-store`).
#[test]
fn a_remembered_problems_fields_are_a_fresh_renderings() {
    let mut negotiated = Problem::not_found("/a.txt", Vec::new());
    negotiated.headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Language"),
    );
    let problems = [
        negotiated,
        Problem::method_not_allowed_on("/a.txt", &http::Method::POST, &[http::Method::GET]),
        Problem::internal(),
    ];
    for problem in problems {
        let kept = problem.remembered();
        for accept in [Some(JSON), Some(BROWSER), Some("text/plain"), None] {
            for is_head in [false, true] {
                // The second answer comes from what the first left.
                let _ = kept
                    .clone()
                    .into_response(accept.map(HeaderValue::from_static).as_ref(), is_head);
                let accept = accept.map(HeaderValue::from_static);
                let again = kept.clone().into_response(accept.as_ref(), is_head);
                let fresh = forgotten(kept.clone()).into_response(accept.as_ref(), is_head);
                assert_eq!(again.status(), fresh.status());
                assert_eq!(
                    again.headers(),
                    fresh.headers(),
                    "{accept:?} head {is_head}"
                );
            }
        }
    }
    let no_store = Problem::internal().remembered();
    let _ = respond(no_store.clone(), None);
    assert_eq!(
        respond(no_store, None).headers()["cache-control"],
        "no-store"
    );
}

/// A method is echoed in a 501 whole up to 64 bytes; a longer one is cut, with its length.
#[test]
fn an_unknown_method_is_echoed_at_most_64_bytes() {
    let long = "X".repeat(5000);
    let detail =
        |m: &str| Problem::not_implemented(&Method::from_bytes(m.as_bytes()).unwrap()).detail;
    let cut = detail(&long);
    assert!(
        cut.contains(&format!("{}... (5000 bytes)", "X".repeat(64))),
        "{cut}"
    );
    assert!(!cut.contains(&"X".repeat(65)), "{cut}");
    let whole = "Y".repeat(64);
    assert_eq!(
        detail(&whole),
        format!("usher does not implement the method {whole}.")
    );
}

/// A request without a name gets a 421 that says so, not "no site named ."
#[test]
fn a_request_naming_no_site_is_told_to_send_host() {
    let detail = Problem::misdirected("").detail;
    assert!(detail.contains("names no site"), "{detail}");
    assert!(
        Problem::misdirected("a.example")
            .detail
            .contains("no site named a.example")
    );
}

/// Unreadable content is a 400 that passes on the reader's reason, made printable.
#[test]
fn unreadable_content_says_what_the_reader_found() {
    let p = Problem::unreadable_content("bare LF in a chunk size line.");
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        p.detail,
        "The request's content could not be read to its end: bare LF in a chunk size line."
    );
    assert!(
        Problem::unreadable_content("a\r\nb")
            .detail
            .contains("a%0D%0Ab")
    );
}

/// Asked for prepared fields, a remembered problem's body carries them rendered; thawed, they
/// are the fields of the plain answer but `Content-Length` (the connection writes it from
/// the body). HEAD, and a problem not remembered, get the plain answer.
#[test]
fn a_remembered_problem_can_carry_its_fields_rendered() {
    use crate::body::prepared::{FieldForm, thaw};
    let kept = Problem::not_found("/missing.txt", Vec::new()).remembered();
    let accept = HeaderValue::from_static(JSON);
    for form in [FieldForm::Map, FieldForm::Prepared] {
        let mut prepared = kept.clone().into_response_as(Some(&accept), false, form);
        assert_eq!(
            matches!(prepared.body(), ResponseBody::Prepared(_)),
            form == FieldForm::Prepared
        );
        let mut plain = respond(kept.clone(), Some(JSON));
        thaw(&mut prepared);
        if form == FieldForm::Prepared {
            assert!(prepared.headers().get(CONTENT_LENGTH).is_none());
            plain.headers_mut().remove(CONTENT_LENGTH);
        }
        assert_eq!(prepared.headers(), plain.headers());
        assert_eq!(prepared.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(&prepared), body(&plain));
    }
    let head = kept.into_response_as(Some(&accept), true, FieldForm::Prepared);
    assert!(matches!(head.body(), ResponseBody::Empty));
    assert!(head.headers().get(CONTENT_LENGTH).is_some());
    let fresh = Problem::not_found("/missing.txt", Vec::new());
    let fresh = fresh.into_response_as(Some(&accept), false, FieldForm::Prepared);
    assert!(matches!(fresh.body(), ResponseBody::Full(_)));
}
