//! The cryptographic primitives of authentication in one place: argon2id
//! password hashes, SHA-256 keys for tokens and cached credentials, and
//! randomness from the operating system.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The cost of new argon2id password hashes. Verification always uses the
/// cost written in the stored hash, so changing it only affects new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Degree of parallelism.
    pub lanes: u32,
}

impl Default for HashParams {
    /// 7 MiB, 5 iterations, 1 lane: one of the argon2id settings the OWASP
    /// Password Storage Cheat Sheet lists as equivalent in strength (with
    /// 19 MiB and 2 iterations, the argon2 crate's default). The smaller
    /// working memory matters for a small daemon: the C allocator keeps it
    /// after the first login, and 19 MiB tripled the idle resident size.
    fn default() -> Self {
        HashParams {
            memory_kib: 7 * 1024,
            iterations: 5,
            lanes: 1,
        }
    }
}

impl HashParams {
    /// A cheap cost for tests. Never use it for real passwords.
    pub fn fast_for_tests() -> Self {
        HashParams {
            memory_kib: 64,
            iterations: 1,
            lanes: 1,
        }
    }

    fn hasher(self) -> anyhow::Result<Argon2<'static>> {
        let params =
            Params::new(self.memory_kib, self.iterations, self.lanes, None).map_err(|error| {
                anyhow::anyhow!(
                    "invalid argon2 cost (memory {} KiB, {} iterations, {} lanes): {error}",
                    self.memory_kib,
                    self.iterations,
                    self.lanes
                )
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=...`), with a fresh salt.
pub(crate) fn hash_password(params: HashParams, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|error| anyhow::anyhow!("cannot make a salt: {error}"))?;
    params
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("cannot hash the password: {error}"))
}

/// Whether `password` matches the PHC string `hash`. A hash that does not
/// parse matches nothing.
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    // The algorithm, version and cost come from the PHC string itself.
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// SHA-256 of `bytes`: the key under which tokens and cached credentials are stored.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without a working random source no token or salt is safe: stop rather than go on.
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// A new session token: 32 random bytes as 64 lowercase hex digits.
pub(crate) fn new_token() -> String {
    use std::fmt::Write;
    random_bytes::<32>()
        .iter()
        .fold(String::with_capacity(64), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

/// A random password of 24 characters from the URL-safe base64 alphabet (144 bits).
pub(crate) fn generate_password() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<18>())
}

impl HashParams {
    /// The cost written in a PHC string, `None` if it is not an argon2 hash.
    pub(crate) fn of_hash(hash: &str) -> Option<HashParams> {
        let parsed = PasswordHash::new(hash).ok()?;
        let params = Params::try_from(&parsed).ok()?;
        Some(HashParams {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            lanes: params.p_cost(),
        })
    }
}
