//! How the client proves who it is: a password, a session token or an API key.

use base64::Engine;
use serde_json::Value;
use sysadm_proto::RpcRequest;

/// Credentials for logging in. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (`rpc/auth`, REST Basic).
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A token from an earlier password login (`rpc/auth_token`, REST Bearer).
    /// Tokens expire when unused and do not survive a server restart.
    Token(String),
    /// An API key (`sysadmd key create`, `rpc/keys`): `rpc/auth_key` over
    /// WebSocket, `Bearer` over REST. Keys survive restarts and do not expire
    /// unless made to.
    Key(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
            Credentials::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

impl Credentials {
    /// The login request over WebSocket.
    pub(crate) fn login_request(&self) -> (&'static str, Value) {
        let request = match self {
            Credentials::Password { user, password } => RpcRequest::Auth {
                username: user.clone(),
                password: password.clone(),
            },
            Credentials::Token(token) => RpcRequest::AuthToken {
                token: token.clone(),
            },
            Credentials::Key(key) => RpcRequest::AuthKey { key: key.clone() },
        };
        (request.name(), request.to_args())
    }

    /// The `Authorization` header for REST.
    pub(crate) fn authorization(&self) -> String {
        match self {
            Credentials::Password { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            Credentials::Token(secret) | Credentials::Key(secret) => format!("Bearer {secret}"),
        }
    }
}
