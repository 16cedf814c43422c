//! Who may talk to sysadmd: users with argon2id password hashes and roles,
//! session tokens, HTTP Basic and Bearer, and lockout of addresses that keep
//! failing. The server calls [`Auth`]; `sysadmd user ...` calls
//! [`run_user_command`].
//!
//! * Users live in `users.toml` in the state directory (mode 0600, replaced
//!   atomically). A running server checks the file at most once per
//!   [`AuthConfig::users_reload_interval`] (a second by default) and reloads
//!   it when its inode, size or times changed, so `sysadmd user ...` takes
//!   effect without a restart.
//! * Tokens are 32 bytes from the operating system's CSPRNG, sent as hex and
//!   stored only as a SHA-256 hash; lookup is exact and the stored hash is
//!   compared in constant time. Lifetimes slide: each use extends them.
//! * A verified Basic credential is cached under the SHA-256 of the header
//!   for one token lifetime, so REST is not bounded by argon2.
//! * A token or cached credential remembers the password hash it was granted
//!   under: a password change or a removal voids it at once.
//! * Failed logins are counted per exact address in a bounded table. No lock
//!   is held while a password is hashed.

mod cmd;
mod grants;
mod hash;
mod lockout;
mod unblock;
mod users;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use sysadm_proto::ErrorCode;

pub use cmd::{MIN_PASSWORD_CHARS, UserCommand, run_user_command, run_user_command_with};
pub use hash::HashParams;
pub use unblock::UNBLOCK_FILE;
pub use users::USERS_FILE;

use grants::{Grant, Grants};
use lockout::Lockout;
use users::{DirLock, Stamp, UserEntry, UserMap};

/// Where a generated first password is written, in the state directory.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";
/// The name of the user created on first start.
pub const FIRST_USER: &str = "admin";
/// Most tokens (and, separately, cached Basic credentials) kept at once.
const MAX_GRANTS: usize = 100_000;

/// Authentication settings. `Default` has the reference server's numbers.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Sliding token lifetime; also how long a verified Basic credential is cached.
    pub token_lifetime: Duration,
    /// Failures from one address that block it (0: never block).
    pub max_failures: u32,
    /// Failures count towards a block while each is within this time of the previous.
    pub failure_window: Duration,
    /// How long a block lasts.
    pub block_duration: Duration,
    /// The cost of new password hashes.
    pub hash_params: HashParams,
    /// How often, at most, the users file is checked for changes.
    pub users_reload_interval: Duration,
    /// Most addresses whose failures are remembered.
    pub max_tracked_addresses: usize,
}

impl Default for AuthConfig {
    /// 900 s tokens; 5 failures, each within 10 minutes of the previous,
    /// block an address for an hour; the users file is checked every second.
    fn default() -> Self {
        AuthConfig {
            token_lifetime: Duration::from_secs(900),
            max_failures: 5,
            failure_window: Duration::from_secs(600),
            block_duration: Duration::from_secs(3600),
            hash_params: HashParams::default(),
            users_reload_interval: Duration::from_secs(1),
            max_tracked_addresses: 100_000,
        }
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Read-only actions.
    Viewer,
}

impl Role {
    /// What `rpc/query` reports for this role.
    pub fn access(self) -> sysadm_proto::Access {
        match self {
            Role::Admin => sysadm_proto::Access::ReadWrite,
            Role::Viewer => sysadm_proto::Access::Read,
        }
    }

    /// The role's name, as in the users file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name.
    pub user: String,
    /// The user's role now.
    pub role: Role,
}

/// A logged-in session. `Debug` never shows the token.
#[derive(Clone)]
pub struct Session {
    /// Who.
    pub principal: Principal,
    /// The token to present later (64 hex digits).
    pub token: String,
    /// The token's lifetime in seconds, extended by each use.
    pub lifetime_secs: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("principal", &self.principal)
            .field("token", &"<redacted>")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish()
    }
}

/// What the first start created. `Debug` never shows the password.
#[derive(Clone)]
pub struct FirstStart {
    /// The user created ([`FIRST_USER`]).
    pub user: String,
    /// Where the generated password was written; `None` when it came from the environment.
    pub password_file: Option<PathBuf>,
    /// The generated password, to print once; `None` when it came from the environment.
    pub generated_password: Option<String>,
}

