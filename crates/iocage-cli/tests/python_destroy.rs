//! Python iocage's `destroy`: with `-f` it skips the dependents check and,
//! since 1.2, destroys the clones too (`zfs destroy -r -Rf`), so the driver
//! runs it without `-f` and answers the prompt. The stand-in follows
//! iocage_cli/destroy.py@6f6f4eb:36-87,102-131 (confirm, then `child_test`);
//! it is written from the source, not a capture.

use std::os::unix::fs::PermissionsExt;

use iocage_cli::{ErrorKind, Flavour, Iocage, Runner};

const STAND_IN: &str = r#"#!/bin/sh
S="$IOC_STATE"
[ "$1" = destroy ] || exit 2
if [ "$2" = -f ]; then echo "Destroying $3"; rm -f "$S/$3"*; exit 0; fi
printf '\nThis will destroy jail %s\n' "$2" >&2
printf '\nAre you sure? [y/N]: '
read answer
[ "$answer" = y ] || { echo "Aborted!" >&2; exit 1; }
if [ -e "$S/$2@snap" ]; then
    printf '\n%s has dependent jails (who may also have dependents), use --recursive to destroy: \n' "$2" >&2
    printf '  %s@clone\n' "$2" >&2
    exit 1
fi
echo "Destroying $2"; rm -f "$S/$2"
"#;

#[tokio::test]
async fn a_jail_with_dependents_is_refused_and_one_without_is_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("iocage");
    std::fs::write(&program, STAND_IN).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in ["src", "src@snap", "lone"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let runner = Runner::new(program).env("IOC_STATE", dir.path());
    let iocage = Iocage::assume(runner, Flavour::Python);
    let error = iocage.destroy("src").await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Conflict, "{error:?}");
    assert!(error.text.contains("has dependent jails"), "{error}");
    assert!(dir.path().join("src").exists(), "nothing was destroyed");
    iocage.destroy("lone").await.unwrap();
    assert!(!dir.path().join("lone").exists());
}
