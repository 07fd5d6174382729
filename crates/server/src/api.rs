//! The client API as an axum router: admission from the head, the table of routes, and the step
//! from async to the blocking handlers (jobs block on the mesh for as long as they run).
//!
//! Order of work for every request: the connection (`mitsu_net::http::serve`) has done TLS and
//! read the head; [`admit`] decides who the caller is from the token alone and answers 401 without
//! reading the body; the route's handler reads the body under that caller's limit (413 before a
//! byte is read when the announced length is too large) and runs the route on the blocking pool.

use crate::state::State;
use crate::{audit, governance, routes};
use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request};
use axum::middleware::Next;
use axum::routing::{MethodFilter, MethodRouter, on};
use mitsu_api::Role;
use mitsu_net::http::Conn;
use mitsu_store::Account;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body of an account (a share chunk is at most 2 MiB; job requests are small).
pub const MAX_BODY: usize = 4 << 20;
/// Largest request body of the admin (benchmark inputs staged by `mitsu bench --processes`).
pub const MAX_ADMIN_BODY: usize = 256 << 20;

/// An answer of a route: a status and a JSON (or, for result frames, binary) body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type: "application/json", body: body.into() }
    }
    pub fn bytes(body: Vec<u8>) -> Response {
        Response { status: 200, content_type: "application/octet-stream", body }
    }
    /// `{"error": msg}` with `status`.
    pub fn error(status: u16, msg: &str) -> Response {
        let body = serde_json::to_vec(&mitsu_api::wire::ErrorBody { error: msg.to_string() }).expect("serializes");
        Response::json(status, body)
    }
    /// The message of an error answer (empty when the body is not one).
    pub fn message(&self) -> String {
        serde_json::from_slice::<mitsu_api::wire::ErrorBody>(&self.body).map(|e| e.error).unwrap_or_default()
    }
}

impl axum::response::IntoResponse for Response {
    fn into_response(self) -> axum::response::Response {
        let status =
            axum::http::StatusCode::from_u16(self.status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, [(axum::http::header::CONTENT_TYPE, self.content_type)], self.body).into_response()
    }
}

/// The admitted caller of a request, with what its body may be.
#[derive(Debug, Clone)]
struct Caller {
    account: Account,
    max_body: usize,
    announced: Option<u64>,
    conn: Conn,
}

/// A route handler: runs on the blocking pool with the caller, the body, and the decoded path
/// parameters in the order the path names them followed by the raw query string (maybe empty).
type Handler = fn(&State, &Account, &[u8], &[String]) -> Response;

/// The client API. Paths are those of `mitsu_api::wire::ROUTES` (a test sends every one of them
/// to a real party); any other path or method answers 404 with a pointer to the document.
pub(crate) fn router(state: Arc<State>) -> axum::Router {
    use MethodFilter as M;
    axum::Router::new()
        .route("/openapi.json", axum::routing::get(|| async { Response::json(200, mitsu_api::wire::OPENAPI) }))
        .route("/v1/status", blocking(M::GET, |st, _, _, _| routes::status(st)))
        .route(
            "/v1/accounts",
            blocking(M::POST, |st, who, body, _| routes::create_account(st, who, body))
                .merge(blocking(M::GET, |st, who, _, _| governance::accounts(st, who))),
        )
        .route(
            "/v1/accounts/{name}/revoke",
            blocking(M::POST, |st, who, body, p| governance::revoke(st, who, body, &p[0])),
        )
        .route(
            "/v1/accounts/{name}/rotate",
            blocking(M::POST, |st, who, body, p| governance::rotate(st, who, body, &p[0])),
        )
        .route("/v1/tables", blocking(M::GET, |st, _, _, _| routes::tables(st)))
        .route(
            "/v1/tables/{name}/policy",
            blocking(M::PUT, |st, who, body, p| governance::set_policy(st, who, body, &p[0])),
        )
        .route(
            "/v1/projects",
            blocking(M::POST, |st, who, body, _| governance::propose(st, who, body))
                .merge(blocking(M::GET, |st, _, _, _| governance::projects(st))),
        )
        .route("/v1/projects/{name}", blocking(M::GET, |st, _, _, p| governance::project(st, &p[0])))
        .route(
            "/v1/projects/{name}/approve",
            blocking(M::POST, |st, who, body, p| governance::approve(st, who, body, &p[0], true)),
        )
        .route(
            "/v1/projects/{name}/withdraw",
            blocking(M::POST, |st, who, body, p| governance::approve(st, who, body, &p[0], false)),
        )
        .route(
            "/v1/projects/{name}/close",
            blocking(M::POST, |st, who, body, p| governance::close(st, who, body, &p[0])),
        )
        .route(
            "/v1/tables/{name}",
            blocking(M::GET, |st, _, _, p| routes::table(st, &p[0]))
                .merge(blocking(M::DELETE, |st, who, body, p| governance::drop_table(st, who, body, &p[0]))),
        )
        .route("/v1/tables/{name}/versions", blocking(M::POST, |st, who, body, p| routes::begin(st, who, body, &p[0])))
        .route("/v1/tables/{name}/staged", blocking(M::DELETE, |st, who, _, p| routes::abort(st, who, &p[0])))
        .route(
            "/v1/tables/{name}/versions/{version}/columns/{column}/chunks/{chunk}",
            blocking(M::PUT, |st, who, body, p| routes::put_chunk(st, who, body, &p[0], &p[1], &p[2], &p[3])),
        )
        .route(
            "/v1/tables/{name}/versions/{version}/commit",
            blocking(M::POST, |st, who, body, p| routes::commit(st, who, body, &p[0], &p[1])),
        )
        .route("/v1/bench/stage/{id}", blocking(M::POST, |st, who, body, p| routes::stage_bench(st, who, body, &p[0])))
        .route("/v1/jobs", blocking(M::POST, |st, who, body, _| crate::jobs::run(st, who, body)))
        .route("/v1/audit", blocking(M::GET, |st, who, _, p| audit::page(st, who, &p[0])))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    let path: String = req.uri().path().chars().take(200).collect();
    Response::error(404, &format!("{} {path} is not part of the API (see /openapi.json)", req.method()))
}