impl std::fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstStart")
            .field("user", &self.user)
            .field("password_file", &self.password_file)
            .field(
                "generated_password",
                &self.generated_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why authentication failed. The messages are safe to send to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: the same answer for both.
    #[error("invalid user name or password")]
    BadCredentials,
    /// The token is unknown, expired, cleared, or its user's password changed.
    #[error("invalid or expired token; log in again")]
    Expired,
    /// The address is blocked after repeated failures.
    #[error("too many failed logins from this address; try again in {} s", retry_after.as_secs().max(1))]
    Blocked {
        /// How long the block still lasts.
        retry_after: Duration,
    },
    /// The password is empty: refused, but not counted as a failed login (the
    /// reference GUI sends one to localhost at every start; it is no guess).
    #[error("an empty password is never accepted: send the user's password")]
    EmptyPassword,
    /// No credentials were sent.
    #[error(
        "authentication required: send 'Authorization: Basic <base64 of user:password>' or 'Authorization: Bearer <token>'"
    )]
    MissingCredentials,
    /// The credentials are not in a form sysadmd reads.
    #[error("{0}")]
    Malformed(String),
}

impl AuthError {
    /// 429 for a blocked address, else 401.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Blocked { .. } => ErrorCode::TooManyRequests,
            _ => ErrorCode::Unauthorized,
        }
    }

    /// What to tell the client.
    pub fn details(&self) -> String {
        self.to_string()
    }
}

/// An authentication event for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthAudit {
    /// A login, token or credential was refused (and counted against the address).
    Failed {
        /// From where.
        peer: IpAddr,
        /// The user name tried, if there was one.
        user: Option<String>,
    },
    /// An address was blocked after repeated failures.
    Blocked {
        /// The address.
        peer: IpAddr,
    },
    /// An admin lifted blocks with `sysadmd unblock`.
    Unblocked {
        /// `all`, or the addresses asked for, comma-separated.
        addresses: String,
        /// How many blocks were in force and are now lifted.
        lifted: usize,
    },
}

/// Asks the server running on `state_dir` to lift the blocks of `addrs`, or
/// every block with `all` (`sysadmd unblock`). It does so at the next request
/// it checks against the blocks, within a second.
pub fn request_unblock(state_dir: &Path, addrs: &[IpAddr], all: bool) -> Result<()> {
    let what = if all {
        unblock::Unblock::All
    } else {
        unblock::Unblock::Addrs(addrs.to_vec())
    };
    unblock::request(state_dir, &what)
}

type AuditHook = Arc<dyn Fn(AuthAudit) + Send + Sync>;

/// The users as last read, and when the file was last looked at.
#[derive(Debug)]
struct Users {
    entries: Arc<UserMap>,
    stamp: Option<Stamp>,
    checked: Instant,
}

