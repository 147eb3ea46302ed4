//! Error classification: what went wrong, in words a user can act on.
//!
//! An SDK error is sorted by its code and kind into credentials (refused or
//! expired), a missing cluster, an endpoint that did not answer, or a call
//! the service refused; [`EcsError`] says which, with a hint.

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use twip_deploy::Partial;

/// Why applying (or reading) failed: one-line cause, with a hint.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// No region in the arguments or the configuration chain.
    #[error("no AWS region; hint: pass --region, or set AWS_REGION or a profile's region")]
    NoRegion,
    /// Credentials missing, refused or expired.
    #[error("{action}: AWS credentials are missing, invalid or expired ({message}); hint: refresh them (`aws sso login`, a new session token) or check AWS_PROFILE / AWS_ACCESS_KEY_ID")]
    Credentials {
        /// What twip was doing.
        action: String,
        /// What the SDK or the service said.
        message: String,
    },
    /// The cluster does not exist.
    #[error("ECS cluster {0:?} does not exist in this account and region; hint: check --cluster and --region (`twip apply` creates it)")]
    ClusterNotFound(String),
    /// The endpoint did not answer.
    #[error("{action}: the ECS endpoint {endpoint} did not answer ({message}); hint: check --endpoint-url, --region and the network")]
    Unreachable {
        /// What twip was doing.
        action: String,
        /// Where it was sent.
        endpoint: String,
        /// What the SDK said.
        message: String,
    },
    /// ECS refused a call (after the retries the SDK makes).
    #[error("{action} failed: {code}: {message}")]
    Call {
        /// What twip was doing.
        action: String,
        /// The service's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// An object twip would change exists without twip's full set of tags.
    #[error("{kind} {name} exists but is not tagged as twip's (twip.env={env}, twip.service, twip.managed=true): twip does not touch it; hint: use another --env or --cluster")]
    NotOwned {
        /// What kind of object.
        kind: String,
        /// Which.
        name: String,
        /// The environment.
        env: String,
    },
    /// Stopped half-way: what was and was not applied.
    #[error("{0}")]
    Partial(Partial<EcsError>),
}

/// An error and its sources, `: `-separated (without the Debug dump of
/// `DisplayErrorContext`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

/// Error codes that mean the credentials are the problem.
const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
];

/// Turns an SDK error from `action` on `cluster` at `endpoint` into an
/// [`EcsError`].
pub(crate) fn classify<E, R>(
    action: &str,
    cluster: &str,
    endpoint: &str,
    e: SdkError<E, R>,
) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let message = e.message().map(str::to_string).unwrap_or_else(|| chain(&e));
    if CREDENTIAL_CODES.contains(&code.as_str()) {
        return EcsError::Credentials {
            action: action.into(),
            message: format!("{code}: {message}"),
        };
    }
    if code == "ClusterNotFoundException" {
        return EcsError::ClusterNotFound(cluster.to_string());
    }
    match &e {
        SdkError::DispatchFailure(_)
        | SdkError::TimeoutError(_)
        | SdkError::ConstructionFailure(_) => {
            let text = chain(&e);
            let lower = text.to_lowercase();
            if lower.contains("credential") || lower.contains("identity") {
                EcsError::Credentials {
                    action: action.into(),
                    message: text,
                }
            } else {
                EcsError::Unreachable {
                    action: action.into(),
                    endpoint: endpoint.to_string(),
                    message: text,
                }
            }
        }
        _ => EcsError::Call {
            action: action.into(),
            code: if code.is_empty() {
                "error".into()
            } else {
                code
            },
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_failure_says_what_was_and_was_not_applied() {
        let e = EcsError::Partial(Partial::new(
            EcsError::Call {
                action: "creating service e-app".into(),
                code: "ClientException".into(),
                message: "no".into(),
            },
            vec!["+ create   cluster c".into()],
            vec!["+ create   service e-app".into()],
        ));
        let text = e.to_string();
        assert!(text.contains("applied: + create   cluster c"), "{text}");
        assert!(
            text.contains("not applied: + create   service e-app"),
            "{text}"
        );
    }
}
