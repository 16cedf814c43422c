//! Typed calls: one method per iocage action, returning `sysadm-proto`'s
//! result types, and the `rpc` requests (identify, query, jobs).

use sysadm_proto::{
    ActivatePoolResult, CloneJailResult, CreateJailResult, DefaultSettings, DestroyJailResult,
    DfTable, DispatcherEvent, ExecJailResult, IOCAGE_NAME, IOCAGE_NAMESPACE, IdentifyReply,
    IocageRequest, IocageResponse, JailList, JailSettings, JailSettingsQuery, JailStatus,
    KeyCreated, KeyList, KeyRevoked, KeySpec, KeysRequest, PluginList, QueryReply, RPC_NAMESPACE,
    ReleaseList, RpcRequest, Success,
};

use crate::client::Client;
use crate::error::{Error, Result};

/// Generates a method that sends one request and unpacks one response variant.
macro_rules! typed {
    ($(#[$doc:meta])* $method:ident($($arg:ident: $ty:ty),*) -> $result:ty,
     $request:expr, $variant:ident) => {
        $(#[$doc])*
        pub async fn $method(&self, $($arg: $ty),*) -> Result<$result> {
            match self.iocage($request).await? {
                IocageResponse::$variant(result) => Ok(result),
                other => Err(unexpected(stringify!($variant), &other)),
            }
        }
    };
}

fn unexpected(wanted: &str, got: &IocageResponse) -> Error {
    Error::Decode(format!(
        "expected the result of {}, got the result of {}",
        wanted.to_ascii_lowercase(),
        got.action()
    ))
}

impl Client {
    /// Any iocage request, typed both ways.
    pub async fn iocage(&self, request: IocageRequest) -> Result<IocageResponse> {
        self.call_typed(IOCAGE_NAMESPACE, IOCAGE_NAME, request.to_args())
            .await
    }

    /// An `rpc` request; the reply's `args`.
    pub async fn rpc(&self, request: &RpcRequest) -> Result<serde_json::Value> {
        self.call(RPC_NAMESPACE, request.name(), request.to_args())
            .await
    }

    typed!(
        /// `listjails`: every jail by UUID.
        list_jails() -> JailList, IocageRequest::ListJails, ListJails);
    typed!(
        /// `startjail`.
        start_jail(jail: &str) -> JailStatus,
        IocageRequest::StartJail { jail: jail.to_owned() }, StartJail);
    typed!(
        /// `stopjail`.
        stop_jail(jail: &str) -> JailStatus,
        IocageRequest::StopJail { jail: jail.to_owned() }, StopJail);
    typed!(
        /// `capjail`: re-apply resource limits.
        cap_jail(jail: &str) -> Success,
        IocageRequest::CapJail { jail: jail.to_owned() }, CapJail);
    typed!(
        /// `destroyjail`: destroy a stopped jail.
        destroy_jail(jail: &str) -> DestroyJailResult,
        IocageRequest::DestroyJail { jail: jail.to_owned() }, DestroyJail);
    typed!(
        /// `createjail`: `props` are `key=value` words (`tag=web2 release=14.2-RELEASE`);
        /// `empty` is the `-e` switch.
        create_jail(props: &str, empty: bool) -> CreateJailResult,
        IocageRequest::CreateJail { props: props.to_owned(), empty }, CreateJail);
    typed!(
        /// `clonejail`: clone `jail` with `props` that should differ.
        clone_jail(jail: &str, props: &str) -> CloneJailResult,
        IocageRequest::CloneJail { jail: jail.to_owned(), props: props.to_owned() }, CloneJail);
    typed!(
        /// `execjail`: run `command` (split with POSIX quoting, never by a shell) as `user`.
        exec_jail(jail: &str, user: &str, command: &str) -> ExecJailResult,
        IocageRequest::ExecJail { jail: jail.to_owned(), user: user.to_owned(), command: command.to_owned() },
        ExecJail);
    typed!(
        /// `getjailsettings`: one property, every property, or one property of every jail.
        jail_settings(query: JailSettingsQuery) -> JailSettings,
        IocageRequest::GetJailSettings(query), GetJailSettings);
    typed!(
        /// `getdefaultsettings`.
        default_settings() -> DefaultSettings, IocageRequest::GetDefaultSettings, GetDefaultSettings);
    typed!(
        /// `df`: disk usage of every jail.
        df() -> DfTable, IocageRequest::Df, Df);
    typed!(
        /// `listplugins`: the remote plugin index.
        list_plugins() -> PluginList, IocageRequest::ListPlugins, ListPlugins);
    typed!(
        /// `listreleases`: local and remote releases.
        list_releases() -> ReleaseList, IocageRequest::ListReleases, ListReleases);
    typed!(
        /// `activatepool`: activate `pool`, or (with `None`) report the active pool.
        activate_pool(pool: Option<&str>) -> ActivatePoolResult,
        IocageRequest::ActivatePool { pool: pool.map(str::to_owned) }, ActivatePool);
    typed!(
        /// `deactivatepool`.
        deactivate_pool(pool: &str) -> Success,
        IocageRequest::DeactivatePool { pool: pool.to_owned() }, DeactivatePool);
    typed!(
        /// `cleanall`: destroy every iocage dataset.
        clean_all() -> Success, IocageRequest::CleanAll, CleanAll);
    typed!(
        /// `cleanjails`: destroy every jail.
        clean_jails() -> Success, IocageRequest::CleanJails, CleanJails);
    typed!(
        /// `cleanreleases`: destroy every fetched release.
        clean_releases() -> Success, IocageRequest::CleanReleases, CleanReleases);
    typed!(
        /// `cleantemplates`: destroy every template.
        clean_templates() -> Success, IocageRequest::CleanTemplates, CleanTemplates);

    /// `rpc/identify`: the server's host name.
    pub async fn identify(&self) -> Result<IdentifyReply> {
        self.typed_rpc(&RpcRequest::Identify).await
    }

    /// `rpc/query`: what this login may do with each class.
    pub async fn query(&self) -> Result<QueryReply> {
        self.typed_rpc(&RpcRequest::Query).await
    }

    /// `rpc/dispatcher list`: the jobs running now.
    pub async fn running_jobs(&self) -> Result<Vec<DispatcherEvent>> {
        self.typed_rpc(&RpcRequest::DispatcherList).await
    }

    /// `rpc/keys create` (admins): a new API key; its secret is in the reply, once.
    pub async fn create_key(&self, spec: KeySpec) -> Result<KeyCreated> {
        self.typed_rpc(&RpcRequest::Keys(KeysRequest::Create(spec)))
            .await
    }

    /// `rpc/keys list` (admins): every key, never the secrets.
    pub async fn list_keys(&self) -> Result<KeyList> {
        self.typed_rpc(&RpcRequest::Keys(KeysRequest::List)).await
    }

    /// `rpc/keys revoke` (admins): the key's sessions end at once.
    pub async fn revoke_key(&self, name: &str) -> Result<KeyRevoked> {
        self.typed_rpc(&RpcRequest::Keys(KeysRequest::Revoke {
            name: name.to_owned(),
        }))
        .await
    }

    async fn typed_rpc<T: serde::de::DeserializeOwned>(&self, request: &RpcRequest) -> Result<T> {
        self.call_typed(RPC_NAMESPACE, request.name(), request.to_args())
            .await
    }
}
