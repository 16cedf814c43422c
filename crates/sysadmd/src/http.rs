//! One HTTP request: REST (`PUT|POST|GET|HEAD /<namespace>/<name>` with the
//! args, or a whole envelope, as JSON body), `OPTIONS` (with CORS for the
//! configured origins), or the WebSocket upgrade (`GET /`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use sysadm_proto::{ErrorCode, RestBody, RestRequest};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::app::{Answered, ApiError, App, Peer, Transport};
use crate::server::ConnectionSlot;

pub(crate) type Body = Full<Bytes>;

const ALLOW: &str = "GET, HEAD, POST, PUT, OPTIONS";

/// Answers one HTTP request. Never fails: every error becomes a response.
pub(crate) async fn handle(
    app: Arc<App>,
    addr: SocketAddr,
    slot: ConnectionSlot,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    if is_websocket_upgrade(&request) {
        return Ok(upgrade(app, addr, slot, request));
    }
    let origin = allowed_origin(&app, &request);
    if request.uri().path() == "/healthz" && matches!(*request.method(), Method::GET | Method::HEAD)
    {
        // For load balancers and rc scripts: no login, plain text.
        let (status, text) = crate::ops::healthz(&app).await;
        let mut response = Response::new(Body::new(Bytes::from(text)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(response);
    }
    if request.uri().path() == "/metrics" && matches!(*request.method(), Method::GET | Method::HEAD)
    {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut response = match crate::ops::metrics(&app, addr.ip(), header).await {
            Ok(text) => {
                let mut response = Response::new(Body::new(Bytes::from(text)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                response
            }
            Err(error) => error_response(&error),
        };
        if let Some(origin) = origin {
            add_cors_headers(&mut response, origin, false);
        }
        return Ok(response);
    }
    if request.method() == Method::OPTIONS {
        let preflight = request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        if let Some(origin) = origin {
            add_cors_headers(&mut response, origin, preflight);
        }
        return Ok(response);
    }
    let mut response = match rest(&app, addr, slot, request).await {
        Ok(answered) => {
            // `{"args":` and `}` around the reply, which is written raw.
            let size = answered.args.get().len() + 9;
            let mut response = json_response(
                StatusCode::OK,
                &RestBody {
                    args: &*answered.args,
                },
                size,
            );
            if let Some(age) = answered.age {
                add_age_headers(&mut response, age);
            }
            response
        }
        Err(error) => error_response(&error),
    };
    if let Some(origin) = origin {
        add_cors_headers(&mut response, origin, false);
    }
    Ok(response)
}

/// The request's `Origin`, if `[http] allowed_origins` lists it.
fn allowed_origin<B>(app: &App, request: &Request<B>) -> Option<HeaderValue> {
    if app.http.allowed_origins.is_empty() {
        return None;
    }
    let origin = request.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    app.http.allows_origin(text).then(|| origin.clone())
}

/// CORS headers for an allowed origin: the origin echoed (never `*`, which
/// cannot go with credentials), and for a preflight what the API uses.
fn add_cors_headers(response: &mut Response<Body>, origin: HeaderValue, preflight: bool) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, Idempotency-Key"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    } else {
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, Age, Sysadmd-Age-Ms"),
        );
    }
}

/// The age of a kept answer (`[limits] iocage_read_ttl_ms`): `Age` in whole
/// seconds (RFC 9111 section 5.1) and `Sysadmd-Age-Ms` in milliseconds, since
/// the iocage read it comes from started.
fn add_age_headers(response: &mut Response<Body>, age: Duration) {
    let headers = response.headers_mut();
    headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
    headers.insert(
        "sysadmd-age-ms",
        HeaderValue::from(u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
    );
}

async fn rest(
    app: &Arc<App>,
    addr: SocketAddr,
    slot: ConnectionSlot,
    request: Request<Incoming>,
) -> Result<Answered, ApiError> {
    let method = request.method().clone();
    // HEAD answers as GET does; hyper sends no body for it.
    if !matches!(
        method,
        Method::GET | Method::HEAD | Method::POST | Method::PUT
    ) {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "method {method} is not allowed; use PUT, POST or GET with a JSON body (or HEAD)"
            ),
        ));
    }
    let Some((namespace, name)) = class_of(request.uri().path())
        .map(|(namespace, name)| (namespace.to_owned(), name.to_owned()))
    else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no class at '{}'; REST paths are /<namespace>/<name>, e.g. PUT /sysadm/iocage",
                request.uri().path()
            ),
        ));
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().map(str::to_owned));
    let authorization = match authorization {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the Authorization header is not valid text",
            ));
        }
    };
    let idempotency_key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => Some(value.to_str().map(str::to_owned).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                "the Idempotency-Key header is not valid text",
            )
        })?),
    };
    let limit = app.limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is over the limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let body = match read_body(request.into_body(), limit, declared).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(too_large()),
        Err(BodyError::Unreadable) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "the request body could not be read",
            ));
        }
    };
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        sysadm_proto::parse_json(&body).map_err(|error| {
            ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {error}"))
        })?
    };
    let mut args = envelope_args(&namespace, &name, body)?;
    if let Some(key) = idempotency_key {
        with_idempotency_key(&mut args, key)?;
    }
    let peer = Peer::new(addr, Transport::Rest, None).with_slot(slot);
    app.dispatch(&peer, &namespace, &name, args, authorization.as_deref())
        .await
}

