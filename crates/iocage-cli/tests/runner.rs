//! The runner against real child processes: argument vectors reach the child
//! untouched, output is captured concurrently and capped, time limits kill
//! the whole process group, and a missing program is its own error.

use std::time::{Duration, Instant};

use iocage_cli::{ExitKind, RunError, Runner};

/// A shell script written by the test (never user input), run as the program.
fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry, so look at its state too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn arguments_reach_the_child_as_words_never_through_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let echo = script(
        &dir,
        "args",
        r#"for a in "$@"; do printf '[%s]\n' "$a"; done; echo "LC_ALL=$LC_ALL" >&2"#,
    );
    let marker = dir.path().join("pwned");
    let hostile = format!(
        "$(touch {}); `touch {}` ; | & > x",
        marker.display(),
        marker.display()
    );
    let output = Runner::new(&echo)
        .run(["plain", "two words", &hostile, ""])
        .await
        .unwrap();
    assert_eq!(output.exit, ExitKind::Code(0));
    assert_eq!(
        output.stdout,
        format!("[plain]\n[two words]\n[{hostile}]\n[]\n")
    );
    assert_eq!(output.stderr, "LC_ALL=C\n");
    assert!(!marker.exists(), "nothing was interpreted by a shell");
    assert!(
        output.command.contains("'two words'"),
        "the command line is quoted: {}",
        output.command
    );
}

#[tokio::test]
async fn exit_status_and_both_streams_are_returned() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(
        &dir,
        "fail",
        "echo out; echo '  ERROR: jail x not found!' >&2; exit 1",
    );
    let output = Runner::new(&failing)
        .run(Vec::<String>::new())
        .await
        .unwrap();
    assert_eq!(output.exit, ExitKind::Code(1));
    assert!(!output.success());
    assert_eq!(output.stdout, "out\n");
    assert_eq!(output.stderr, "  ERROR: jail x not found!\n");
}

#[tokio::test]
async fn large_output_on_both_streams_does_not_deadlock_and_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    // 4 MiB on stderr before anything on stdout: a reader of stdout alone would deadlock.
    let noisy = script(
        &dir,
        "noisy",
        "head -c 4194304 /dev/zero >&2; head -c 3000000 /dev/zero",
    );
    let output = Runner::new(&noisy)
        .max_output(1 << 20)
        .run(Vec::<String>::new())
        .await
        .unwrap();
    assert_eq!(output.exit, ExitKind::Code(0));
    assert_eq!(output.stdout.len(), 1 << 20);
    assert_eq!(output.stderr.len(), 1 << 20);
    assert!(output.truncated);
}

#[tokio::test]
async fn a_hanging_child_and_its_children_are_killed_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // Ignores SIGTERM, and leaves a grandchild behind in its process group.
    let hang = script(
        &dir,
        "hang",
        &format!(
            "trap '' TERM; sleep 1000 & echo $$ $! > {}; echo started >&2; wait",
            pids.display()
        ),
    );
    let started = Instant::now();
    let error = Runner::new(&hang)
        .timeout(Duration::from_millis(500))
        .grace(Duration::from_millis(200))
        .run(Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    match &error {
        RunError::TimedOut { stderr, limit, .. } => {
            assert_eq!(*limit, Duration::from_millis(500));
            assert_eq!(stderr, "started\n");
        }
        other => panic!("expected a time-out, got {other:?}"),
    }
    let pids = std::fs::read_to_string(&pids).unwrap();
    for pid in pids.split_whitespace() {
        let pid: i32 = pid.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "process {pid} was left behind");
    }
}

