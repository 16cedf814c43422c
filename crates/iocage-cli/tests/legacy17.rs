//! The driver against legacy iocage 1.7.4-1.7.6, through a small stand-in
//! written from the v1.7.6 sources (iocage/iocage_legacy @6189eac): the same
//! printf formats, streams, exit statuses and prompts, with the jails kept
//! as files. Each behaviour names the line it follows. (Until fake-iocage
//! knows 1.7.x; this is not a capture.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use iocage_cli::{Clean, Created, ErrorKind, Iocage, IocageVersion, Runner, Transition};

const STAND_IN: &str = r#"#!/bin/sh
# Legacy iocage 1.7.6 (iocage/iocage_legacy @6189eac), for the driver's tests.
S="$IOC_STATE"
pool=tank
mkdir -p "$S/jails"
n=0
find_jail () { # lib/ioc-info@6189eac:60-102: UUID prefix or exact tag; nothing if none
    for f in "$S"/jails/*; do
        [ -e "$f" ] || continue
        u=$(basename "$f")
        case "$u" in "$1"*) echo "$u"; return;; esac
        [ "$(sed -n 1p "$f")" = "$1" ] && { echo "$u"; return; }
    done
}
field () { sed -n "$2p" "$S/jails/$1"; } # 1 tag, 2 state, 3 ip, 4 template, 5 origin
new_uuid () { c=$(cat "$S/count" 2>/dev/null || echo 0); c=$((c+1)); echo $c > "$S/count"; printf '%08d-ca0f-11e5-8d45-d05099728dbf\n' $c; }
props () { tag=$(date "+%F@%T"); for a in "$@"; do case "$a" in tag=*) tag=${a#tag=};; esac; done; }
case "$1" in
--version) echo "iocage 1.7.4 (2016/02/17)";; # iocage@6189eac:33
list)
    if [ "$2" = "-r" ]; then echo "Downloaded releases:"; printf "%15s\n" "10.2-RELEASE"; exit 0; fi
    printf "%-4s  %-36s  %s  %s  %-20s  %s\n" "JID" "UUID" "BOOT" "STATE" "TAG" "IP" # lib/ioc-info@6189eac:116-117
    for f in "$S"/jails/*; do
        [ -e "$f" ] || continue
        u=$(basename "$f"); t=$(field $u 4)
        if [ "$2" = "-t" ] && [ "$t" != yes ]; then continue; fi
        if [ "$2" != "-t" ] && [ "$t" = yes ]; then continue; fi
        jid=-; [ "$(field $u 2)" = up ] && jid=7
        printf "%-4s  %-+.36s  %-4s  %-4s   %-4s   %s\n" "$jid" "$u" off "$(field $u 2)" "$(field $u 1)" "$(field $u 3)" # :150-151
    done;;
get) # lib/ioc-info@6189eac:254-322, errors on stdout
    u=$(find_jail "$3")
    [ -z "$u" ] && { echo "  ERROR: jail $3 not found!"; exit 1; }
    case "$2" in
    tag) field $u 1;; ip4_addr) field $u 3;;
    all) echo "tag:$(field $u 1)"; echo "ip4_addr:$(field $u 3)";;
    *) echo "  ERROR: unsupported property: $2 !"; exit 1;;
    esac;;
show) # lib/ioc-help@6189eac:1392-1409
    { printf "%s\t%s\t%s\n" UUID TAG "$2"
      for f in "$S"/jails/*; do
        [ -e "$f" ] || continue
        u=$(basename "$f")
        case "$2" in tag) v=$(field $u 1);; *) v="  ERROR: unsupported property: $2 !";; esac
        printf "%s\t%s\t%s\n" "$u" "$(field $u 1)" "$v"
      done; } | column -t;;
df) # lib/ioc-info@6189eac:192-204
    printf "%-36s  %-6s  %-5s  %-5s  %-5s  %-5s %-20s\n" "UUID" "CRT" "RES" "QTA" "USE" "AVA" "TAG"
    for f in "$S"/jails/*; do
        [ -e "$f" ] || continue
        u=$(basename "$f")
        printf "%-36s  %-6s  %-5s  %-5s  %-5s  %-5s %-20s\n" "$u" 1.00x none none 1.2M 80G "$(field $u 1)"
    done;;
create) # lib/ioc-zfs@6189eac:148-246: silent, but `-e` echoes the UUID
    props "$@"; u=$(new_uuid)
    [ -e "$S/failmode" ] && { echo "  ERROR: No RELEASEs found locally, run iocage fetch first."; exit 1; }
    printf '%s\ndown\nnone\nno\n-\n' "$tag" > "$S/jails/$u"
    [ "$2" = "-e" ] && echo "$u"; exit 0;;
clone) # lib/ioc-zfs@6189eac:249-305: silent
    src=$(find_jail "$2")
    [ -z "$src" ] && { echo "  ERROR: $2 not found."; exit 1; }
    props "$@"; u=$(new_uuid)
    printf '%s\ndown\nnone\nno\n%s\n' "$tag" "$src" > "$S/jails/$u";;
destroy) # lib/ioc-zfs@6189eac:307-379
    u=$(find_jail "$3")
    [ -z "$u" ] && { echo "  ERROR: $3 not found."; exit 1; }
    [ "$(field $u 2)" = up ] && { echo "  ERROR: Jail is up and running. Exiting."; exit 1; }
    echo "  Destroying: $u"
    if grep -qx "$u" "$S"/jails/* 2>/dev/null; then
        echo "cannot destroy 'tank/iocage/jails/$u': filesystem has dependent clones" >&2
        echo "use '-R' to destroy the following datasets:" >&2
        exit 0
    fi
    rm "$S/jails/$u";;
start) # lib/ioc-rc@6189eac:3-150
    u=$(find_jail "$2")
    [ -z "$u" ] && { echo "  ERROR: $2 not found"; exit 1; }
    [ "$(field $u 2)" = up ] && { echo "* $u: is already up"; exit 1; }
    sed -i 2s/down/up/ "$S/jails/$u"
    echo "* Starting $u ($(field $u 1))"; echo "  + Started (shared IP mode) OK";;
stop)
    u=$(find_jail "$2")
    [ "$(field $u 2)" = down ] && { echo "* $u: is already down"; exit 1; }
    sed -i 2s/up/down/ "$S/jails/$u"
    echo "* Stopping $u ($(field $u 1))"; echo "  + Removing jail process OK";;
clean) # lib/ioc-cmd@6189eac:26, lib/ioc-zfs@6189eac:30-96: -a|-r|-j only, always asks
    case "$2" in
    -j) echo " "; echo "  WARNING: this will destroy all jails"; echo " "
        echo "  Please make sure all jails are stopped before continuing."; echo " "
        echo -n "  Are you sure ? y[N]: "; read _answer
        if [ "$_answer" = "Y" -o "$_answer" = "y" ]; then
            echo "  Destroying $pool/iocage/jails"; rm -f "$S"/jails/*
            echo "  Cleaning TAGs at $pool/iocage/tags"; exit 0
        else echo "  Command not confirmed.  No action taken."; exit 1; fi;;
    esac;;
activate) # lib/ioc-zfs@6189eac:5-17; __find_mypool warns on stdout (lib/ioc-info@6189eac:214-228)
    [ -e "$S/pools" ] || printf 'tank iocage\ndata -\n' > "$S/pools"
    if [ -n "$2" ]; then sed -i "s/^$2 .*/$2 iocage/" "$S/pools"; exit 0; fi
    if [ "$(grep -c ' iocage$' "$S/pools")" -gt 1 ]; then
        echo ""; echo "  WARNING: You have more then one pool set for iocage use!"; echo ""
        echo "**** POOLS ****"; grep ' iocage$' "$S/pools" | tr ' ' '\t'; echo "***************"
        echo ""; echo "  Please run 'iocage deactivate' on one of them"; echo ""
        exit 1
    fi
    echo "pool: $(grep ' iocage$' "$S/pools" | cut -d' ' -f1)";;
deactivate) # iocage@6189eac:93-96, lib/ioc-zfs@6189eac:19-28
    sed -i "s/^$2 .*/$2 inherit/" "$S/pools";;