/// The authentication state of a running server. `Send + Sync`: share it in an `Arc`.
pub struct Auth {
    users_path: PathBuf,
    state_dir: PathBuf,
    /// When the state directory was last looked at for an unblock request.
    unblock_checked: Mutex<Instant>,
    config: AuthConfig,
    users: Mutex<Users>,
    tokens: Grants,
    basic: Grants,
    lockout: Lockout,
    /// Unknown users are checked against this, so they take as long as known ones.
    dummy_hash: String,
    audit: Mutex<Option<AuditHook>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("users_path", &self.users_path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` (and its parents), readable by its owner only, if missing.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere is no reason to stop.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Auth {
    /// Opens the users of `state_dir`. On first start (no users file) creates
    /// [`FIRST_USER`] with the password in `SYSADMD_ADMIN_PASSWORD`, or a
    /// generated one written to [`ADMIN_PASSWORD_FILE`].
    pub fn open(state_dir: &Path, config: AuthConfig) -> Result<(Auth, Option<FirstStart>)> {
        let password = std::env::var("SYSADMD_ADMIN_PASSWORD").ok();
        Auth::open_with_admin_password(state_dir, config, password)
    }

    /// [`Auth::open`] with the first admin's password given instead of read
    /// from the environment (`None` or empty: generate one).
    pub fn open_with_admin_password(
        state_dir: &Path,
        config: AuthConfig,
        admin_password: Option<String>,
    ) -> Result<(Auth, Option<FirstStart>)> {
        create_private_dir(state_dir)?;
        let users_path = state_dir.join(USERS_FILE);
        let first_start = {
            let _lock = DirLock::acquire(state_dir)?;
            if users_path.exists() {
                None
            } else {
                Some(first_start(
                    state_dir,
                    &users_path,
                    &config,
                    admin_password,
                )?)
            }
        };
        let stamp = users::stamp(&users_path);
        let entries = users::read_users(&users_path)?;
        // Unknown users are verified against a hash of the same cost as real
        // ones, so the time of a reply does not tell whether a user exists.
        let dummy_params = entries
            .values()
            .find_map(|entry| HashParams::of_hash(&entry.hash))
            .unwrap_or(config.hash_params);
        let dummy_hash = hash::hash_password(dummy_params, &hash::generate_password())?;
        let auth = Auth {
            users: Mutex::new(Users {
                entries: Arc::new(entries),
                stamp,
                checked: Instant::now(),
            }),
            tokens: Grants::new(MAX_GRANTS),
            basic: Grants::new(MAX_GRANTS),
            lockout: Lockout::new(
                config.max_failures,
                config.failure_window,
                config.block_duration,
                config.max_tracked_addresses,
            ),
            users_path,
            state_dir: state_dir.to_owned(),
            unblock_checked: Mutex::new(Instant::now()),
            config,
            dummy_hash,
            audit: Mutex::new(None),
        };
        Ok((auth, first_start))
    }

    /// Sends failed logins and blocks to `hook` (for the audit log), besides
    /// the `tracing` warning each gets. Replaces an earlier hook.
    pub fn set_audit_hook(&self, hook: impl Fn(AuthAudit) + Send + Sync + 'static) {
        *lock(&self.audit) = Some(Arc::new(hook));
    }

    /// The sliding token lifetime.
    pub fn token_lifetime(&self) -> Duration {
        self.config.token_lifetime
    }

    /// Whether `peer` is blocked now.
    pub fn is_blocked(&self, peer: IpAddr) -> bool {
        self.lockout.blocked_for(canonical(peer)).is_some()
    }

    /// [`AuthError::Blocked`], with the time left, if `peer` is blocked now.
    pub fn check_not_blocked(&self, peer: IpAddr) -> Result<(), AuthError> {
        self.refuse_if_blocked(canonical(peer))
    }

    /// `rpc/auth`: checks the password and issues a new token.
    pub fn login(
        &self,
        peer: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Session, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        match self.check_password(username, password) {
            Some((principal, password_hash)) => {
                self.lockout.reset(peer);
                Ok(self.issue(principal, password_hash))
            }
            None => Err(self.fail(peer, Some(username), AuthError::BadCredentials)),
        }
    }

    /// `rpc/auth_token`: re-authenticates with a saved token; the same token,
    /// its lifetime extended. A refused token counts as a failed login.
    pub fn resume(&self, peer: IpAddr, token: &str) -> Result<Session, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        match self.touch(token) {
            Ok(principal) => {
                self.lockout.reset(peer);
                Ok(Session {
                    principal,
                    token: token.to_owned(),
                    lifetime_secs: self.config.token_lifetime.as_secs(),
                })
            }
            Err(error) => Err(self.fail(peer, None, error)),
        }
    }

    /// Validates a token and extends its lifetime: each WebSocket request
    /// after login. Does not count failures (the token was accepted before).
    pub fn touch(&self, token: &str) -> Result<Principal, AuthError> {
        let grant = self
            .tokens
            .get(token.as_bytes(), Some(self.config.token_lifetime))
            .ok_or(AuthError::Expired)?;
        self.still_valid(&grant).ok_or_else(|| {
            self.tokens.remove(token.as_bytes());
            AuthError::Expired
        })
    }

    /// `rpc/auth_clear`: forgets a token. Unknown tokens are ignored.
    pub fn clear(&self, token: &str) {
        self.tokens.remove(token.as_bytes());
    }

    /// REST: checks an `Authorization` header, `Basic <base64 of user:password>`
    /// or `Bearer <token>` (a token from `rpc/auth`). Refused credentials and
    /// tokens count as failed logins; a missing header or an unknown scheme do not.
    pub fn authorize_header(
        &self,
        peer: IpAddr,
        authorization: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        let header = authorization
            .map(str::trim)
            .filter(|header| !header.is_empty())
            .ok_or(AuthError::MissingCredentials)?;
        let (scheme, credentials) = header
            .split_once(|c: char| c.is_ascii_whitespace())
            .map_or((header, ""), |(scheme, rest)| (scheme, rest.trim()));
        if scheme.eq_ignore_ascii_case("bearer") {
            return self
                .touch(credentials)
                .map_err(|error| self.fail(peer, None, error));
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Malformed(format!(
                "unsupported authorization scheme '{}': use Basic or Bearer",
                scheme.chars().take(20).collect::<String>().escape_debug()
            )));
        }
        if let Some(grant) = self.basic.get(header.as_bytes(), None) {
            if let Some(principal) = self.still_valid(&grant) {
                return Ok(principal);
            }
            self.basic.remove(header.as_bytes());
        }
        let Some((user, password)) = decode_basic(credentials) else {
            let error = AuthError::Malformed(
                "malformed Basic credentials: send the base64 of 'user:password'".to_owned(),
            );
            return Err(self.fail(peer, None, error));
        };
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        match self.check_password(&user, &password) {
            Some((principal, password_hash)) => {
                self.lockout.reset(peer);
                self.basic.insert(
                    header.as_bytes(),
                    Grant {
                        user: principal.user.clone(),
                        password_hash,
                        expires: Instant::now() + self.config.token_lifetime,
                    },
                );
                Ok(principal)
            }
            None => Err(self.fail(peer, Some(&user), AuthError::BadCredentials)),
        }
    }

    /// How many tokens are stored (expired ones included until swept).
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// How many addresses have failures on record.
    pub fn tracked_addresses(&self) -> usize {
        self.lockout.len()
    }

    /// The current users, re-reading the file if it changed and a check is due.
    fn users(&self) -> Arc<UserMap> {
        let due = {
            let mut users = lock(&self.users);
            let due = users.checked.elapsed() >= self.config.users_reload_interval;
            if due {
                users.checked = Instant::now();
            }
            due
        };
        if due {
            self.reload_if_changed();
        }
        Arc::clone(&lock(&self.users).entries)
    }

    /// Reads the users file now if it changed (SIGHUP), instead of within a second.
    pub fn reload_users(&self) {
        lock(&self.users).checked = Instant::now();
        self.reload_if_changed();
    }

    /// Reloads the users file if its stamp changed, and voids the grants of
    /// users removed or with a new password. The file is read without a lock held.
    fn reload_if_changed(&self) {
        let stamp = users::stamp(&self.users_path);
        if stamp == lock(&self.users).stamp {
            return;
        }
        let entries = match users::read_users(&self.users_path) {
            Ok(entries) => Arc::new(entries),
            Err(error) => {
                // Remember this version, so the error is logged once per change, not every second.
                lock(&self.users).stamp = stamp;
                tracing::error!(
                    error = format!("{error:#}"),
                    "the users file changed but cannot be read; keeping the users read before"
                );
                return;
            }
        };
        let old = {
            let mut users = lock(&self.users);
            users.stamp = stamp;
            std::mem::replace(&mut users.entries, Arc::clone(&entries))
        };
        tracing::info!(path = %self.users_path.display(), users = entries.len(), "users file reloaded");
        let changed = |name: &str| {
            old.get(name).map(|entry| &entry.hash) != entries.get(name).map(|entry| &entry.hash)
        };
        if old.keys().any(|name| changed(name)) {
            let void = |grant: &Grant| {
                entries
                    .get(&grant.user)
                    .is_none_or(|entry| entry.hash != grant.password_hash)
            };
            self.tokens.remove_where(void);
            self.basic.remove_where(void);
        }
    }

    /// The user's principal and password hash if `password` is right. No
    /// lock is held while hashing. Unknown users are checked against a dummy
    /// hash, so they take as long.
    fn check_password(&self, user: &str, password: &str) -> Option<(Principal, String)> {
        let users = self.users();
        match users.get(user) {
            Some(UserEntry { role, hash }) => hash::verify_password(hash, password).then(|| {
                (
                    Principal {
                        user: user.to_owned(),
                        role: *role,
                    },
                    hash.clone(),
                )
            }),
            None => {
                hash::verify_password(&self.dummy_hash, password);
                None
            }
        }
    }

    /// The grant's user with their current role, if they still exist with
    /// the password the grant was made under.
    fn still_valid(&self, grant: &Grant) -> Option<Principal> {
        let users = self.users();
        let entry = users.get(&grant.user)?;
        bool::from(entry.hash.as_bytes().ct_eq(grant.password_hash.as_bytes())).then(|| Principal {
            user: grant.user.clone(),
            role: entry.role,
        })
    }

    fn issue(&self, principal: Principal, password_hash: String) -> Session {
        let token = hash::new_token();
        self.tokens.insert(
            token.as_bytes(),
            Grant {
                user: principal.user.clone(),
                password_hash,
                expires: Instant::now() + self.config.token_lifetime,
            },
        );
        Session {
            principal,
            token,
            lifetime_secs: self.config.token_lifetime.as_secs(),
        }
    }

    fn refuse_if_blocked(&self, peer: IpAddr) -> Result<(), AuthError> {
        self.apply_unblock_request();
        match self.lockout.blocked_for(peer) {
            Some(retry_after) => Err(AuthError::Blocked { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failure of `peer` and reports it. Returns the error to answer
    /// with: `error`, or [`AuthError::Blocked`] when this failure started a block.
    fn fail(&self, peer: IpAddr, user: Option<&str>, error: AuthError) -> AuthError {
        tracing::warn!(%peer, user = user.unwrap_or(""), reason = %error, "authentication failed");
        self.audit(AuthAudit::Failed {
            peer,
            user: user.map(str::to_owned),
        });
        match self.lockout.record_failure(peer) {
            Some(retry_after) => {
                tracing::warn!(%peer, block_secs = retry_after.as_secs(), "address blocked after repeated failed logins");
                self.audit(AuthAudit::Blocked { peer });
                AuthError::Blocked { retry_after }
            }
            None => error,
        }
    }

    /// Applies a `sysadmd unblock` request, if one is waiting (looked for
    /// at most once per users reload interval).
    fn apply_unblock_request(&self) {
        {
            let mut checked = lock(&self.unblock_checked);
            if checked.elapsed() < self.config.users_reload_interval {
                return;
            }
            *checked = Instant::now();
        }
        let Some(request) = unblock::take(&self.state_dir) else {
            return;
        };
        let (lifted, what) = match &request {
            unblock::Unblock::All => (self.lockout.lift(None), "all".to_owned()),
            unblock::Unblock::Addrs(addrs) => {
                let addrs: Vec<IpAddr> = addrs.iter().copied().map(canonical).collect();
                let what = addrs
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                (self.lockout.lift(Some(&addrs)), what)
            }
        };
        tracing::info!(addresses = %what, lifted, "login blocks lifted by `sysadmd unblock`");
        self.audit(AuthAudit::Unblocked {
            addresses: what,
            lifted,
        });
    }

    fn audit(&self, event: AuthAudit) {
        // Call the hook without holding the lock, so it may use this Auth.
        let hook = lock(&self.audit).clone();
        if let Some(hook) = hook {
            hook(event);
        }
    }
}

/// IPv4 addresses reached over an IPv6 socket count as the IPv4 address.
fn canonical(peer: IpAddr) -> IpAddr {
    peer.to_canonical()
}

/// `user` and `password` from the credentials of a Basic header. Padding is optional.
fn decode_basic(credentials: &str) -> Option<(String, String)> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(credentials).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Creates the first user; the users file does not exist yet.
fn first_start(
    state_dir: &Path,
    users_path: &Path,
    config: &AuthConfig,
    admin_password: Option<String>,
) -> Result<FirstStart> {
    let (password, password_file) = match admin_password.filter(|password| !password.is_empty()) {
        Some(password) => (password, None),
        None => {
            let password = hash::generate_password();
            let file = state_dir.join(ADMIN_PASSWORD_FILE);
            users::write_private(&file, format!("{password}\n").as_bytes())?;
            (password, Some(file))
        }
    };
    let entry = UserEntry {
        role: Role::Admin,
        hash: hash::hash_password(config.hash_params, &password)?,
    };
    users::write_users(users_path, &UserMap::from([(FIRST_USER.to_owned(), entry)]))?;
    tracing::info!(user = FIRST_USER, path = %users_path.display(), "first start: created the users file");
    Ok(FirstStart {
        user: FIRST_USER.to_owned(),
        generated_password: password_file.as_ref().map(|_| password),
        password_file,
    })
}
