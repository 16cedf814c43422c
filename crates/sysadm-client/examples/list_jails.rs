//! A complete program on `sysadm-client`: connect, list the jails, and
//! print the jobs other clients run until interrupted.
//!
//! ```text
//! SYSADM_URL=wss://jails.example:12150/ SYSADM_FINGERPRINT=AB:CD:... \
//! SYSADM_USER=admin SYSADM_PASSWORD=... cargo run -p sysadm-client --example list_jails
//! ```
//! Without `SYSADM_FINGERPRINT` the system's roots are trusted; `ws://` URLs
//! are plaintext (for a server started with `--plaintext` on loopback).

use sysadm_client::proto::EventKind;
use sysadm_client::{Client, Credentials, Event, Options, Trust};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let trust = match std::env::var("SYSADM_FINGERPRINT") {
        Ok(fingerprint) => Trust::Fingerprint(fingerprint.parse()?),
        Err(_) => Trust::SystemRoots,
    };
    let credentials = Credentials::Password {
        user: var("SYSADM_USER").unwrap_or_else(|_| "admin".to_owned()),
        password: var("SYSADM_PASSWORD")?,
    };
    let options = Options {
        trust,
        ..Options::default()
    };
    let client = Client::connect(&var("SYSADM_URL")?, credentials, options).await?;
    for (uuid, jail) in client.list_jails().await?.jails {
        println!("{uuid}  {:<12} {:<5} {}", jail.tag, jail.state, jail.ip4);
    }
    let mut events = client.events(&[EventKind::Dispatcher]).await?;
    while let Some(event) = events.next().await {
        if let Event::Dispatcher(job) = event? {
            println!(
                "{} {:?} {} by {}",
                job.process_id, job.state, job.action, job.user
            );
        }
    }
    Ok(())
}
