//! `sysadmctl`: the sysadmd API from the shell, on one server or many at once
//! (through `sysadm_client::Fleet`). See `sysadmctl --help`.

mod remotes;
mod render;

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use sysadm_client::proto::{EventKind, IocageRequest, JailSettingsQuery, KeyRole, KeySpec};
use sysadm_client::{Client, Credentials, Endpoint, Error, Fingerprint, Fleet, Options, Trust};

use remotes::{Remote, Remotes};
use sysadmctl::cli::{Cli, Command, RemoteCommand};

/// Most bytes `call ... -` reads from standard input.
const MAX_STDIN_ARGS: u64 = 16 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sysadmctl: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("sysadmctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether everything succeeded.
async fn run(cli: Cli) -> Result<bool> {
    let json = cli.json || !std::io::stdout().is_terminal();
    let options = Options {
        request_timeout: Duration::from_secs(cli.timeout.max(1)),
        // One command, one answer: a lost connection is an error to report, not to hide.
        reconnect: false,
        ..Options::default()
    };
    let dir = remotes::config_dir()?;
    let operation = match cli.command {
        Command::Remote { command } => return remote(command, &dir, json, options).await,
        Command::Watch { count } => {
            let remotes = Remotes::load(&dir)?.select(cli.remote.as_deref(), cli.all)?;
            return watch(remotes, count, json, options).await;
        }
        Command::Call { class, args } => {
            let (namespace, name) = class.split_once('/').with_context(|| {
                format!(
                    "invalid class '{}': give NAMESPACE/NAME, e.g. sysadm/iocage",
                    class.escape_debug()
                )
            })?;
            let text = if args == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .take(MAX_STDIN_ARGS)
                    .read_to_string(&mut text)
                    .context("cannot read the args from standard input")?;
                text
            } else {
                args
            };
            let args: Value = serde_json::from_str(&text).with_context(
                || "the args are not JSON: give an object such as '{\"action\": \"listjails\"}'",
            )?;
            Operation::Raw(namespace.to_owned(), name.to_owned(), args)
        }
        other => Operation::Iocage(iocage_request(other)?),
    };
    let multi = cli.all
        || cli
            .remote
            .as_deref()
            .is_some_and(|names| names.contains(','));
    let remotes = Remotes::load(&dir)?.select(cli.remote.as_deref(), cli.all)?;
    let results = on_every(remotes, options, Arc::new(operation)).await;
    Ok(report(&results, multi, json))
}

/// What to send.
#[derive(Debug)]
enum Operation {
    Iocage(IocageRequest),
    Raw(String, String, Value),
}

/// The iocage request of an action subcommand.
fn iocage_request(command: Command) -> Result<IocageRequest> {
    Ok(match command {
        Command::List => IocageRequest::ListJails,
        Command::Start { jail } => IocageRequest::StartJail { jail },
        Command::Stop { jail } => IocageRequest::StopJail { jail },
        Command::Cap { jail } => IocageRequest::CapJail { jail },
        Command::Destroy { jail } => IocageRequest::DestroyJail { jail },
        Command::Exec {
            jail,
            user,
            command,
        } => IocageRequest::ExecJail {
            jail,
            user,
            command: command
                .iter()
                .map(|word| quote(word))
                .collect::<Vec<_>>()
                .join(" "),
        },
        Command::Create {
            tag,
            props,
            release,
            empty,
        } => {
            check_props(&props)?;
            let mut words = vec![format!("tag={tag}")];
            words.extend(release.map(|release| format!("release={release}")));
            words.extend(props);
            IocageRequest::CreateJail {
                props: words.join(" "),
                empty,
            }
        }
        Command::Clone { jail, props } => {
            check_props(&props)?;
            IocageRequest::CloneJail {
                jail,
                props: props.join(" "),
            }
        }
        Command::Get {
            jail,
            prop,
            every_jail: true,
        } => {
            let _ = prop;
            IocageRequest::GetJailSettings(JailSettingsQuery::Recursive { prop: jail })
        }
        Command::Get { jail, prop, .. } if prop == "all" => {
            IocageRequest::GetJailSettings(JailSettingsQuery::All { jail })
        }
        Command::Get { jail, prop, .. } => {
            IocageRequest::GetJailSettings(JailSettingsQuery::Property { jail, prop })
        }
        Command::Defaults => IocageRequest::GetDefaultSettings,
        Command::Df => IocageRequest::Df,
        Command::Releases => IocageRequest::ListReleases,
        Command::Plugins => IocageRequest::ListPlugins,
        Command::Activate { pool } => IocageRequest::ActivatePool { pool },
        Command::Deactivate { pool } => IocageRequest::DeactivatePool { pool },
        Command::CleanJails => IocageRequest::CleanJails,
        Command::CleanReleases => IocageRequest::CleanReleases,
        Command::CleanTemplates => IocageRequest::CleanTemplates,
        Command::CleanAll => IocageRequest::CleanAll,
        Command::Remote { .. } | Command::Call { .. } | Command::Watch { .. } => {
            unreachable!("answered before")
        }
    })
}

