//! Hostile clients (issue 16): each attack that once took the host's
//! management away, run against a real server on loopback, bounded in count
//! and time, with a pass/fail check that the legitimate client is still served.
//! The latencies and memory under the same attacks are measured by
//! `cargo xtask bench`, not asserted here.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{ADMIN_PASSWORD, TestServer, basic, rest_call};

/// Failed logins with a real (default) hash cost do not hold up a client
/// whose credentials are cached: hashing runs on blocking threads. The server
/// runs on one async worker, so a hash on the worker would stall everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn failing_logins_do_not_stall_requests_that_need_no_hash() {
    let server = TestServer::start_with(
        |config| {
            config.auth.max_failures = 0;
            config.auth.user_max_failures = 0;
            config.auth.password_checks_per_sec = 0;
        },
        None,
    )
    .await;
    let addr = server.addr;
    let admin = basic("admin", ADMIN_PASSWORD);
    let listjails = r#"{"action": "listjails"}"#;
    // The first call hashes; later ones use the cached credential.
    let (status, _) = rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&admin)).await;
    assert_eq!(status, 200);

    const GUESSERS: usize = 24;
    let done = Arc::new(AtomicUsize::new(0));
    let mut guessers = Vec::new();
    for n in 0..GUESSERS {
        let done = done.clone();
        guessers.push(tokio::spawn(async move {
            let wrong = basic(&format!("guesser{n}"), "wrong");
            let (status, _) =
                rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&wrong)).await;
            done.fetch_add(1, Ordering::SeqCst);
            status
        }));
    }
    // Let every guess reach the server before the legitimate request.
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = done.load(Ordering::SeqCst);
    let (status, reply) = rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&admin)).await;
    let finished_meanwhile = done.load(Ordering::SeqCst);
    assert_eq!(status, 200, "{reply}");
    assert!(reply["args"]["listjails"].is_object(), "{reply}");
    // Two hashes run at once; the cached request went past the queue of guesses.
    assert!(
        finished_meanwhile < GUESSERS / 2,
        "the cached request waited for {finished_meanwhile} of {GUESSERS} failing logins \
         ({before} had finished before it was sent)"
    );
    for guesser in guessers {
        assert_eq!(guesser.await.unwrap(), 401);
    }
    server.stop().await;
}