#[tokio::test]
async fn a_missing_program_is_its_own_error() {
    let error = Runner::new("/nonexistent/iocage")
        .run(["list"])
        .await
        .unwrap_err();
    assert!(matches!(error, RunError::NotFound { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot run /nonexistent/iocage list: /nonexistent/iocage not found"
    );
}

#[tokio::test]
async fn a_child_killed_by_a_signal_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let crash = script(&dir, "crash", "kill -SEGV $$");
    let output = Runner::new(&crash).run(Vec::<String>::new()).await.unwrap();
    assert_eq!(output.exit, ExitKind::Signal(11));
    assert_eq!(output.exit.to_string(), "killed by signal 11");
}

#[tokio::test]
async fn standard_input_is_closed_so_prompts_cannot_wait() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = script(
        &dir,
        "prompt",
        "printf 'Are you sure? [y/N]: '; read answer; echo \"got:$answer\"",
    );
    let output = Runner::new(&prompt)
        .timeout(Duration::from_secs(5))
        .run(Vec::<String>::new())
        .await
        .unwrap();
    assert_eq!(output.stdout, "Are you sure? [y/N]: got:\n");
}

/// Collects the progress a scope reports.
fn collector() -> (
    iocage_cli::progress::Sink,
    std::sync::Arc<std::sync::Mutex<Vec<iocage_cli::progress::Progress>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = seen.clone();
    let sink = iocage_cli::progress::Sink::new(move |progress| into.lock().unwrap().push(progress));
    (sink, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_is_reported_while_the_child_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    // Prints a line, then waits (at most 30 s) for the test to open the gate.
    let program = script(
        &dir,
        "slow",
        &format!(
            "echo 'Creating jail...'\necho 'warning: slow' >&2\n\
             n=0; while [ ! -e '{}' ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done\n\
             printf 'Done\\n'",
            gate.display()
        ),
    );
    let (sink, seen) = collector();
    let runner = Runner::new(&program);
    let run = tokio::spawn(iocage_cli::progress::scope(sink, async move {
        runner.run(["create", "tag=web"]).await
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if seen.lock().unwrap().len() >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no lines: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!run.is_finished(), "the child is still waiting on the gate");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].step, "iocage create", "{seen:?}");
        assert_eq!(seen[0].line, None);
        let mut early: Vec<(String, Option<u64>)> = seen[1..]
            .iter()
            .map(|progress| (progress.step.clone(), progress.line))
            .collect();
        early.sort();
        let texts: Vec<&str> = early.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(texts, ["Creating jail...", "warning: slow"], "{seen:?}");
        let mut numbers: Vec<u64> = early.iter().filter_map(|(_, line)| *line).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [1, 2], "both streams counted together");
    }
    std::fs::write(&gate, "").unwrap();
    let output = run.await.unwrap().unwrap();
    assert_eq!(
        output.stdout, "Creating jail...\nDone\n",
        "output is still whole"
    );
    let seen = seen.lock().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.step.as_str(), last.line),
        ("Done", Some(3)),
        "{seen:?}"
    );
}

#[tokio::test]
async fn without_a_scope_or_for_private_output_no_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(&dir, "secret", "echo 'the secret'");
    let (sink, seen) = collector();
    let quiet = Runner::new(&program).output_not_in_progress();
    let output = iocage_cli::progress::scope(sink, quiet.run(["exec", "jail", "cat"]))
        .await
        .unwrap();
    assert_eq!(output.stdout, "the secret\n");
    let steps: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.step.clone())
        .collect();
    assert_eq!(steps, ["iocage exec"], "only the start of the run");
    // Outside any scope the run works as ever.
    let output = Runner::new(&program).run(["exec"]).await.unwrap();
    assert_eq!(output.stdout, "the secret\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_lines_is_reported_without_slowing_or_growing_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 lines as fast as the shell can print them.
    let program = script(
        &dir,
        "flood",
        "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done",
    );
    let latest = std::sync::Arc::new(std::sync::Mutex::new(None));
    let into = latest.clone();
    // A coalescing sink: keeps the latest only.
    let sink =
        iocage_cli::progress::Sink::new(move |progress| *into.lock().unwrap() = Some(progress));
    let output =
        iocage_cli::progress::scope(sink, Runner::new(&program).max_output(1024).run(["list"]))
            .await
            .unwrap();
    assert!(output.truncated, "the capture keeps its cap");
    let last = latest.lock().unwrap().clone().unwrap();
    assert_eq!((last.step.as_str(), last.line), ("line 19999", Some(20000)));
}
