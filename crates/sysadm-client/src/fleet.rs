//! Many servers at once: sysadmd holds no cluster state, so a fleet is just
//! named clients, and a fleet call runs on each concurrently and reports
//! each result, or each error, under the server's name.

use std::future::Future;

use crate::client::Client;
use crate::error::Result;

/// Named clients, one per server.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    members: Vec<(String, Client)>,
}

/// One server's outcome of a fleet call.
pub type FleetResult<T> = (String, Result<T>);

impl Fleet {
    /// An empty fleet.
    pub fn new() -> Fleet {
        Fleet::default()
    }

    /// Adds a server under `name`.
    pub fn add(&mut self, name: impl Into<String>, client: Client) {
        self.members.push((name.into(), client));
    }

    /// The servers' names, in the order added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(name, _)| name.as_str())
    }

    /// Runs `call` on every server at once; results in the order added.
    ///
    /// ```no_run
    /// # async fn demo(fleet: sysadm_client::Fleet) {
    /// for (host, result) in fleet.run(|client| async move { client.list_jails().await }).await {
    ///     match result {
    ///         Ok(jails) => println!("{host}: {} jails", jails.jails.len()),
    ///         Err(error) => eprintln!("{host}: {error}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn run<T, F, Fut>(&self, call: F) -> Vec<FleetResult<T>>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let tasks: Vec<_> = self
            .members
            .iter()
            .map(|(name, client)| (name.clone(), tokio::spawn(call(client.clone()))))
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for (name, task) in tasks {
            let result = task.await.unwrap_or_else(|error| {
                Err(crate::Error::Decode(format!("the call panicked: {error}")))
            });
            results.push((name, result));
        }
        results
    }
}