exec) # lib/ioc-common@6189eac:121-170: errors on stdout, then jexec's status
    shift 3; u=$(find_jail "$1")
    [ -z "$u" ] && { echo "  ERROR: $1 not found."; exit 1; }
    shift
    "$@";;
*) echo "  ERROR: unknown command $1"; exit 1;;
esac
"#;

fn stand_in(dir: &Path) -> Runner {
    let program = dir.join("iocage");
    std::fs::write(&program, STAND_IN).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    Runner::new(program).env("IOC_STATE", dir.join("state"))
}

/// A host of its own and the driver for it.
async fn host() -> (tempfile::TempDir, Iocage) {
    let dir = tempfile::tempdir().unwrap();
    let iocage = Iocage::detect(stand_in(dir.path())).await.unwrap();
    (dir, iocage)
}

/// Creates a jail tagged `tag` (not empty), which must succeed.
async fn make(iocage: &Iocage, tag: &str) -> Created {
    iocage
        .create(&props(&[("tag", tag)]), false)
        .await
        .unwrap()
        .value
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_174_line_is_detected_and_driven() {
    let (_dir, iocage) = host().await;
    assert!(matches!(
        iocage.version(),
        Some(IocageVersion::LegacyRelease { number }) if number == "1.7.4"
    ));
    assert!(iocage.list(false).await.unwrap().value.jails.is_empty());
}

#[tokio::test]
async fn a_silent_create_is_found_by_listing_and_the_ip_column_is_read() {
    let (_dir, iocage) = host().await;
    let made = iocage
        .create(
            &props(&[("tag", "web"), ("release", "10.2-RELEASE")]),
            false,
        )
        .await
        .unwrap()
        .value;
    assert_eq!(made.tag, "web");
    assert_eq!(made.name.len(), 36, "{made:?}");
    let list = iocage.list(false).await.unwrap().value;
    assert_eq!(list.jails.len(), 1);
    assert_eq!(list.jails[0].name, made.name);
    assert_eq!(list.jails[0].tag.as_deref(), Some("web"));
    assert_eq!(list.jails[0].ip4.as_deref(), Some("none"));
    // `create -e` echoes the UUID (lib/ioc-zfs@6189eac:214-216).
    let empty = iocage
        .create(&props(&[("tag", "bare")]), true)
        .await
        .unwrap()
        .value;
    assert_eq!(empty.tag, "bare");
    assert_ne!(empty.name, made.name);
    // Without a tag, the jail gets the time as its tag (lib/ioc-globals@6189eac:103).
    let dated = iocage
        .create(&props(&[("release", "10.2-RELEASE")]), false)
        .await
        .unwrap()
        .value;
    assert_eq!(dated.tag.len(), 19, "{dated:?}");
    assert_eq!(&dated.tag[10..11], "@", "{dated:?}");
}

#[tokio::test]
async fn a_failed_create_keeps_the_error_printed_on_stdout() {
    let (dir, iocage) = host().await;
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/failmode"), "fail").unwrap();
    let error = iocage
        .create(&props(&[("tag", "web")]), false)
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Failed, "{error:?}");
    assert!(error.text.contains("No RELEASEs found locally"), "{error}");
    assert!(iocage.list(false).await.unwrap().value.jails.is_empty());
}

