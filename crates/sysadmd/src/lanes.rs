//! Two lanes of workers (issue 16): connections that authenticated are
//! served by the daemon's own runtime, the others by a runtime of their own
//! whose threads run at the lowest priority.
//!
//! Under a login flood (48 clients failing logins, each from a new address)
//! an authenticated client's p99 rose 30-38x although every guess was
//! answered cheaply: tokio has one run queue per runtime, and the
//! legitimate client's request waited there behind the attackers' tasks
//! (accepting, parsing, refusing, closing). Priorities inside one runtime do
//! not exist, so the attackers get a runtime of their own:
//!
//! - a connection from a network that authenticated within the last hour
//!   (see [`crate::slots::Slots::is_trusted`]) is served on the main lane
//!   from its first byte;
//! - any other connection starts on the low lane: two threads in
//!   `SCHED_IDLE` on Linux (see [`lower_this_thread`]) (elsewhere at the server's priority, still with a run queue of
//!   their own), and moves to the main lane at its first wake-up after a
//!   request on it authenticated. A WebSocket's reader and its requests
//!   follow the same rule; its writer and event forwarder run on the main
//!   lane (they carry only what the reader lets through, and a change's
//!   events must reach the writer before its reply).
//!
//! The accept loop and the sockets' readiness stay on the main lane (the
//! sockets are registered there, so that a connection that moves keeps
//! them); what the low lane carries is everything a connection does before
//! it authenticates. Jobs are always started on the main lane.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Threads of the low lane: enough to use two cores when nothing else runs.
const LOW_LANE_THREADS: usize = 2;

/// Name of the low lane's threads (seen in `top -H`, `ps -T`).
pub(crate) const LOW_LANE_THREAD: &str = "sysadmd-lowlane";

/// `SCHED_IDLE` in `/proc/*/stat` (sched(7)).
#[cfg(all(test, target_os = "linux"))]
pub(crate) const SCHED_IDLE: u32 = 5;

/// Lowers the calling thread's scheduling priority to the lowest, so that a
/// woken worker of the main lane preempts it at once.
///
/// On Linux that is the `SCHED_IDLE` policy (sched(7)): a thread of the
/// normal policy that wakes preempts one in it at once, where a thread at
/// nice 19 keeps its core for the rest of its time slice (EEVDF's
/// run-to-parity, up to a few milliseconds): under a login flood, with the
/// low lane and the hash threads at nice 19, that was most of what an
/// authenticated client's p99 still lost. `SCHED_IDLE` is a weight, not a
/// class that waits for idle cores: its threads still progress on a busy
/// host, at a share about five times smaller than nice 19's. If the policy
/// cannot be set, the thread goes to nice 19.
///
/// Elsewhere (FreeBSD has only a per-process nice, and an idle class that
/// could starve the thread on a busy host) the thread keeps the server's
/// priority.
pub(crate) fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let set = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        );
        if let Err(error) = set {
            tracing::debug!(
                ?error,
                "cannot put a thread in SCHED_IDLE; lowering its nice"
            );
            if let Err(error) = rustix::process::setpriority_process(None, 19) {
                tracing::debug!(%error, "cannot lower a thread's priority");
            }
        }
    }
}

/// The scheduling policy of the calling thread, from
/// `/proc/thread-self/stat` (field 41; the command name before it is in
/// parentheses).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn own_policy() -> u32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // Fields from the state (3) on.
    after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap()
}

/// The low lane's runtime: one per process, started on first use and kept
/// for the life of the process (a runtime dropped inside another's context
/// panics, and in-process servers in tests come and go).
fn low_lane() -> &'static Handle {
    static LOW: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    LOW.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(LOW_LANE_THREADS)
            .thread_name(LOW_LANE_THREAD)
            .on_thread_start(lower_this_thread)
            .enable_all()
            .build()
            .expect("cannot start the low lane's runtime")
    })
    .handle()
}

/// Where a server's tasks run.
#[derive(Debug, Clone)]
pub(crate) struct Lanes {
    /// The runtime the server was built in; none outside one (then tasks go
    /// where `tokio::spawn` puts them).
    main: Option<Handle>,
}

impl Lanes {
    /// Lanes whose main lane is the current runtime, if there is one.
    pub(crate) fn current() -> Lanes {
        Lanes {
            main: Handle::try_current().ok(),
        }
    }

    /// Spawns work an authenticated request started (a job) on the main lane.
    pub(crate) fn spawn_job<F>(&self, tracker: &TaskTracker, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.main {
            Some(main) => tracker.spawn_on(task, main),
            None => tracker.spawn(task),
        }
    }

