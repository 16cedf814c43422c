//! `sysadmd user add|passwd|remove|list`: the users file from the command
//! line. Passwords come from a prompt without echo or from standard input,
//! never from the command line (where `ps` and shell history would show them).

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Role;
use super::hash::{HashParams, hash_password};
use super::users::{DirLock, USERS_FILE, UserEntry, check_name, read_users, write_users};

/// `sysadmd user ...`: manage who may log in. A running server sees the
/// change within a second; a new password or a removal ends the user's sessions.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is asked for (without echo), or read from
    /// standard input with --password-stdin.
    Add {
        /// The user name: 1 to 32 of lowercase letters, digits, '_', '.', '-',
        /// starting with a letter or '_'.
        name: String,
        /// What the user may do: admin (everything) or viewer (read-only).
        #[arg(long, value_enum, default_value = "admin")]
        role: Role,
        /// Read the password from the first line of standard input instead of
        /// asking for it.
        #[arg(long)]
        password_stdin: bool,
        /// Accept a password shorter than 12 characters (for tests and demos).
        #[arg(long)]
        allow_weak: bool,
    },
    /// Change a user's password; their sessions end.
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input instead of
        /// asking for it.
        #[arg(long)]
        password_stdin: bool,
        /// Accept a password shorter than 12 characters (for tests and demos).
        #[arg(long)]
        allow_weak: bool,
    },
    /// Remove a user; their sessions end.
    Remove {
        /// The user name.
        name: String,
    },
    /// List the users and their roles (never their password hashes).
    List,
}

/// Runs a user command on the users file of `state_dir`, prompting on the
/// terminal or reading the process's standard input for passwords.
pub fn run_user_command(state_dir: &Path, command: UserCommand) -> Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    run_user_command_with(
        state_dir,
        command,
        &mut input,
        &mut out,
        HashParams::default(),
    )
}

/// [`run_user_command`] with standard input, standard output and the hash
/// cost given, so tests can drive it. `input` is read only with `--password-stdin`.
pub fn run_user_command_with(
    state_dir: &Path,
    command: UserCommand,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    params: HashParams,
) -> Result<()> {
    let path = state_dir.join(USERS_FILE);
    if let UserCommand::List = command {
        if !path.exists() {
            writeln!(
                out,
                "no users file at {}; the server creates 'admin' when it first starts",
                path.display()
            )?;
            return Ok(());
        }
        for (name, entry) in read_users(&path)? {
            writeln!(out, "{name}\t{}", entry.role)?;
        }
        return Ok(());
    }
    if let UserCommand::Add { name, .. } = &command {
        check_name(name)?;
        super::create_private_dir(state_dir)?;
    }
    let _lock = DirLock::acquire(state_dir)?;
    let mut users = if path.exists() {
        read_users(&path)?
    } else {
        Default::default()
    };
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            allow_weak,
        } => {
            if users.contains_key(&name) {
                bail!(
                    "user '{name}' exists already; change the password with `sysadmd user passwd {name}`"
                );
            }
            let password = read_password(&name, password_stdin, allow_weak, input)?;
            let hash = hash_password(params, &password)?;
            users.insert(name.clone(), UserEntry { role, hash });
            write_users(&path, &users)?;
            writeln!(out, "added user '{name}' ({role})")?;
        }
        UserCommand::Passwd {
            name,
            password_stdin,
            allow_weak,
        } => {
            let Some(role) = users.get(&name).map(|entry| entry.role) else {
                bail!("no user '{}' in {}", name.escape_debug(), path.display());
            };
            let password = read_password(&name, password_stdin, allow_weak, input)?;
            let hash = hash_password(params, &password)?;
            users.insert(name.clone(), UserEntry { role, hash });
            write_users(&path, &users)?;
            writeln!(
                out,
                "changed the password of '{name}'; their sessions have ended"
            )?;
            forget_first_password(state_dir, &name, out)?;
        }
        UserCommand::Remove { name } => {
            if users.remove(&name).is_none() {
                bail!("no user '{}' in {}", name.escape_debug(), path.display());
            }
            write_users(&path, &users)?;
            writeln!(out, "removed user '{name}'; their sessions have ended")?;
            forget_first_password(state_dir, &name, out)?;
            if !users.values().any(|entry| entry.role == Role::Admin) {
                writeln!(
                    out,
                    "note: no admin is left; add one with `sysadmd user add NAME --role admin`"
                )?;
            }
        }
        UserCommand::List => unreachable!("list is answered above"),
    }
    Ok(())
}

/// The shortest password `user add` and `user passwd` accept without `--allow-weak`.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Removes the file holding the first admin's generated password once that
/// password is no longer theirs: it would only mislead (and leak an old secret).
fn forget_first_password(state_dir: &Path, name: &str, out: &mut dyn Write) -> Result<()> {
    if name != super::FIRST_USER {
        return Ok(());
    }
    let file = state_dir.join(super::ADMIN_PASSWORD_FILE);
    match std::fs::remove_file(&file) {
        Ok(()) => writeln!(
            out,
            "removed {}: it held the first password of '{name}'",
            file.display()
        )?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot remove {}", file.display()));
        }
    }
    Ok(())
}

/// The new password: the first line of `input`, or asked twice on the terminal.
fn read_password(
    name: &str,
    from_stdin: bool,
    allow_weak: bool,
    input: &mut dyn BufRead,
) -> Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        let read = input
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        if read == 0 {
            bail!("no password on standard input (--password-stdin reads its first line)");
        }
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("new password for '{name}': "))
            .context("cannot ask for a password on the terminal (use --password-stdin)")?;
        let again = rpassword::prompt_password("repeat it: ")
            .context("cannot ask for a password on the terminal (use --password-stdin)")?;
        if first != again {
            bail!("the two passwords differ; nothing changed");
        }
        first
    };
    if password.is_empty() {
        bail!("empty password refused: give at least {MIN_PASSWORD_CHARS} characters");
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS && !allow_weak {
        bail!(
            "password of {chars} characters refused: give at least {MIN_PASSWORD_CHARS} \
             (or add --allow-weak, for tests only); nothing changed"
        );
    }
    Ok(password)
}
