//! A simulated host on which `df` is slow and everything else is not: lets
//! tests see that slow requests do not hold up fast ones.

use std::time::Duration;

use async_trait::async_trait;
use iocage_service::{
    Backend, BackendResult, CleanTarget, DfEntry, ExecOutput, JailInfo, NewJail, PluginInfo,
    PropertyRow, Releases, SimBackend, StateChange,
};

/// [`SimBackend`] with `df` taking `delay`.
#[derive(Debug)]
pub struct SlowDf {
    pub inner: SimBackend,
    pub delay: Duration,
}

#[async_trait]
impl Backend for SlowDf {
    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        self.inner.list_jails().await
    }
    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        tokio::time::sleep(self.delay).await;
        self.inner.df().await
    }
    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String> {
        self.inner.get_property(uuid, prop).await
    }
    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        self.inner.get_all(uuid).await
    }
    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        self.inner.get_recursive(prop).await
    }
    async fn defaults(&self) -> BackendResult<Vec<(String, String)>> {
        self.inner.defaults().await
    }
    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        self.inner.start(uuid).await
    }
    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        self.inner.stop(uuid).await
    }
    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        self.inner.cap(uuid).await
    }
    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        self.inner.create(props, empty).await
    }
    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        self.inner.clone_jail(uuid, props).await
    }
    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        self.inner.destroy(uuid).await
    }
    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        self.inner.exec(uuid, user, argv).await
    }
    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        self.inner.clean(target).await
    }
    async fn active_pool(&self) -> BackendResult<String> {
        self.inner.active_pool().await
    }
    async fn activate(&self, pool: &str) -> BackendResult<()> {
        self.inner.activate(pool).await
    }
    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        self.inner.deactivate(pool).await
    }
    async fn releases(&self) -> BackendResult<Releases> {
        self.inner.releases().await
    }
    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        self.inner.plugins().await
    }
}