#[tokio::test]
async fn state_comes_from_the_list_and_already_up_has_the_documented_wording() {
    let (_dir, iocage) = host().await;
    let made = make(&iocage, "web").await;
    assert_eq!(iocage.get("state", &made.name).await.unwrap().value, "down");
    let started = iocage.start(&made.name).await.unwrap().value;
    assert_eq!(
        started,
        Transition::Changed(vec![
            format!("* Starting {} (web)", made.name),
            "+ Started (shared IP mode) OK".to_owned()
        ])
    );
    assert_eq!(iocage.get("state", &made.name).await.unwrap().value, "up");
    // `* UUID: is already up` on stdout, exit 1 (lib/ioc-rc@6189eac:38-41).
    assert_eq!(
        iocage.start(&made.name).await.unwrap().value,
        Transition::Already(format!("{} (web) is already up", made.name))
    );
    iocage.stop(&made.name).await.unwrap();
    assert_eq!(
        iocage.stop(&made.name).await.unwrap().value,
        Transition::Already(format!("{} (web) is already down", made.name))
    );
    let missing = iocage.get("state", "nosuch").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");
    // Errors on stdout (lib/ioc-info@6189eac:288-290).
    let missing = iocage.get("tag", "nosuch").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");
    assert_eq!(missing.text, "jail nosuch not found!");
}

