//! Crash safety of the real binary: killed with SIGKILL in the middle of a
//! burst of jail creations, it starts again on the same state directory, and
//! every jail whose creation was acknowledged is still there.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use support::{basic, rest_call};
use tokio::net::TcpStream;

const PASSWORD: &str = "crash-test-password";

/// A running daemon, its address, and what it wrote on standard error.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

/// Starts the binary on `state` and reads its banner up to the address.
fn spawn(state: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sysadmd"))
        .args(["--plaintext", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .env("SYSADMD_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        // No iocage on this PATH, so the simulated host serves.
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sysadmd runs");
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        sink.lock().unwrap().push_str(&text);
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = Some(rest.split('/').next().unwrap().parse().unwrap());
        }
        let done = line.starts_with("audit log:");
        banner.push(line);
        if done {
            break;
        }
    }
    // Keep draining stdout so the daemon never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let Some(addr) = addr else {
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
        panic!(
            "sysadmd did not start: banner {banner:#?}, stderr {:?}",
            stderr.lock().unwrap()
        );
    };
    Daemon {
        child,
        addr,
        stderr,
    }
}

/// `createjail` requests tagged `crash-<connection>-<n>` on one keep-alive
/// connection until the daemon dies; returns the tags acknowledged with 200.
async fn create_burst(
    addr: SocketAddr,
    connection: usize,
    count: usize,
    acknowledged: Arc<AtomicUsize>,
) -> Vec<String> {
    let mut created = Vec::new();
    let Ok(stream) = TcpStream::connect(addr).await else {
        return created;
    };
    let Ok((mut sender, driver)) = http1::handshake(TokioIo::new(stream)).await else {
        return created;
    };
    tokio::spawn(driver);
    let auth = basic("admin", PASSWORD);
    for index in 0..count {
        let tag = format!("crash-{connection}-{index}");
        let body = format!(r#"{{"action": "createjail", "props": "tag={tag}"}}"#);
        let request = hyper::Request::builder()
            .method("PUT")
            .uri("/sysadm/iocage")
            .header("host", "localhost")
            .header("authorization", &auth)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        // Once the daemon is killed, requests fail: the burst is over.
        let Ok(response) = sender.send_request(request).await else {
            break;
        };
        let status = response.status();
        let Ok(bytes) = response.into_body().collect().await else {
            break;
        };
        let reply: Value = serde_json::from_slice(&bytes.to_bytes()).expect("JSON reply");
        assert_eq!(status, 200, "{tag}: {reply}");
        let created_text = reply["args"]["createjail"]["success"]["Successfully created"]
            .as_str()
            .unwrap_or_default();
        assert!(
            created_text.ends_with(&format!("({tag})")),
            "{tag}: {reply}"
        );
        created.push(tag);
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
    created
}

/// The tags `listjails` reports.
async fn listed_tags(addr: SocketAddr) -> BTreeSet<String> {
    let auth = basic("admin", PASSWORD);
    let (status, reply) = rest_call(
        addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action": "listjails"}"#,
        Some(&auth),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    reply["args"]["listjails"]
        .as_object()
        .expect("a jail map")
        .values()
        .map(|jail| jail["tag"].as_str().expect("a tag").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_jails_survive_a_kill_in_the_middle_of_a_burst() {
    const CONNECTIONS: usize = 4;
    const PER_CONNECTION: usize = 500;
    /// Acknowledged creations before the kill.
    const KILL_AFTER: usize = 40;
    let state = tempfile::tempdir().unwrap();
    let mut daemon = spawn(state.path());
    let addr = daemon.addr;
    // The first Basic login hashes the password; do it before the burst.
    assert!(listed_tags(addr).await.is_empty());

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let bursts: Vec<_> = (0..CONNECTIONS)
        .map(|connection| {
            tokio::spawn(create_burst(
                addr,
                connection,
                PER_CONNECTION,
                acknowledged.clone(),
            ))
        })
        .collect();
    // Kill it once some creations were acknowledged, with more in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} creations acknowledged in 30 s; stderr: {}",
            acknowledged.load(Ordering::SeqCst),
            daemon.stderr.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.child.kill().expect("SIGKILL");
    daemon.child.wait().expect("the daemon is reaped");
    let mut acked = BTreeSet::new();
    for burst in bursts {
        acked.extend(burst.await.expect("burst task"));
    }
    assert!(acked.len() >= KILL_AFTER, "{} acknowledged", acked.len());
    assert!(
        acked.len() < CONNECTIONS * PER_CONNECTION,
        "the burst ended before the kill; nothing was interrupted"
    );

    // It starts again on the same state, and every acknowledged jail is there.
    let mut restarted = spawn(state.path());
    let listed = listed_tags(restarted.addr).await;
    let missing: Vec<&String> = acked.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged jails lost: {missing:?}",
        missing.len(),
        acked.len()
    );
    // Nothing appears that was never asked for.
    assert!(
        listed.iter().all(|tag| tag.starts_with("crash-")),
        "{listed:?}"
    );
    // And the restarted host still takes changes.
    let (status, reply) = rest_call(
        restarted.addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action": "createjail", "props": "tag=after-crash"}"#,
        Some(&basic("admin", PASSWORD)),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}
