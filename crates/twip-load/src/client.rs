//! One HTTP/1.1 GET through hyper-util's pooled client, and the sorting of
//! its failures into [`ErrorClass`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::collect::Outcome;
use crate::report::ErrorClass;

pub(crate) type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A pooled client: one connection per request in flight (HTTP/1.1 has no
/// multiplexing), idle connections kept for reuse, Nagle off.
pub(crate) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// Sends one GET and reads the whole body; a complete response within
/// `timeout` of the send counts, by its status.
pub(crate) async fn get(
    client: &HttpClient,
    uri: &Uri,
    headers: &hyper::HeaderMap,
    timeout: Duration,
) -> Outcome {
    let mut request = match hyper::Request::get(uri.clone())
        .header(hyper::header::USER_AGENT, "twip-load")
        .body(Empty::<Bytes>::new())
    {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(ErrorClass::Transport, Some(e.to_string())),
    };
    // The caller's own (a Host or User-Agent given replaces twip's).
    for name in headers.keys() {
        request.headers_mut().remove(name);
    }
    for (name, value) in headers {
        request.headers_mut().append(name, value.clone());
    }
    let exchange = async {
        let response = client.request(request).await.map_err(classify_client)?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| (ErrorClass::Transport, Some(chain(&e))))?;
        Ok::<_, (ErrorClass, Option<String>)>(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Outcome::Failed(ErrorClass::Timeout, None),
        Ok(Err((class, message))) => Outcome::Failed(class, message),
        Ok(Ok(status)) if status.as_u16() >= 400 => {
            Outcome::Failed(ErrorClass::Status(status.as_u16()), None)
        }
        Ok(Ok(_)) => Outcome::Ok,
    }
}

fn classify_client(e: hyper_util::client::legacy::Error) -> (ErrorClass, Option<String>) {
    let message = Some(chain(&e));
    if e.is_connect() {
        let refused = sources(&e).any(|s| {
            s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        });
        let class = if refused {
            ErrorClass::ConnectRefused
        } else {
            ErrorClass::Connect
        };
        (class, message)
    } else {
        (ErrorClass::Transport, message)
    }
}

fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// An error and its causes, joined by ": ".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    sources(e)
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