fn check_props(props: &[String]) -> Result<()> {
    match props
        .iter()
        .find(|word| !word.contains('=') || word.contains(char::is_whitespace))
    {
        Some(bad) => bail!(
            "invalid property '{}': give KEY=VALUE words without spaces, e.g. vnet=on",
            bad.escape_debug()
        ),
        None => Ok(()),
    }
}

/// One word for the server's POSIX-quoting split: as it is when plain, else single-quoted.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&byte));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Connects with the remote's key and pinned fingerprint.
async fn connect(remote: &Remote, options: &Options) -> sysadm_client::Result<Client> {
    let mut options = options.clone();
    if let Some(fingerprint) = &remote.fingerprint {
        options.trust = Trust::Fingerprint(fingerprint.parse()?);
    }
    Client::connect(&remote.url, Credentials::Key(remote.key.clone()), options).await
}

/// Connects to every remote at once and runs `operation` on those that
/// answered, through a [`Fleet`]; each result under its remote's name, in order.
async fn on_every(
    remotes: Vec<(String, Remote)>,
    options: Options,
    operation: Arc<Operation>,
) -> Vec<(String, Result<Value, Error>)> {
    let connecting: Vec<_> = remotes
        .into_iter()
        .map(|(name, remote)| {
            let options = options.clone();
            (
                name,
                tokio::spawn(async move { connect(&remote, &options).await }),
            )
        })
        .collect();
    let mut fleet = Fleet::new();
    let mut failed = Vec::new();
    let mut order = Vec::new();
    for (name, task) in connecting {
        order.push(name.clone());
        match task.await {
            Ok(Ok(client)) => fleet.add(name, client),
            Ok(Err(error)) => failed.push((name, Err(error))),
            Err(error) => failed.push((
                name,
                Err(Error::Decode(format!("connecting panicked: {error}"))),
            )),
        }
    }
    let done = fleet
        .run(move |client| {
            let operation = Arc::clone(&operation);
            async move {
                match &*operation {
                    Operation::Iocage(request) => {
                        let response = client.iocage(request.clone()).await?;
                        Ok(serde_json::to_value(&response).expect("responses serialize"))
                    }
                    Operation::Raw(namespace, name, args) => {
                        client.call(namespace, name, args.clone()).await
                    }
                }
            }
        })
        .await;
    let mut all: Vec<_> = done.into_iter().chain(failed).collect();
    all.sort_by_key(|(name, _)| order.iter().position(|known| known == name));
    all
}

/// Prints every result; returns whether all succeeded.
fn report(results: &[(String, Result<Value, Error>)], multi: bool, json: bool) -> bool {
    let mut stdout = std::io::stdout().lock();
    let mut ok = true;
    for (name, result) in results {
        if let Err(error) = result {
            ok = false;
            if multi {
                eprintln!("sysadmctl: {name}: {error}");
            } else {
                eprintln!("sysadmctl: {error}");
            }
        }
    }
    let text = match (multi, json) {
        (false, true) => results
            .iter()
            .filter_map(|(_, result)| result.as_ref().ok())
            .map(|value| {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(value).unwrap_or_default()
                )
            })
            .collect::<String>(),
        (false, false) => results
            .iter()
            .filter_map(|(_, result)| result.as_ref().ok())
            .map(render::human)
            .collect(),
        (true, true) => {
            let object: serde_json::Map<String, Value> = results
                .iter()
                .map(|(name, result)| {
                    let value = match result {
                        Ok(value) => value.clone(),
                        Err(error) => json!({"error": error_json(error)}),
                    };
                    (name.clone(), value)
                })
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&object).unwrap_or_default()
            )
        }
        (true, false) => results
            .iter()
            .map(|(name, result)| match result {
                Ok(value) => format!("== {name} ==\n{}", render::human(value)),
                Err(error) => format!("== {name} ==\nerror: {error}\n"),
            })
            .collect(),
    };
    // A closed pipe (`| head`) is not an error of the servers.
    let _ = stdout.write_all(text.as_bytes());
    ok
}

