//! REST for one-shot calls: one HTTP/1.1 request on a fresh connection, no
//! login round trip, no background task. Events need [`crate::Client`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sysadm_proto::{ErrorArgs, RestBody};

use crate::client::Options;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::transport::Endpoint;

/// One request over REST (`PUT /<namespace>/<name>`): the reply's `args`.
/// Uses `options.trust`, `connect_timeout`, `request_timeout` and `max_message_bytes`.
pub async fn call(
    url: &str,
    credentials: &Credentials,
    options: &Options,
    namespace: &str,
    name: &str,
    args: Value,
) -> Result<Value> {
    let endpoint = Endpoint::parse(url)?;
    let stream = endpoint
        .open(&options.trust, options.connect_timeout)
        .await?;
    let failed = |error: &dyn std::fmt::Display| Error::Connect {
        url: endpoint.ws_url(),
        reason: error.to_string(),
    };
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| failed(&error))?;
        tokio::spawn(connection);
        let body = serde_json::to_vec(&args).expect("values serialize");
        let request = hyper::Request::builder()
            .method(hyper::Method::PUT)
            .uri(format!("/{namespace}/{name}"))
            .header(hyper::header::HOST, endpoint.authority())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::AUTHORIZATION, credentials.authorization())
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| failed(&error))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| failed(&error))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), options.max_message_bytes)
            .collect()
            .await
            .map_err(|error| failed(&error))?
            .to_bytes();
        Ok::<_, Error>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(options.request_timeout, exchange)
        .await
        .map_err(|_| Error::Timeout(options.request_timeout.as_secs()))??;
    let body: RestBody = serde_json::from_slice(&bytes).map_err(|error| {
        Error::Decode(format!(
            "HTTP {status} with a body that is not {{\"args\": ...}}: {error}"
        ))
    })?;
    if status.is_success() {
        return Ok(body.args);
    }
    let args: ErrorArgs = serde_json::from_value(body.args)
        .map_err(|error| Error::Decode(format!("HTTP {status} error body: {error}")))?;
    Err(Error::Server(args))
}