    /// Spawns a task on the main lane, whoever spawns it.
    pub(crate) fn spawn_on_main<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.main {
            Some(main) => main.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// Spawns a task of a connection: on the main lane when `authenticated`
    /// is cancelled already or `trusted`, else on the low lane, moving to the
    /// main lane at its first wake-up after `authenticated` is cancelled.
    ///
    /// The handle answers with the task's output wherever it ran; aborting it
    /// aborts the task on either lane.
    pub(crate) fn spawn<F>(
        &self,
        authenticated: &CancellationToken,
        trusted: bool,
        task: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if trusted || authenticated.is_cancelled() {
            return self.spawn_on_main(task);
        }
        let authenticated = authenticated.clone();
        let lanes = self.clone();
        low_lane().spawn(async move {
            let mut task: Pin<Box<F>> = Box::pin(task);
            let finished = std::future::poll_fn(|cx| {
                if authenticated.is_cancelled() {
                    return Poll::Ready(None);
                }
                match task.as_mut().poll(cx) {
                    Poll::Ready(output) => Poll::Ready(Some(output)),
                    // Moved now: the main lane polls it at once, so every
                    // waker it holds from here on is the main lane's task.
                    Poll::Pending if authenticated.is_cancelled() => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            match finished {
                Some(output) => output,
                None => {
                    let mut moved = AbortOnDrop(lanes.spawn_on_main(task));
                    match (&mut moved.0).await {
                        Ok(output) => output,
                        // A panic on the main lane is passed on as it was.
                        Err(error) if error.is_panic() => {
                            std::panic::resume_unwind(error.into_panic())
                        }
                        // The main lane shut down (its server's runtime
                        // ended): so does this task, without a panic message.
                        Err(_) => std::panic::resume_unwind(Box::new("the main lane shut down")),
                    }
                }
            }
        })
    }
}

/// Aborts the task when dropped: a low-lane task that moved to the main lane
/// and is aborted itself takes the moved task with it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unauthenticated_task_runs_on_the_low_lane_and_moves_once_authenticated() {
        let lanes = Lanes::current();
        let authenticated = CancellationToken::new();
        let (step, mut steps) = tokio::sync::mpsc::channel::<()>(1);
        let (seen, mut lanes_seen) = tokio::sync::mpsc::unbounded_channel::<String>();
        let task = lanes.spawn(&authenticated, false, async move {
            seen.send(lane()).unwrap();
            while steps.recv().await.is_some() {
                seen.send(lane()).unwrap();
            }
            lane()
        });
        assert_eq!(lanes_seen.recv().await.unwrap(), LOW_LANE_THREAD);
        step.send(()).await.unwrap();
        assert_eq!(lanes_seen.recv().await.unwrap(), LOW_LANE_THREAD);
        authenticated.cancel();
        // The poll that made the last report may still be running and take
        // more steps on the low lane (a poll goes on while its channel has
        // data, up to tokio's cooperative budget); the first wake-up after it
        // is on the main lane, and every one from then on.
        let mut steps_on_low = 0;
        loop {
            step.send(()).await.unwrap();
            if lanes_seen.recv().await.unwrap() != LOW_LANE_THREAD {
                break;
            }
            steps_on_low += 1;
            assert!(
                steps_on_low < 1000,
                "still on the low lane after authenticating"
            );
        }
        for _ in 0..10 {
            step.send(()).await.unwrap();
            assert_ne!(
                lanes_seen.recv().await.unwrap(),
                LOW_LANE_THREAD,
                "moved back"
            );
        }
        drop(step);
        let ended = task.await.unwrap();
        assert_ne!(ended, LOW_LANE_THREAD);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trusted_or_authenticated_tasks_start_on_the_main_lane() {
        let lanes = Lanes::current();
        let fresh = CancellationToken::new();
        let on_trust = lanes.spawn(&fresh, true, async { lane() }).await.unwrap();
        assert_ne!(on_trust, LOW_LANE_THREAD);
        let done = CancellationToken::new();
        done.cancel();
        let on_auth = lanes.spawn(&done, false, async { lane() }).await.unwrap();
        assert_ne!(on_auth, LOW_LANE_THREAD);
        let untrusted = lanes.spawn(&fresh, false, async { lane() }).await.unwrap();
        assert_eq!(untrusted, LOW_LANE_THREAD);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aborting_a_moved_task_aborts_it_on_the_main_lane() {
        let lanes = Lanes::current();
        let authenticated = CancellationToken::new();
        let (step, mut steps) = tokio::sync::mpsc::channel::<()>(1);
        let (alive, mut gone) = tokio::sync::mpsc::channel::<()>(1);
        let task = lanes.spawn(&authenticated, false, async move {
            let _alive = alive;
            while steps.recv().await.is_some() {}
            std::future::pending::<()>().await;
        });
        authenticated.cancel();
        step.send(()).await.unwrap();
        // Moved (or moving): aborting must end it on whichever lane it is.
        tokio::task::yield_now().await;
        task.abort();
        assert!(gone.recv().await.is_none(), "the task's sender was dropped");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_low_lane_runs_at_the_lowest_priority() {
        let lanes = Lanes::current();
        let policy = own_policy;
        let low = lanes
            .spawn(&CancellationToken::new(), false, async move { policy() })
            .await
            .unwrap();
        assert_eq!(low, SCHED_IDLE);
        let main = lanes
            .spawn(&CancellationToken::new(), true, async move { policy() })
            .await
            .unwrap();
        assert_ne!(
            main, SCHED_IDLE,
            "the main lane must keep the server's priority"
        );
    }
}
