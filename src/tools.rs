//! `usher check` and `usher explain`: the config file loaded exactly as the server loads it,
//! and a request routed and answered by the server's own router and service, without serving.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body::Body as _;

use crate::cli::{ExplainArgs, ServeArgs};
use crate::config::Config;
use crate::handlers::cgi::{self, CgiOptions};
use crate::handlers::fastcgi::{self, FastCgiOptions};
use crate::handlers::proxy::{self, ProxyOptions};
use crate::http::target;
use crate::http::target::NormalPath;
use crate::router::path::PathPattern;
use crate::router::{Decision, Responder};
use crate::server::{App, answer};

/// Load `file` as `usher run -c FILE` would (syntax, values, routes, roots) and say whether
/// it can be served.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let config = Config::from_file_args(file, &ServeArgs::default())?;
    let app = App::new(&config)?;
    // The access log is opened (created if need be) only when the server starts: its
    // directory must be there.
    if let Some(crate::server::access_log::Target::File(log)) = &config.access_log {
        let dir = log.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            anyhow::bail!(
                "cannot open the access log {}: its directory does not exist",
                log.display()
            );
        }
    }
    let sites = app.router().sites().count();
    let routes: usize = app.router().sites().map(|s| s.routes.len()).sum();
    println!(
        "{}: ok ({sites} site{}, {routes} route{})",
        file.display(),
        plural(sites),
        plural(routes)
    );
    Ok(())
}