fn error_json(error: &Error) -> Value {
    match error {
        Error::Server(args) => serde_json::to_value(args).unwrap_or_default(),
        other => json!({"message": other.to_string()}),
    }
}

/// `sysadmctl watch`: events from every remote, one line each, until `count`.
async fn watch(
    remotes: Vec<(String, Remote)>,
    count: Option<u64>,
    json: bool,
    options: Options,
) -> Result<bool> {
    let multi = remotes.len() > 1;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(String, String)>(256);
    let mut failed = false;
    for (name, remote) in remotes {
        let client = match connect(
            &remote,
            &Options {
                reconnect: true,
                ..options.clone()
            },
        )
        .await
        {
            Ok(client) => client,
            Err(error) => {
                eprintln!("sysadmctl: {name}: {error}");
                failed = true;
                continue;
            }
        };
        let mut events = client.events(&[EventKind::Dispatcher]).await?;
        let sender = sender.clone();
        tokio::spawn(async move {
            let _client = client;
            while let Some(event) = events.next().await {
                let line = match event {
                    Ok(sysadm_client::Event::Dispatcher(event)) if json => {
                        serde_json::to_string(&event).unwrap_or_default()
                    }
                    Ok(sysadm_client::Event::Dispatcher(event)) => {
                        let value = serde_json::to_value(&event).unwrap_or_default();
                        let field = |key: &str| {
                            value
                                .get(key)
                                .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                                .unwrap_or_default()
                        };
                        format!(
                            "{} {} {} {}",
                            field("state"),
                            field("action"),
                            field("jail"),
                            field("user")
                        )
                    }
                    Ok(sysadm_client::Event::Other(message)) => {
                        serde_json::to_string(&message.args).unwrap_or_default()
                    }
                    Err(error) => format!("error: {error}"),
                };
                if sender.send((name.clone(), line)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);
    // Ready: a script (or a test) may start the work it wants to see.
    eprintln!("sysadmctl: watching for events");
    let mut seen = 0;
    while let Some((name, line)) = receiver.recv().await {
        let mut stdout = std::io::stdout().lock();
        let written = if multi && json {
            writeln!(
                stdout,
                "{{\"remote\":{},\"event\":{line}}}",
                Value::String(name)
            )
        } else if multi {
            writeln!(stdout, "{name}: {line}")
        } else {
            writeln!(stdout, "{line}")
        };
        if written.and_then(|()| stdout.flush()).is_err() {
            break;
        }
        seen += 1;
        if count.is_some_and(|count| seen >= count) {
            break;
        }
    }
    Ok(!failed)
}

/// `sysadmctl remote ...`.
async fn remote(
    command: RemoteCommand,
    dir: &std::path::Path,
    json: bool,
    options: Options,
) -> Result<bool> {
    let mut remotes = Remotes::load(dir)?;
    match command {
        RemoteCommand::Add {
            name,
            url,
            accept_fingerprint,
            user,
            password_stdin,
            role,
            key_name,
        } => {
            remotes::check_name(&name)?;
            if remotes.remotes.contains_key(&name) {
                bail!(
                    "remote '{name}' exists already: remove it first (`sysadmctl remote remove {name}`)"
                );
            }
            let endpoint = Endpoint::parse(&url)?;
            let fingerprint = trust(
                &endpoint,
                accept_fingerprint.as_deref(),
                &url,
                options.connect_timeout,
            )
            .await?;
            let password = read_password(&user, &url, password_stdin)?;
            let mut login = options.clone();
            if let Some(fingerprint) = fingerprint {
                login.trust = Trust::Fingerprint(fingerprint);
            }
            let client = Client::connect(
                &url,
                Credentials::Password {
                    user: user.clone(),
                    password,
                },
                login,
            )
            .await?;
            let key_name = key_name.unwrap_or_else(default_key_name);
            let created = client
                .create_key(KeySpec {
                    name: key_name.clone(),
                    role: if role == "viewer" {
                        KeyRole::Viewer
                    } else {
                        KeyRole::Admin
                    },
                    jails: Vec::new(),
                    actions: Vec::new(),
                    expires_secs: None,
                })
                .await?;
            client.close();
            remotes.remotes.insert(
                name.clone(),
                Remote {
                    url: endpoint.ws_url(),
                    fingerprint: fingerprint.map(|fingerprint| fingerprint.to_string()),
                    key: created.key,
                    key_name: key_name.clone(),
                },
            );
            let default = remotes.default.is_none();
            if default {
                remotes.default = Some(name.clone());
            }
            remotes.save(dir)?;
            println!(
                "added remote '{name}' ({}), with API key '{key_name}' ({role}){}",
                endpoint.ws_url(),
                if default { "; it is the default" } else { "" }
            );
        }
        RemoteCommand::List => {
            if json {
                let list: Vec<Value> = remotes
                    .remotes
                    .iter()
                    .map(|(name, remote)| {
                        json!({"name": name, "url": remote.url, "fingerprint": remote.fingerprint,
                               "key_name": remote.key_name,
                               "default": remotes.default.as_deref() == Some(name.as_str())})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let mut table = vec![vec![
                    "NAME".to_owned(),
                    "URL".to_owned(),
                    "KEY".to_owned(),
                    "FINGERPRINT".to_owned(),
                ]];
                for (name, remote) in &remotes.remotes {
                    let star = if remotes.default.as_deref() == Some(name.as_str()) {
                        " (default)"
                    } else {
                        ""
                    };
                    table.push(vec![
                        format!("{name}{star}"),
                        remote.url.clone(),
                        remote.key_name.clone(),
                        remote.fingerprint.clone().unwrap_or_else(|| "-".to_owned()),
                    ]);
                }
                print!("{}", render::aligned(&table));
            }
        }
        RemoteCommand::Remove { name } => {
            let Some(remote) = remotes.remotes.remove(&name) else {
                bail!(
                    "no remote '{}' (remotes: {})",
                    name.escape_debug(),
                    remotes.names()
                );
            };
            if remotes.default.as_deref() == Some(name.as_str()) {
                remotes.default = None;
            }
            remotes.save(dir)?;
            let revoked = async {
                let client = connect(&remote, &options).await?;
                client.revoke_key(&remote.key_name).await
            };
            match tokio::time::timeout(Duration::from_secs(15), revoked).await {
                Ok(Ok(_)) => println!(
                    "removed remote '{name}' and revoked its key '{}'",
                    remote.key_name
                ),
                Ok(Err(error)) => println!(
                    "removed remote '{name}'; its key '{}' was not revoked ({error}): revoke it on the server with `sysadmd key revoke {}`",
                    remote.key_name, remote.key_name
                ),
                Err(_) => println!(
                    "removed remote '{name}'; the server did not answer, so its key '{}' is still valid there",
                    remote.key_name
                ),
            }
        }
        RemoteCommand::Default { name } => {
            if !remotes.remotes.contains_key(&name) {
                bail!(
                    "no remote '{}' (remotes: {})",
                    name.escape_debug(),
                    remotes.names()
                );
            }
            remotes.default = Some(name.clone());
            remotes.save(dir)?;
            println!("'{name}' is the default remote");
        }
    }
    Ok(true)
}

/// The fingerprint to pin: the one given (and checked against the server's),
/// or the server's after asking on the terminal. `None` for plaintext.
async fn trust(
    endpoint: &Endpoint,
    accept: Option<&str>,
    url: &str,
    timeout: Duration,
) -> Result<Option<Fingerprint>> {
    if !endpoint.tls {
        if accept.is_some() {
            bail!(
                "{url} is plaintext (ws://): there is no certificate, so --accept-fingerprint cannot apply"
            );
        }
        eprintln!(
            "sysadmctl: warning: {url} is plaintext: the key and every reply travel unencrypted"
        );
        return Ok(None);
    }
    let found = endpoint.probe_fingerprint(timeout).await?;
    if let Some(accept) = accept {
        let expected: Fingerprint = accept.parse()?;
        if expected != found {
            bail!(
                "the server at {url} has certificate fingerprint {found}, not {expected}: refusing to add it (check the fingerprint sysadmd printed at start-up)"
            );
        }
        return Ok(Some(found));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the server at {url} has certificate fingerprint {found}; standard input is not a terminal to ask whether to trust it: check it against what sysadmd printed at start-up and give --accept-fingerprint {found}"
        );
    }
    eprintln!("The certificate of {url} has SHA-256 fingerprint\n  {found}");
    eprint!("Is it the one sysadmd printed at start-up? Trust it? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().take(64).read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        bail!("not trusted; nothing added");
    }
    Ok(Some(found))
}

fn read_password(user: &str, url: &str, from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(4096)
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        rpassword::prompt_password(format!("password of '{user}' on {url}: "))
            .context("cannot ask for the password on the terminal (use --password-stdin)")?
    };
    if password.is_empty() {
        bail!("no password given (--password-stdin reads the first line of standard input)");
    }
    Ok(password)
}

fn default_key_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    format!("sysadmctl.{secs}.{}", std::process::id())
}