#[tokio::test]
async fn a_silent_clone_is_found_and_a_source_with_clones_is_not_destroyed() {
    let (_dir, iocage) = host().await;
    let source = make(&iocage, "src").await;
    let clone = iocage
        .clone_jail(&source.name, &props(&[("tag", "copy")]))
        .await
        .unwrap()
        .value;
    assert_eq!(clone.tag, "copy");
    assert_ne!(clone.name, source.name);
    // 1.7.x prints `Destroying:` and ignores zfs's failure
    // (lib/ioc-zfs@6189eac:362-378): the listing tells.
    let error = iocage.destroy(&source.name).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Conflict, "{error:?}");
    assert!(error.text.contains("dependent clones"), "{error}");
    iocage.destroy(&clone.name).await.unwrap();
    iocage.destroy(&source.name).await.unwrap();
    assert!(iocage.list(false).await.unwrap().value.jails.is_empty());
}

#[tokio::test]
async fn clean_answers_the_prompt_and_templates_are_not_supported() {
    let (_dir, iocage) = host().await;
    make(&iocage, "web").await;
    iocage.clean(Clean::Jails).await.unwrap();
    assert!(iocage.list(false).await.unwrap().value.jails.is_empty());
    let error = iocage.clean(Clean::Templates).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotSupported, "{error:?}");
}

#[tokio::test]
async fn show_stands_in_for_get_r_and_df_tags_lose_their_padding() {
    let (_dir, iocage) = host().await;
    let made = make(&iocage, "web").await;
    let get = iocage.get_recursive("tag").await.unwrap().value;
    assert_eq!(get.rows.len(), 1);
    assert_eq!(get.rows[0].name, made.name);
    assert_eq!(get.rows[0].value, "web");
    let error = iocage.get_recursive("nosuch").await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid, "{error:?}");
    let df = iocage.df().await.unwrap().value;
    assert_eq!(df[0].tag.as_deref(), Some("web"));
    assert_eq!(df[0].name, made.name);
}

#[tokio::test]
async fn exec_tells_its_own_errors_on_stdout_from_the_command_s() {
    let (_dir, iocage) = host().await;
    let made = make(&iocage, "web").await;
    let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let done = iocage
        .exec(
            &made.name,
            "root",
            &argv(&["sh", "-c", "echo '  ERROR: mine'; exit 1"]),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(done.status, 1);
    assert_eq!(done.lines, vec!["  ERROR: mine"]);
    let error = iocage
        .exec("nosuch", "root", &argv(&["true"]))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound, "{error:?}");
}

#[tokio::test]
async fn activating_a_pool_leaves_no_other_pool_marked() {
    let (_dir, iocage) = host().await;
    assert_eq!(iocage.active_pool().await.unwrap().value, "tank");
    let done = iocage.activate("data").await.unwrap();
    assert!(
        done.messages
            .iter()
            .any(|m| m.text.contains("deactivated tank")),
        "{done:?}"
    );
    // Without the deactivation, this would fail with "more then one pool".
    assert_eq!(iocage.active_pool().await.unwrap().value, "data");
    // Activating the active pool changes nothing.
    iocage.activate("data").await.unwrap();
    assert_eq!(iocage.active_pool().await.unwrap().value, "data");
}
