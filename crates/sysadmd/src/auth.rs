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
//! * Failed logins are counted per address (IPv6 per /64) and per user name,
//!   in bounded tables, and the server checks at most
//!   [`AuthConfig::password_checks_per_sec`] passwords a second. A user name
//!   under attack is guarded, not blocked: one try a second from strangers,
//!   while the networks the user logged in from before go straight through.
//!   No lock is held while a password is hashed, and the server hashes on
//!   its own two threads ([`Auth::login_offloaded`]), at the lowest
//!   scheduling priority, so that a flood of guesses does not take the CPU
//!   from requests that need no hash.
//! * The audit log gets a network's first failure of a window and its block,
//!   at most [`AUDIT_FAILURES_PER_SEC`] failure lines a second; the lines
//!   left out are counted in the next one (`suppressed`).

mod cmd;
mod grants;
mod hash;
mod keys;
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
pub use keys::{KEY_PREFIX, KEYS_FILE, KeyCommand, KeyScope, run_key_command};
pub use unblock::UNBLOCK_FILE;
pub use users::USERS_FILE;

use grants::{Grant, Grants};
pub(crate) use lockout::network;
use lockout::{Budget, KnownNetworks, Lockout};
use users::{DirLock, Stamp, UserEntry, UserMap};

/// Where a generated first password is written, in the state directory.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";
/// The name of the user created on first start.
pub const FIRST_USER: &str = "admin";
/// Most tokens (and, separately, cached Basic credentials) kept at once.
const MAX_GRANTS: usize = 100_000;
/// Most `login_failed` audit lines a second; the others are counted.
pub const AUDIT_FAILURES_PER_SEC: u32 = 10;

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
    /// Password hashes computed at once, on threads of their own ([`Auth::login_offloaded`]).
    pub hash_concurrency: usize,
    /// Failures for one user name (from any address) that guard it: then a
    /// network it never logged in from gets one try per
    /// [`AuthConfig::guarded_attempt_interval`] (0: never guard).
    pub user_max_failures: u32,
    /// How often a guarded user name may be tried from a network it never logged in from.
    pub guarded_attempt_interval: Duration,
    /// Password checks the whole server starts per second, at most, for
    /// networks a user has not logged in from before (0: no limit).
    pub password_checks_per_sec: u32,
    /// How long a network a user logged in from is remembered.
    pub known_network_lifetime: Duration,
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
            hash_concurrency: 2,
            user_max_failures: 20,
            guarded_attempt_interval: Duration::from_secs(1),
            password_checks_per_sec: 20,
            known_network_lifetime: Duration::from_secs(30 * 24 * 3600),
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
    /// For an API key (`user` is then `key:NAME`): what the key is limited to.
    pub key: Option<Arc<KeyScope>>,
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
    /// The password was not checked: too many tries for this user name, or
    /// on the whole server, right now. Not a failure; try again soon.
    #[error("{reason}; try again in {} s", retry_after.as_secs().max(1))]
    Busy {
        /// Why.
        reason: &'static str,
        /// When a try may be checked.
        retry_after: Duration,
    },
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
    /// The API key is unknown, revoked or expired.
    #[error("invalid, revoked or expired API key")]
    BadKey,
    /// The credentials are not in a form sysadmd reads.
    #[error("{0}")]
    Malformed(String),
}