/// A route whose handler runs on the blocking pool once the body is read.
fn blocking(method: MethodFilter, h: Handler) -> MethodRouter<Arc<State>> {
    on(
        method,
        move |axum::extract::State(st): axum::extract::State<Arc<State>>,
              caller: Option<axum::Extension<Caller>>,
              params: Result<RawPathParams, RawPathParamsRejection>,
              uri: axum::http::Uri,
              body: Body| async move {
            let Some(axum::Extension(caller)) = caller else {
                return Response::error(500, "internal error: a request reached a route without admission");
            };
            let mut params: Vec<String> = match params {
                Ok(p) => p.iter().map(|(_, v)| v.to_string()).collect(),
                Err(_) => return Response::error(400, "a path segment is not UTF-8 once decoded"),
            };
            params.push(uri.query().unwrap_or("").chars().take(1000).collect());
            let body = match caller.conn.read_body(body, caller.announced, caller.max_body).await {
                Ok(b) => b,
                Err(e) => return Response::error(e.status, &e.message),
            };
            let who = caller.account;
            match tokio::task::spawn_blocking(move || h(&st, &who, &body, &params)).await {
                Ok(r) => r,
                Err(_) => Response::error(500, "internal error: the party hit a bug; its log has the details"),
            }
        },
    )
}

/// Who may send this request and how large a body: decided from the head alone, before a byte of
/// the body is read. Only the OpenAPI document is served without a token. Logs one line per
/// request (never its body): who, what, the answer's status and how long it took.
async fn admit(
    axum::extract::State(st): axum::extract::State<Arc<State>>,
    mut req: Request,
    next: Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.method() == axum::http::Method::GET && req.uri().path() == "/openapi.json" {
        return next.run(req).await;
    }
    let Some(conn) = req.extensions().get::<Conn>().cloned() else {
        return Response::error(500, "internal error: a request without a connection").into_response();
    };
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    // the account lookup reads the store: off the async workers
    let lookup = st.clone();
    let who = tokio::task::spawn_blocking(move || crate::party::caller(&lookup, token.as_deref())).await.ok().flatten();
    let Some(who) = who else {
        return Response::error(401, "missing or wrong token").into_response();
    };
    conn.admitted();
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max_body = if who.role == Role::Admin { MAX_ADMIN_BODY } else { MAX_BODY };
    let (method, path) = (req.method().clone(), req.uri().path().chars().take(200).collect::<String>());
    let account = who.name.clone();
    req.extensions_mut().insert(Caller { account: who, max_body, announced, conn });
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(
        account = %account,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}