/// The arguments of a body that may be a whole envelope. An envelope that
/// names a class must name the one of the path (in any case): the reference
/// server silently used the path's, which hides a client's mistake.
fn envelope_args(namespace: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    let request = RestRequest::from_body(body)?;
    let mismatch = |field: &str, sent: &str, path: &str| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "the body's {field} {} is not the path's '{path}'; send the envelope to /<namespace>/<name> of its own class, or send only its args",
                sysadm_proto::shown(sent)
            ),
        )
    };
    if let Some(sent) = request.namespace.as_deref()
        && !sent.eq_ignore_ascii_case(namespace)
    {
        return Err(mismatch("namespace", sent, namespace));
    }
    if let Some(sent) = request.name.as_deref()
        && !sent.eq_ignore_ascii_case(name)
    {
        return Err(mismatch("name", sent, name));
    }
    Ok(request.args)
}

/// Puts the `Idempotency-Key` header's key into `args`, where the request
/// decoder checks it; a different key in the body too is a 400.
fn with_idempotency_key(args: &mut Value, key: String) -> Result<(), ApiError> {
    let Value::Object(object) = args else {
        return Ok(()); // the decoder says what args must be
    };
    match object.get("idempotency_key") {
        Some(Value::String(given)) if *given != key => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "the Idempotency-Key header ({}) and the body's idempotency_key ({}) differ; send one",
                sysadm_proto::shown(&key),
                sysadm_proto::shown(given)
            ),
        )),
        _ => {
            object.insert("idempotency_key".into(), Value::String(key));
            Ok(())
        }
    }
}

/// The most bytes of a refused (too large) body read and dropped.
const DISCARD_MAX_BYTES: u64 = 8 << 20;
/// How long a refused body is read and dropped, at most.
const DISCARD_TIME: Duration = Duration::from_secs(2);

enum BodyError {
    TooLarge,
    Unreadable,
}

/// Reads a body of at most `limit` bytes.
///
/// A body over the limit is refused, but first what the client is still
/// sending is read and dropped (up to 8 MiB, for up to 2 s): answering with
/// input unread makes the kernel reset the connection, and the reset can
/// destroy the 413 on its way to the client (an HTTP server's "lingering
/// close"). A body declared larger than that is refused at once.
async fn read_body(
    mut body: Incoming,
    limit: usize,
    declared: Option<u64>,
) -> Result<Bytes, BodyError> {
    if let Some(length) = declared.filter(|&length| length > limit as u64) {
        if length <= DISCARD_MAX_BYTES {
            discard(&mut body).await;
        }
        return Err(BodyError::TooLarge);
    }
    let mut collected = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                discard(&mut body).await;
                return Err(BodyError::TooLarge);
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

/// Reads and drops the rest of a refused body, bounded in bytes and time.
async fn discard(body: &mut Incoming) {
    let _ = tokio::time::timeout(DISCARD_TIME, async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |data| data.len() as u64);
            if read > DISCARD_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

/// `/<namespace>/<name>`, exactly two non-empty segments.
fn class_of(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (namespace, name) = rest.split_once('/')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains('/')).then_some((namespace, name))
}

fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    };
    request.method() == Method::GET
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
}

fn upgrade(
    app: Arc<App>,
    addr: SocketAddr,
    slot: ConnectionSlot,
    mut request: Request<Incoming>,
) -> Response<Body> {
    if request.uri().path() != "/" {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            "the WebSocket endpoint is '/'",
        ));
    }
    let version_ok = request
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|version| version == "13");
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return error_response(&ApiError::new(
            ErrorCode::BadRequest,
            "WebSocket upgrade without Sec-WebSocket-Key",
        ));
    };
    if !version_ok {
        let mut response = error_response(&ApiError::new(
            ErrorCode::BadRequest,
            "unsupported WebSocket version; sysadmd speaks version 13",
        ));
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    let tracker = app.tracker.clone();
    let lane = slot.clone();
    lane.spawn(tracker.track_future(async move {
        match on_upgrade.await {
            // The slot keeps the WebSocket counted against the connection limit.
            Ok(upgraded) => {
                slot.upgraded();
                crate::ws::serve(app, addr, upgraded, slot).await;
            }
            Err(error) => tracing::debug!(peer = %addr, %error, "WebSocket upgrade failed"),
        }
    }));
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
    );
    response
}

/// Room for an error body: most are one sentence.
const ERROR_BODY_BYTES: usize = 256;

/// `body` as JSON, written into a buffer of `size` bytes (more if it needs
/// them): grown from serde_json's 128 bytes by doubling, a 12 KB
/// `listjails` was reallocated 7 times on its way.
fn json_response<T: serde::Serialize>(status: StatusCode, body: &T, size: usize) -> Response<Body> {
    let mut bytes = Vec::with_capacity(size);
    serde_json::to_writer(&mut bytes, body).expect("wire types always serialize");
    let mut response = Response::new(Body::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The one place an error becomes an HTTP response.
pub(crate) fn error_response(error: &ApiError) -> Response<Body> {
    let code = error.code();
    let status = StatusCode::from_u16(code.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(
        status,
        &RestBody {
            args: error.to_args(),
        },
        ERROR_BODY_BYTES,
    );
    let headers = response.headers_mut();
    match code {
        ErrorCode::MethodNotAllowed => {
            headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        }
        ErrorCode::Unauthorized => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sysadmd\", Bearer"),
            );
        }
        ErrorCode::TooManyRequests => {
            if let Some(secs) = error.retry_after_secs() {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::class_of;

    #[test]
    fn rest_paths_name_exactly_one_class() {
        assert_eq!(class_of("/sysadm/iocage"), Some(("sysadm", "iocage")));
        assert_eq!(class_of("/sysadm/iocage/"), Some(("sysadm", "iocage")));
        assert_eq!(class_of("/rpc/identify"), Some(("rpc", "identify")));
        for bad in [
            "/",
            "/sysadm",
            "/sysadm/",
            "//iocage",
            "/a/b/c",
            "sysadm/iocage",
        ] {
            assert_eq!(class_of(bad), None, "{bad}");
        }
    }
}