impl AuthError {
    /// 429 for a blocked address or a login not checked now, else 401.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Blocked { .. } | AuthError::Busy { .. } => ErrorCode::TooManyRequests,
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
    /// A login, token or credential was refused (and counted against the
    /// address): the first of its network in a window.
    Failed {
        /// From where.
        peer: IpAddr,
        /// The user name tried, if there was one.
        user: Option<String>,
        /// Failures not written since the previous line (aggregated).
        suppressed: u64,
    },
    /// An address (IPv6: its /64) was blocked after repeated failures.
    Blocked {
        /// The address.
        peer: IpAddr,
        /// The failures that led to the block.
        failures: u32,
    },
    /// A user name is guarded after repeated failures from anywhere.
    UserGuarded {
        /// The user name.
        user: String,
        /// The failures that led to the guard.
        failures: u32,
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

/// A file as last read (the users, the keys), and when it was last looked at.
#[derive(Debug)]
struct Loaded<T> {
    entries: Arc<T>,
    stamp: Option<Stamp>,
    checked: Instant,
}

type Users = Loaded<UserMap>;

impl<T> Loaded<T> {
    /// Whether a look at the file is due, once per `interval`; marks it done.
    fn take_due(&mut self, interval: Duration) -> bool {
        let due = self.checked.elapsed() >= interval;
        if due {
            self.checked = Instant::now();
        }
        due
    }
}

/// The authentication state of a running server. `Send + Sync`: share it in an `Arc`.
pub struct Auth {
    users_path: PathBuf,
    state_dir: PathBuf,
    /// When the state directory was last looked at for an unblock request.
    unblock_checked: Mutex<Instant>,
    config: AuthConfig,
    users: Mutex<Users>,
    keys_path: PathBuf,
    keys: Mutex<Loaded<keys::KeyMap>>,
    tokens: Grants,
    basic: Grants,
    lockout: Lockout,
    /// Failures per user name (by SHA-256, so long names cost nothing).
    user_lockout: Lockout<[u8; 32]>,
    known: KnownNetworks,
    budget: Budget,
    /// Failure lines written in the current second, and failures not written.
    audit_throttle: Mutex<(Instant, u32, u64)>,
    /// Unknown users are checked against this, so they take as long as known ones.
    dummy_hash: String,
    audit: Mutex<Option<AuditHook>>,
    /// Permits to hash a password; see [`Auth::offload`].
    hash_gate: Arc<tokio::sync::Semaphore>,
    /// Work for the hash threads: as many threads as permits, kept for the
    /// life of the server. Not tokio's blocking pool: it starts new threads
    /// freely, and each kept argon2's working memory in its own malloc arena
    /// (a login flood reached 186 MiB resident).
    hash_pool: Mutex<std::sync::mpsc::Sender<HashJob>>,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Starts `count` threads that run hash jobs until the sender is dropped.
fn hash_threads(count: usize) -> Result<std::sync::mpsc::Sender<HashJob>> {
    let (sender, receiver) = std::sync::mpsc::channel::<HashJob>();
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..count {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("sysadmd-hash-{index}"))
            .spawn(move || {
                hash::yield_to_requests();
                loop {
                    let job = lock(&receiver).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                }
            })
            .context("cannot start the password hashing threads")?;
    }
    Ok(sender)
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
    crate::modes::create_private_dir(dir)
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
        // The start's hashes share one working memory (hash::hash_password_in).
        let mut hash_memory = Vec::new();
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
                    &mut hash_memory,
                )?)
            }
        };
        crate::modes::check_private(&users_path, "users file")?;
        let stamp = users::stamp(&users_path);
        let entries = users::read_users(&users_path)?;
        // Unknown users are verified against a hash of the same cost as real
        // ones, so the time of a reply does not tell whether a user exists.
        let dummy_params = entries
            .values()
            .find_map(|entry| HashParams::of_hash(&entry.hash))
            .unwrap_or(config.hash_params);
        let dummy_hash =
            hash::hash_password_in(&mut hash_memory, dummy_params, &hash::generate_password())?;
        drop(hash_memory);
        let keys_path = state_dir.join(KEYS_FILE);
        if keys_path.exists() {
            crate::modes::check_private(&keys_path, "keys file")?;
        }
        let key_entries = keys::read_keys(&keys_path)?;
        let auth = Auth {
            keys: Mutex::new(Loaded {
                stamp: users::stamp(&keys_path),
                entries: Arc::new(key_entries),
                checked: Instant::now(),
            }),
            keys_path,
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
            hash_gate: Arc::new(tokio::sync::Semaphore::new(config.hash_concurrency.max(1))),
            hash_pool: Mutex::new(hash_threads(config.hash_concurrency.max(1))?),
            user_lockout: Lockout::new(
                config.user_max_failures,
                config.failure_window,
                config.block_duration,
                config.max_tracked_addresses,
            ),
            known: KnownNetworks::new(config.known_network_lifetime, config.max_tracked_addresses),
            budget: Budget::new(config.password_checks_per_sec),
            audit_throttle: Mutex::new((Instant::now(), 0, 0)),
            users_path,
            state_dir: state_dir.to_owned(),
            unblock_checked: Mutex::new(Instant::now()),
            config,
            dummy_hash,
            audit: Mutex::new(None),
        };
        Ok((auth, first_start))
    }

    /// Runs `work` (a call that hashes a password: [`Auth::login`], or
    /// [`Auth::authorize_header`] when [`Auth::basic_lookup`] says so) on a
    /// hash thread, at most [`AuthConfig::hash_concurrency`] at once.
    /// argon2 takes milliseconds of CPU: on the async workers, a few clients
    /// failing logins slowed every other request. Waiting for a permit is
    /// asynchronous, so requests that need no hash are not held up. The permit
    /// goes with the work, so a client that hangs up does not free it early.
    async fn offload<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Auth) -> T + Send + 'static,
    ) -> T {
        let permit = Arc::clone(&self.hash_gate)
            .acquire_owned()
            .await
            .expect("the hash gate is never closed");
        let auth = Arc::clone(self);
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _permit = permit;
            let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&auth)));
            let _ = done.send(value);
        });
        lock(&self.hash_pool)
            .send(job)
            .expect("the hash threads live as long as Auth");
        match result.await.expect("a hash thread answers every job") {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// What [`Auth::authorize_header`] would do with this header: answer
    /// from a cached Basic credential (the principal, from one lookup and no
    /// decoding: only credentials that decoded and checked are cached), hash
    /// a password (Basic credentials that are not cached, or no longer
    /// valid), or answer at once (everything else).
    fn basic_lookup(&self, authorization: Option<&str>) -> BasicLookup {
        let Some(header) = authorization.map(str::trim) else {
            return BasicLookup::Other;
        };
        let Some((scheme, credentials)) = header.split_once(|c: char| c.is_ascii_whitespace())
        else {
            return BasicLookup::Other;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return BasicLookup::Other;
        }
        if let Some(principal) = self
            .basic
            .get(header.as_bytes(), None)
            .and_then(|grant| self.still_valid(&grant))
        {
            return BasicLookup::Cached(principal);
        }
        if decode_basic(credentials.trim()).is_none() {
            return BasicLookup::Other;
        }
        BasicLookup::NeedsHash
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

    /// Whether `peer` (IPv6: its /64) is blocked now.
    pub fn is_blocked(&self, peer: IpAddr) -> bool {
        self.lockout.blocked_for(&network(peer)).is_some()
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
        // Refused, but not counted: an empty password is no guess (issue 15).
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        self.admit(peer, username)?;
        self.login_admitted(peer, username, password)
    }

    /// [`Auth::login`] with the password hashed on a hash thread, at most
    /// [`AuthConfig::hash_concurrency`] at once, so the async workers keep
    /// serving requests that need no hash. What is refused without a hash
    /// (a blocked address, a guarded user, the server-wide budget) is refused
    /// before any wait.
    pub async fn login_offloaded(
        self: &Arc<Self>,
        peer: IpAddr,
        username: String,
        password: String,
    ) -> Result<Session, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        // Refused, but not counted: an empty password is no guess (issue 15).
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        self.admit(peer, &username)?;
        self.offload(move |auth| auth.login_admitted(peer, &username, &password))
            .await
    }

    fn login_admitted(
        &self,
        peer: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Session, AuthError> {
        match self.check_password(username, password) {
            Some((principal, password_hash)) => {
                self.succeeded(peer, &principal.user);
                Ok(self.issue(principal, password_hash))
            }
            None => Err(self.fail(peer, Some(username), AuthError::BadCredentials)),
        }
    }

    /// Whether a password for `user` from `peer` may be checked now: always
    /// from a network the user logged in from before; otherwise not while the
    /// user name is guarded and tried within the last interval, and not past
    /// the server-wide budget.
    fn admit(&self, peer: IpAddr, user: &str) -> Result<(), AuthError> {
        if self.known.contains(user, network(peer)) {
            return Ok(());
        }
        self.user_lockout
            .take_guarded_attempt(
                &hash::sha256(user.as_bytes()),
                self.config.guarded_attempt_interval,
            )
            .map_err(|retry_after| AuthError::Busy {
                reason: "too many failed logins for this user name: from an address it has not \
                         logged in from before, one try is checked per second",
                retry_after,
            })?;
        self.budget.take().map_err(|retry_after| AuthError::Busy {
            reason: "too many password checks on this server right now",
            retry_after,
        })
    }

    /// After a correct password: the network's failures are forgotten and it
    /// is remembered as one the user logs in from.
    fn succeeded(&self, peer: IpAddr, user: &str) {
        self.lockout.reset(&network(peer));
        self.known.remember(user, network(peer));
    }

    /// `rpc/auth_token`: re-authenticates with a saved token; the same token,
    /// its lifetime extended. A refused token counts as a failed login.
    pub fn resume(&self, peer: IpAddr, token: &str) -> Result<Session, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        match self.touch(token) {
            Ok(principal) => {
                self.lockout.reset(&network(peer));
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
        if scheme.eq_ignore_ascii_case("bearer") && credentials.starts_with(KEY_PREFIX) {
            return self.authorize_key(peer, credentials);
        }
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
        // Refused, but not counted: an empty password is no guess (issue 15).
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        self.admit(peer, &user)?;
        self.basic_admitted(peer, header, &user, &password)
    }

    /// [`Auth::authorize_header`], with a password (uncached Basic
    /// credentials) hashed as [`Auth::login_offloaded`] hashes it; everything
    /// else is answered at once.
    pub async fn authorize_header_offloaded(
        self: &Arc<Self>,
        peer: IpAddr,
        authorization: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let peer = match self.basic_lookup(authorization) {
            BasicLookup::Cached(principal) => {
                self.refuse_if_blocked(canonical(peer))?;
                return Ok(principal);
            }
            BasicLookup::Other => return self.authorize_header(peer, authorization),
            BasicLookup::NeedsHash => canonical(peer),
        };
        self.refuse_if_blocked(peer)?;
        let header = authorization.unwrap_or_default().trim().to_owned();
        let credentials = header
            .split_once(|c: char| c.is_ascii_whitespace())
            .map_or("", |(_, rest)| rest.trim());
        let (user, password) = decode_basic(credentials)
            .ok_or_else(|| AuthError::Malformed("malformed Basic credentials".to_owned()))?;
        // Refused, but not counted: an empty password is no guess (issue 15).
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        self.admit(peer, &user)?;
        self.offload(move |auth| auth.basic_admitted(peer, &header, &user, &password))
            .await
    }

    fn basic_admitted(
        &self,
        peer: IpAddr,
        header: &str,
        user: &str,
        password: &str,
    ) -> Result<Principal, AuthError> {
        match self.check_password(user, password) {
            Some((principal, password_hash)) => {
                self.succeeded(peer, &principal.user);
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
            None => Err(self.fail(peer, Some(user), AuthError::BadCredentials)),
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
        let due = lock(&self.users).take_due(self.config.users_reload_interval);
        if due {
            self.reload_if_changed();
        }
        Arc::clone(&lock(&self.users).entries)
    }

    /// Reads the users and keys files now if they changed (SIGHUP, or a key
    /// changed through the API), instead of within a second.
    pub fn reload_users(&self) {
        lock(&self.users).checked = Instant::now();
        self.reload_if_changed();
        lock(&self.keys).checked = Instant::now();
        self.reload_keys_if_changed();
    }

    /// The current keys, re-reading the file if it changed and a check is due.
    fn keys(&self) -> Arc<keys::KeyMap> {
        let due = lock(&self.keys).take_due(self.config.users_reload_interval);
        if due {
            self.reload_keys_if_changed();
        }
        Arc::clone(&lock(&self.keys).entries)
    }

    /// Reloads the keys file if its stamp changed. A file that is not
    /// private, or does not parse, keeps the keys read before (logged once).
    fn reload_keys_if_changed(&self) {
        let stamp = users::stamp(&self.keys_path);
        if stamp == lock(&self.keys).stamp {
            return;
        }
        let read = if stamp.is_none() {
            Ok(keys::KeyMap::new())
        } else {
            crate::modes::check_private(&self.keys_path, "keys file")
                .and_then(|()| keys::read_keys(&self.keys_path))
        };
        let mut loaded = lock(&self.keys);
        loaded.stamp = stamp;
        match read {
            Ok(entries) => {
                tracing::info!(path = %self.keys_path.display(), keys = entries.len(), "keys file reloaded");
                loaded.entries = Arc::new(entries);
            }
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "the keys file changed but cannot be used; keeping the keys read before"
            ),
        }
    }

    /// An API key (`Authorization: Bearer sysadm_...`, `rpc/auth_key`): its
    /// principal, `key:NAME` with the key's role and scope. A refused key
    /// counts as a failed login.
    pub fn authorize_key(&self, peer: IpAddr, secret: &str) -> Result<Principal, AuthError> {
        let peer = canonical(peer);
        self.refuse_if_blocked(peer)?;
        let wanted = keys::secret_hash(secret.trim());
        let now = keys::now_secs();
        let find = |keys: &keys::KeyMap| {
            keys.iter()
                .find(|(_, entry)| entry.matches(&wanted))
                .filter(|(_, entry)| !entry.expired(now))
                .map(|(name, entry)| (name.clone(), entry.clone()))
        };
        // A key just made with `sysadmd key create` works at once: an unknown
        // key costs one look at the file (a stat), and refused keys soon block.
        let found = find(&self.keys()).or_else(|| {
            self.reload_keys_if_changed();
            find(&self.keys())
        });
        match found.as_ref().map(|(name, entry)| (name, entry)) {
            Some((name, entry)) => Ok(Principal {
                user: format!("key:{name}"),
                role: entry.role,
                key: Some(Arc::new(KeyScope::of(name, entry))),
            }),
            None => Err(self.fail(peer, None, AuthError::BadKey)),
        }
    }

    /// A session logged in with a key, checked again on each request: the
    /// key must still exist (the same key, not one made again under its
    /// name) and not have expired. Not counted as a failure.
    pub fn recheck_key(&self, scope: &KeyScope) -> Result<Principal, AuthError> {
        let keys = self.keys();
        let entry = keys
            .get(&scope.name)
            .filter(|entry| entry.matches(&scope.hash) && !entry.expired(keys::now_secs()))
            .ok_or(AuthError::BadKey)?;
        Ok(Principal {
            user: format!("key:{}", scope.name),
            role: entry.role,
            key: Some(Arc::new(KeyScope::of(&scope.name, entry))),
        })
    }

    /// `rpc/keys create`: makes a key in the keys file; its secret is in the reply, once.
    pub fn create_key(
        &self,
        spec: &sysadm_proto::KeySpec,
        created_by: &str,
    ) -> Result<sysadm_proto::KeyCreated> {
        let created = keys::create(&self.state_dir, spec, created_by)?;
        self.reload_users();
        Ok(created)
    }

    /// `rpc/keys revoke`: the key's sessions end at their next request.
    pub fn revoke_key(&self, name: &str) -> Result<()> {
        keys::revoke(&self.state_dir, name)?;
        self.reload_users();
        Ok(())
    }

    /// `rpc/keys list`: every key (never the secrets).
    pub fn list_keys(&self) -> Vec<sysadm_proto::KeyInfo> {
        self.keys()
            .iter()
            .map(|(name, entry)| entry.info(name))
            .collect()
    }

    /// Reloads the users file if its stamp changed, and voids the grants of
    /// users removed or with a new password. The file is read without a lock held.
    fn reload_if_changed(&self) {
        let stamp = users::stamp(&self.users_path);
        if stamp == lock(&self.users).stamp {
            return;
        }
        if let Err(error) = crate::modes::check_private(&self.users_path, "users file") {
            // Remember this version, so the refusal is logged once per change.
            lock(&self.users).stamp = stamp;
            tracing::error!(
                error = format!("{error:#}"),
                "the users file changed but is not private; keeping the users read before"
            );
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
                        key: None,
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
            key: None,
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
        match self.lockout.blocked_for(&network(peer)) {
            Some(retry_after) => Err(AuthError::Blocked { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failure of `peer` and reports it. Returns the error to answer
    /// with: `error`, or [`AuthError::Blocked`] when this failure started a block.
    fn fail(&self, peer: IpAddr, user: Option<&str>, error: AuthError) -> AuthError {
        let key = network(peer);
        let first = self.lockout.failures(&key) == 0;
        match self.audit_allowance(first) {
            Some(suppressed) => {
                tracing::warn!(%peer, user = user.unwrap_or(""), reason = %error, suppressed, "authentication failed");
                self.audit(AuthAudit::Failed {
                    peer,
                    user: user.map(str::to_owned),
                    suppressed,
                });
            }
            None => {
                tracing::debug!(%peer, user = user.unwrap_or(""), reason = %error, "authentication failed");
            }
        }
        if let Some(user) = user {
            let user_key = hash::sha256(user.as_bytes());
            if self.user_lockout.record_failure(&user_key).is_some() {
                let failures = self.user_lockout.failures(&user_key);
                tracing::warn!(
                    user,
                    failures,
                    "user name guarded after repeated failed logins"
                );
                self.audit(AuthAudit::UserGuarded {
                    user: user.to_owned(),
                    failures,
                });
            }
        }
        match self.lockout.record_failure(&key) {
            Some(retry_after) => {
                let failures = self.lockout.failures(&key);
                tracing::warn!(%peer, block_secs = retry_after.as_secs(), failures, "address blocked after repeated failed logins");
                self.audit(AuthAudit::Blocked { peer, failures });
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
                // Blocks are per network (an IPv6 /64): lift the address's network.
                let networks: Vec<_> = addrs.iter().map(|addr| network(*addr)).collect();
                (self.lockout.lift(Some(&networks)), what)
            }
        };
        tracing::info!(addresses = %what, lifted, "login blocks lifted by `sysadmd unblock`");
        self.audit(AuthAudit::Unblocked {
            addresses: what,
            lifted,
        });
    }

    /// Whether a failure gets its own audit line: the first of its network in
    /// a window, and no more than [`AUDIT_FAILURES_PER_SEC`] a second. Returns
    /// the count of failures left out since the last line, and resets it.
    fn audit_allowance(&self, first_of_network: bool) -> Option<u64> {
        let mut throttle = lock(&self.audit_throttle);
        let (since, written, suppressed) = &mut *throttle;
        if since.elapsed() >= Duration::from_secs(1) {
            *since = Instant::now();
            *written = 0;
        }
        if !first_of_network || *written >= AUDIT_FAILURES_PER_SEC {
            *suppressed += 1;
            return None;
        }
        *written += 1;
        Some(std::mem::take(suppressed))
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

/// What [`Auth::basic_lookup`] found for an `Authorization` header.
enum BasicLookup {
    /// Basic credentials checked before and still valid: who they are.
    Cached(Principal),
    /// Basic credentials whose password must be hashed.
    NeedsHash,
    /// Anything else, answered without a hash.
    Other,
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
    hash_memory: &mut Vec<argon2::Block>,
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
        hash: hash::hash_password_in(hash_memory, config.hash_params, &password)?,
    };
    users::write_users(users_path, &UserMap::from([(FIRST_USER.to_owned(), entry)]))?;
    tracing::info!(user = FIRST_USER, path = %users_path.display(), "first start: created the users file");
    Ok(FirstStart {
        user: FIRST_USER.to_owned(),
        generated_password: password_file.as_ref().map(|_| password),
        password_file,
    })
}
