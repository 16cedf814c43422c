//! The cryptographic primitives of authentication in one place: argon2id
//! password hashes, SHA-256 keys for tokens and cached credentials, and
//! randomness from the operating system.

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    hash_password_in(&mut Vec::new(), params, password)
}

/// [`hash_password`] in the working memory `memory` (grown to the size the
/// cost needs, and left so for the caller's next hash).
///
/// The hashes sysadmd makes in a row at its start (the first admin's and the
/// one unknown users are verified against) share one: glibc gives the first
/// 7 MiB block its own mapping and returns it when it is freed, but raises
/// its mmap threshold to that size, so a second block allocated afresh was
/// carved from the main heap and kept there, idle, for the life of the
/// process (7 MiB of an idle daemon's 15).
pub(crate) fn hash_password_in(
    memory: &mut Vec<Block>,
    params: HashParams,
    password: &str,
) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|error| anyhow::anyhow!("cannot make a salt: {error}"))?;
    hash_with_salt(memory, params, password, &salt)
}

/// [`hash_password_in`] with this salt: the PHC string argon2's own
/// `PasswordHasher` makes of the same input.
fn hash_with_salt(
    memory: &mut Vec<Block>,
    params: HashParams,
    password: &str,
    salt: &SaltString,
) -> anyhow::Result<String> {
    let hasher = params.hasher()?;
    let blocks = hasher.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let cannot =
        |error: &dyn std::fmt::Display| anyhow::anyhow!("cannot hash the password: {error}");
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| cannot(&e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hasher
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut output,
            &mut memory[..blocks],
        )
        .map_err(|e| cannot(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(hasher.params()).map_err(|e| cannot(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| cannot(&e))?),
    };
    Ok(hash.to_string())
}

thread_local! {
    /// argon2's working memory, kept by each thread that verifies passwords
    /// (in the server, the hash threads) and reused by every check. Allocated
    /// afresh for each check (as `Argon2::verify_password` does), 7 MiB
    /// blocks raised glibc's dynamic mmap threshold and were then carved from
    /// the threads' malloc arenas, which a login flood fragmented to 120 MiB.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The priority of the threads that hash passwords: the lowest. Lowers the
/// calling thread's scheduling priority (see
/// [`crate::lanes::lower_this_thread`]), so that a flood of password guesses,
/// which keeps the hash threads busy, does not delay the requests that need
/// no hash (issue 16: a login flood raised an authenticated client's p99 from
/// 0.25 to 7 ms while two hash threads at the workers' priority shared two
/// cores with them). Logins still progress on a busy host.
pub(crate) fn yield_to_requests() {
    crate::lanes::lower_this_thread();
}

/// Whether `password` matches the PHC string `hash`. A hash that does not
/// parse matches nothing.
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    verify_in_kept_memory(hash, password).unwrap_or(false)
}

/// [`verify_password`], `None` when `hash` is not an argon2 PHC string this
/// crate can check. The algorithm, version and cost come from the PHC string.
fn verify_in_kept_memory(hash: &str, password: &str) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).ok()?;
    let expected = parsed.hash?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let hasher = Argon2::new(algorithm, version, params.clone());
    let mut computed = vec![0u8; expected.len()];
    WORKING_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        hasher
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut computed,
                &mut memory[..params.block_count()],
            )
            .ok()
    })?;
    // `Output`'s equality is constant-time.
    Some(Output::new(&computed).ok()? == expected)
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

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// What the argon2 crate's own verifier says, to hold ours against.
    fn reference(hash: &str, password: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }

    #[test]
    fn hashes_are_the_phc_strings_of_the_argon2_crate_and_share_one_working_memory() {
        let salt = SaltString::encode_b64(&[9; 16]).unwrap();
        let mut memory = Vec::new();
        for params in [
            HashParams::fast_for_tests(),
            HashParams {
                memory_kib: 256,
                iterations: 2,
                lanes: 2,
            },
            HashParams::fast_for_tests(),
        ] {
            let ours = hash_with_salt(&mut memory, params, "right horse", &salt).unwrap();
            let theirs = params
                .hasher()
                .unwrap()
                .hash_password(b"right horse", &salt)
                .unwrap()
                .to_string();
            assert_eq!(ours, theirs);
            assert!(reference(&ours, "right horse"));
            assert!(!reference(&ours, "wrong horse"));
        }
        // The larger cost's memory was kept for the smaller one after it.
        assert_eq!(memory.len(), 256);
        let fresh = hash_password(HashParams::fast_for_tests(), "battery").unwrap();
        assert!(fresh.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{fresh}");
        assert!(verify_password(&fresh, "battery"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_hash_thread_runs_at_the_lowest_priority_and_only_it() {
        use crate::lanes::{SCHED_IDLE, own_policy};
        let before = own_policy();
        assert_ne!(
            before, SCHED_IDLE,
            "the tests must not run in SCHED_IDLE for this to show anything"
        );
        let hashing = std::thread::spawn(|| {
            yield_to_requests();
            own_policy()
        })
        .join()
        .unwrap();
        assert_eq!(hashing, SCHED_IDLE);
        // The thread that spawned it keeps its priority.
        assert_eq!(own_policy(), before);
    }

    #[test]
    fn verification_in_kept_memory_agrees_with_the_argon2_crate() {
        let small = HashParams::fast_for_tests();
        let larger = HashParams {
            memory_kib: 256,
            iterations: 2,
            lanes: 2,
        };
        let salt = SaltString::encode_b64(&[7; 16]).unwrap();
        let other_kinds = [Algorithm::Argon2i, Algorithm::Argon2d].map(|algorithm| {
            let params = Params::new(64, 1, 1, Some(24)).unwrap();
            Argon2::new(algorithm, Version::V0x10, params)
                .hash_password(b"right horse", &salt)
                .unwrap()
                .to_string()
        });
        let hashes = [
            hash_password(larger, "right horse").unwrap(),
            hash_password(small, "right horse").unwrap(),
            other_kinds[0].clone(),
            other_kinds[1].clone(),
        ];
        // Larger memory first, then smaller: the kept memory is reused.
        for hash in &hashes {
            for password in ["right horse", "wrong horse", "", "right horse "] {
                assert_eq!(
                    verify_password(hash, password),
                    reference(hash, password),
                    "{hash} with {password:?}"
                );
            }
            assert!(verify_password(hash, "right horse"), "{hash}");
        }
        for garbage in ["", "plain text", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"] {
            assert!(!verify_password(garbage, ""), "{garbage:?}");
        }
    }
}