/// Route and answer one request from the command line, printing every step.
pub fn explain(args: &ExplainArgs) -> anyhow::Result<()> {
    let config = Config::from_file_args(&args.config, &ServeArgs::default())?;
    let app = Arc::new(App::new(&config)?);
    let request = request_of(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(explain_request(app, request))?;
    print!("{report}");
    Ok(())
}

/// The explanation of `request`: the router's recorded decision, then the answer's status,
/// fields and body size.
pub async fn explain_request(
    app: Arc<App>,
    mut request: Request<http_body_util::Empty<Bytes>>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    match target::normalise(request.uri().path()) {
        Ok(path) => {
            let router = app.router();
            let (decision, mut explanation) =
                router.explain(authority.as_deref(), request.method(), &path);
            if let Decision::Route(matched) = decision {
                let (parts, body) = request.into_parts();
                explanation.add_policy(matched.route, &parts, &path);
                request = Request::from_parts(parts, body);
            }
            writeln!(out, "{explanation}")?;
            if let Decision::Route(matched) = decision {
                if let Responder::Cgi(opts) = &matched.route.responder {
                    // The program is not run: explaining must not have its side effects.
                    explain_cgi(
                        &mut out,
                        opts,
                        &matched.route.pattern,
                        &path,
                        matched.consumed,
                    )?;
                    return Ok(out);
                }
                if let Responder::Proxy(opts) = &matched.route.responder {
                    // Nothing is sent upstream: explain says what would be.
                    let (parts, _) = request.into_parts();
                    explain_proxy(&mut out, opts, &parts, &path, matched.consumed)?;
                    return Ok(out);
                }
                if let Responder::FastCgi(opts) = &matched.route.responder {
                    // Nothing is sent to the application, for the same reason; a plain
                    // file of its root is answered below like any file.
                    if explain_fastcgi(&mut out, opts, &path)? {
                        return Ok(out);
                    }
                }
            }
        }
        Err(e) => writeln!(out, "the path cannot be routed: {e}")?,
    }
    let response = answer(app, request).await;
    writeln!(out, "answer: {}", response.status())?;
    for (name, value) in response.headers() {
        writeln!(
            out,
            "  {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        )?;
    }
    match response.body().size_hint().exact() {
        Some(0) => writeln!(out, "no body")?,
        Some(n) => writeln!(out, "body: {n} bytes")?,
        None => writeln!(out, "body: streamed, length unknown")?,
    }
    Ok(out)
}

/// What a CGI route would run, and how the path splits around the program.
fn explain_cgi(
    out: &mut String,
    opts: &CgiOptions,
    pattern: &PathPattern,
    path: &NormalPath,
    consumed: usize,
) -> std::fmt::Result {
    match cgi::resolve(&opts.target, pattern, path, consumed) {
        Ok(script) => {
            match &opts.interpreter {
                Some(interpreter) => writeln!(
                    out,
                    "program: {} {}",
                    interpreter.display(),
                    script.file.display()
                )?,
                None => writeln!(out, "program: {}", script.file.display())?,
            }
            writeln!(out, "  SCRIPT_NAME={}", script.name)?;
            writeln!(out, "  PATH_INFO={}", script.path_info)?;
            writeln!(
                out,
                "  working directory: {}",
                script
                    .file
                    .parent()
                    .map_or_else(String::new, |p| p.display().to_string())
            )?;
            writeln!(
                out,
                "answer: whatever the program writes (explain does not run it)"
            )
        }
        Err(problem) => writeln!(out, "no program: {} {}", problem.status, problem.detail),
    }
}

/// What a FastCGI route would ask its application, without asking it; false when the path
/// names a plain file, which the caller answers.
fn explain_fastcgi(
    out: &mut String,
    opts: &FastCgiOptions,
    path: &NormalPath,
) -> Result<bool, std::fmt::Error> {
    let addresses: Vec<String> = opts.upstreams.iter().map(ToString::to_string).collect();
    let turn = if addresses.len() > 1 {
        " (in turn)"
    } else {
        ""
    };
    writeln!(
        out,
        "application: FastCGI at {}{turn}",
        addresses.join(", ")
    )?;
    match fastcgi::resolve::resolve(opts, path) {
        Ok(fastcgi::resolve::Target::Script(script)) => {
            writeln!(out, "  SCRIPT_FILENAME={}", script.file.display())?;
            writeln!(out, "  SCRIPT_NAME={}", script.name)?;
            writeln!(out, "  PATH_INFO={}", script.path_info)?;
            writeln!(
                out,
                "answer: whatever the application writes (explain does not ask it)"
            )?;
            Ok(true)
        }
        Ok(fastcgi::resolve::Target::File) => {
            writeln!(out, "a file of the root, not a script: served as a file")?;
            Ok(false)
        }
        Ok(fastcgi::resolve::Target::AddSlash) => {
            writeln!(
                out,
                "a directory with an index script: 308 Permanent Redirect to {}/",
                path.as_str()
            )?;
            Ok(true)
        }
        Err(_) => {
            writeln!(out, "no script: 404 Not Found")?;
            Ok(true)
        }
    }
}

/// What a proxy route would send upstream, without sending it: the upstreams and policy,
/// the request line and the fields the upstream would receive (as if the client were
/// 127.0.0.1).
fn explain_proxy(
    out: &mut String,
    opts: &ProxyOptions,
    parts: &http::request::Parts,
    path: &NormalPath,
    consumed: usize,
) -> std::fmt::Result {
    let upstreams: Vec<String> = opts.upstreams.iter().map(ToString::to_string).collect();
    writeln!(out, "upstreams: {}", upstreams.join(", "))?;
    writeln!(out, "policy: {}", opts.policy)?;
    if let Some(check) = &opts.check {
        writeln!(
            out,
            "health check: GET {} every {:?}, expecting {:?}",
            check.path, check.interval, check.expect
        )?;
    }
    let strip = opts.strip_prefix.then_some(path.prefix(consumed));
    let target = proxy::client::upstream_target(parts, path, strip);
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let cx = proxy::forward::ForwardContext {
        trusted_proxies: &opts.trusted_proxies,
        host: opts.host.clone(),
        ..proxy::forward::ForwardContext::new(peer, proxy::forward::Scheme::Http)
    };
    let fields = proxy::forward::request_fields(parts, &cx);
    writeln!(out, "the upstream would receive (as if from 127.0.0.1):")?;
    writeln!(out, "  {} {target} HTTP/1.1", parts.method)?;
    for (name, value) in &fields {
        writeln!(
            out,
            "  {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        )?;
    }
    writeln!(
        out,
        "answer: whatever the upstream answers (explain does not ask it)"
    )
}

/// The request `usher explain` describes: METHOD, URL and `-H` fields.
fn request_of(args: &ExplainArgs) -> anyhow::Result<Request<http_body_util::Empty<Bytes>>> {
    let method = Method::from_bytes(args.method.as_bytes())
        .with_context(|| format!("{:?} is not a method", args.method))?;
    let uri: Uri = args
        .url
        .parse()
        .with_context(|| format!("{:?} is not a URL or a path", args.url))?;
    let scheme = uri.scheme_str();
    let http =
        scheme.is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    if (scheme.is_none() && !args.url.starts_with('/')) || (scheme.is_some() && !http) {
        bail!("give a URL such as http://example.test/path, or a path starting with /");
    }
    let mut builder = Request::builder().method(method).uri(uri.clone());
    let mut has_host = false;
    for field in &args.headers {
        let Some((name, value)) = field.split_once(':') else {
            bail!("-H {field:?}: write a header as 'Name: value'");
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("-H {field:?}: not a header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("-H {field:?}: not a header value"))?;
        has_host |= name == http::header::HOST;
        builder = builder.header(name, value);
    }
    if !has_host {
        let host = uri.authority().map_or("localhost", |a| a.as_str());
        builder = builder.header(http::header::HOST, host);
    }
    Ok(builder.body(http_body_util::Empty::new())?)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
