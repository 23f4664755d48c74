//! The CA store: [`CaStore`], the one interface the resolver mints through, and
//! [`CaRegistry`], several issuing CAs with a subset enabled, one default, and selection rules.

use std::sync::{Arc, RwLock};

use rustls::pki_types::UnixTime;

use crate::cache::store::CertCache;
use crate::error::{Error, IssuerError, RegistryError};
use crate::mint::minter::Minter;
use crate::x509::name::rfc4514;

/// What a store says about one CA.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaInfo {
    /// The CA's id in the store.
    pub id: String,
    /// Its subject (RFC 4514).
    pub subject: String,
    /// Its notAfter.
    pub not_after: UnixTime,
    /// Whether new mints may use it.
    pub enabled: bool,
    /// Whether it is the default.
    pub default: bool,
}

/// A CA's health.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CaHealth {
    /// It signs, and has more than a day left.
    Ok,
    /// It signs, but expires within a day.
    ExpiringSoon,
    /// It cannot be used: expired, or its signer fails (a token gone, a wrong PIN).
    Failing(Error),
}

/// A store of issuing CAs. The resolver mints only through this trait, so one CA, a registry,
/// software keys, PKCS#11 keys and rotating sub-CAs are interchangeable.
pub trait CaStore: std::fmt::Debug + Send + Sync {
    /// Every CA in the store.
    fn list(&self) -> Vec<CaInfo>;

    /// The minter (issuer, signer and chain) to mint with for `host` (normalised) and an
    /// optional caller-supplied tenant.
    fn select(&self, host: Option<&str>, tenant: Option<&str>) -> Result<Arc<Minter>, Error>;

    /// The minter of one CA by id.
    fn get(&self, id: &str) -> Result<Arc<Minter>, Error>;

    /// Each CA's health: signs a probe through its signer (for PKCS#11, a real round trip to
    /// the token) and checks its validity.
    fn health(&self) -> Vec<(String, CaHealth)> {
        self.list()
            .into_iter()
            .map(|info| {
                let health = self.get(&info.id).and_then(|m| probe(&m));
                let health = health.unwrap_or_else(CaHealth::Failing);
                (info.id, health)
            })
            .collect()
    }
}

fn probe(minter: &Minter) -> Result<CaHealth, Error> {
    let issuer = minter.issuer()?;
    issuer.signer().sign(b"certmint health probe")?;
    let now = UnixTime::now().as_secs();
    let not_after = issuer.not_after().as_secs();
    Ok(if now >= not_after {
        CaHealth::Failing(
            IssuerError::Expired {
                not_after: issuer.not_after(),
            }
            .into(),
        )
    } else if not_after - now < 86_400 {
        CaHealth::ExpiringSoon
    } else {
        CaHealth::Ok
    })
}

fn info(id: &str, minter: &Minter, enabled: bool, default: bool) -> CaInfo {
    let (subject, not_after) = match minter.issuer() {
        Ok(issuer) => (rfc4514(issuer.subject()), issuer.not_after()),
        Err(_) => (
            String::new(),
            UnixTime::since_unix_epoch(std::time::Duration::ZERO),
        ),
    };
    CaInfo {
        id: id.to_owned(),
        subject,
        not_after,
        enabled,
        default,
    }
}

/// A store of one CA (id `default`).
#[derive(Debug)]
pub struct SingleCa(Arc<Minter>);

impl SingleCa {
    /// A store holding `minter`.
    pub fn new(minter: Arc<Minter>) -> Self {
        Self(minter)
    }
}

impl CaStore for SingleCa {
    fn list(&self) -> Vec<CaInfo> {
        vec![info("default", &self.0, true, true)]
    }

    fn select(&self, _host: Option<&str>, _tenant: Option<&str>) -> Result<Arc<Minter>, Error> {
        Ok(Arc::clone(&self.0))
    }

    fn get(&self, id: &str) -> Result<Arc<Minter>, Error> {
        match id {
            "default" => Ok(Arc::clone(&self.0)),
            _ => Err(RegistryError::UnknownCa(id.to_owned()).into()),
        }
    }
}

/// How a CA is picked for a mint, tried in order before the default.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectionRule {
    /// Hosts equal to `pattern`, or under it when it starts with `*.` (`*.corp.example`
    /// matches `a.corp.example` and `a.b.corp.example`, not `corp.example`).
    Host {
        /// The pattern.
        pattern: String,
        /// The CA's id.
        ca: String,
    },
    /// A caller-supplied tenant.
    Tenant {
        /// The tenant.
        tenant: String,
        /// The CA's id.
        ca: String,
    },
}

impl SelectionRule {
    fn ca(&self) -> &str {
        match self {
            Self::Host { ca, .. } | Self::Tenant { ca, .. } => ca,
        }
    }

    fn matches(&self, host: Option<&str>, tenant: Option<&str>) -> bool {
        match self {
            Self::Tenant { tenant: t, .. } => tenant == Some(t.as_str()),
            Self::Host { pattern, .. } => host.is_some_and(|h| match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    h.len() > suffix.len() + 1
                        && h.ends_with(suffix)
                        && h.as_bytes()[h.len() - suffix.len() - 1] == b'.'
                }
                None => h == pattern,
            }),
        }
    }
}

#[derive(Debug)]
struct Entry {
    id: String,
    minter: Arc<Minter>,
    enabled: bool,
}

#[derive(Debug, Default)]
struct State {
    cas: Vec<Entry>,
    default: Option<String>,
    rules: Vec<SelectionRule>,
}

impl State {
    fn entry(&self, id: &str) -> Result<&Entry, RegistryError> {
        self.cas
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| RegistryError::UnknownCa(id.to_owned()))
    }

    fn entry_mut(&mut self, id: &str) -> Result<&mut Entry, RegistryError> {
        self.cas
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| RegistryError::UnknownCa(id.to_owned()))
    }

    /// Moves the default away from `id` to `new_default` (which must be enabled), or refuses.
    fn hand_over_default(
        &mut self,
        id: &str,
        new_default: Option<&str>,
    ) -> Result<(), RegistryError> {
        if self.default.as_deref() != Some(id) {
            return Ok(());
        }
        let next =
            new_default.ok_or_else(|| RegistryError::DefaultNeedsSuccessor(id.to_owned()))?;
        if next == id || !self.entry(next)?.enabled {
            return Err(RegistryError::DefaultNeedsSuccessor(id.to_owned()));
        }
        self.default = Some(next.to_owned());
        Ok(())
    }
}

/// Several issuing CAs, no arbitrary cap: add, enable, disable, remove; exactly one default;
/// selection rules by host pattern or tenant.
///
/// Disabling (or removing) a CA stops new mints with it at once, and purges its leaves from the
/// attached cache so they are no longer served.
///
/// ```
/// use std::sync::Arc;
/// use certmint::{registry::SelectionRule, keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa};
/// use certmint::{CaRegistry, CaStore, KeyAlgorithm, Minter};
/// let minter = |name| -> Arc<Minter> {
///     let ca = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, name).unwrap();
///     Arc::new(Minter::new(Arc::new(ca.issuer().unwrap()), Arc::new(KeyPool::inline()), MintPolicy::default()))
/// };
/// let registry = CaRegistry::new();
/// registry.add("corp", minter("corp"), true)?;          // the first enabled CA becomes the default
/// registry.add("finance", minter("finance"), true)?;
/// registry.add_rule(SelectionRule::Host { pattern: "*.bank.example".into(), ca: "finance".into() })?;
/// let picked = registry.select(Some("www.bank.example"), None)?;
/// assert!(Arc::ptr_eq(&picked, &registry.get("finance")?));
/// # Ok::<(), certmint::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct CaRegistry {
    state: RwLock<State>,
    cache: RwLock<Option<Arc<CertCache>>>,
}

impl CaRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Purge leaves from `cache` when a CA is disabled or removed.
    pub fn attach_cache(&self, cache: Arc<CertCache>) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(cache);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a CA. The first enabled CA becomes the default.
    pub fn add(&self, id: &str, minter: Arc<Minter>, enabled: bool) -> Result<(), Error> {
        let mut state = self.write();
        if state.cas.iter().any(|e| e.id == id) {
            return Err(RegistryError::DuplicateCa(id.to_owned()).into());
        }
        state.cas.push(Entry {
            id: id.to_owned(),
            minter,
            enabled,
        });
        if enabled && state.default.is_none() {
            state.default = Some(id.to_owned());
        }
        Ok(())
    }

    /// Enables a CA.
    pub fn enable(&self, id: &str) -> Result<(), Error> {
        let mut state = self.write();
        state.entry_mut(id)?.enabled = true;
        if state.default.is_none() {
            state.default = Some(id.to_owned());
        }
        Ok(())
    }

    /// Disables a CA. Disabling the default is refused unless `new_default` names another
    /// enabled CA, which becomes the default.
    pub fn disable(&self, id: &str, new_default: Option<&str>) -> Result<(), Error> {
        let issuer_id = {
            let mut state = self.write();
            state.entry(id)?;
            state.hand_over_default(id, new_default)?;
            let entry = state.entry_mut(id)?;
            entry.enabled = false;
            *entry.minter.issuer_id()
        };
        self.purge(issuer_id);
        Ok(())
    }

    /// Removes a CA (and every rule naming it); the same default rule as [`CaRegistry::disable`].
    pub fn remove(&self, id: &str, new_default: Option<&str>) -> Result<(), Error> {
        let issuer_id = {
            let mut state = self.write();
            state.entry(id)?;
            state.hand_over_default(id, new_default)?;
            let index = state
                .cas
                .iter()
                .position(|e| e.id == id)
                .ok_or_else(|| RegistryError::UnknownCa(id.to_owned()))?;
            let entry = state.cas.remove(index);
            state.rules.retain(|r| r.ca() != id);
            *entry.minter.issuer_id()
        };
        self.purge(issuer_id);
        Ok(())
    }

    /// Makes an enabled CA the default.
    pub fn set_default(&self, id: &str) -> Result<(), Error> {
        let mut state = self.write();
        if !state.entry(id)?.enabled {
            return Err(RegistryError::Disabled(id.to_owned()).into());
        }
        state.default = Some(id.to_owned());
        Ok(())
    }

    /// Adds a selection rule (tried in the order added, before the default).
    pub fn add_rule(&self, rule: SelectionRule) -> Result<(), Error> {
        let mut state = self.write();
        state.entry(rule.ca())?;
        state.rules.push(rule);
        Ok(())
    }

    /// Every CA's minter.
    /// Takes `other`'s CAs, default and rules in one step (a reload: `other` was built and
    /// checked first). The attached cache is kept; purging it is the caller's business.
    pub(crate) fn replace_with(&self, other: CaRegistry) {
        let state = other.state.into_inner().unwrap_or_else(|e| e.into_inner());
        *self.write() = state;
    }

    pub(crate) fn minters(&self) -> Vec<Arc<Minter>> {
        self.read()
            .cas
            .iter()
            .map(|e| Arc::clone(&e.minter))
            .collect()
    }

    fn purge(&self, issuer_id: [u8; 32]) {
        if let Some(cache) = &*self.cache.read().unwrap_or_else(|e| e.into_inner()) {
            cache.retain(|key| key.issuer != issuer_id);
        }
    }
}

impl CaStore for CaRegistry {
    fn list(&self) -> Vec<CaInfo> {
        let state = self.read();
        state
            .cas
            .iter()
            .map(|e| {
                info(
                    &e.id,
                    &e.minter,
                    e.enabled,
                    state.default.as_deref() == Some(e.id.as_str()),
                )
            })
            .collect()
    }

    fn select(&self, host: Option<&str>, tenant: Option<&str>) -> Result<Arc<Minter>, Error> {
        let state = self.read();
        for rule in &state.rules {
            if rule.matches(host, tenant) {
                if let Ok(entry) = state.entry(rule.ca()) {
                    if entry.enabled {
                        return Ok(Arc::clone(&entry.minter));
                    }
                }
            }
        }
        let default = state.default.as_deref().ok_or(RegistryError::NoDefault)?;
        let entry = state.entry(default)?;
        if !entry.enabled {
            return Err(RegistryError::Disabled(default.to_owned()).into());
        }
        Ok(Arc::clone(&entry.minter))
    }

    fn get(&self, id: &str) -> Result<Arc<Minter>, Error> {
        Ok(Arc::clone(&self.read().entry(id)?.minter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let rule = |p: &str| SelectionRule::Host {
            pattern: p.into(),
            ca: "x".into(),
        };
        assert!(rule("*.corp.example").matches(Some("a.corp.example"), None));
        assert!(rule("*.corp.example").matches(Some("a.b.corp.example"), None));
        assert!(!rule("*.corp.example").matches(Some("corp.example"), None));
        assert!(!rule("*.corp.example").matches(Some("evilcorp.example"), None));
        assert!(rule("corp.example").matches(Some("corp.example"), None));
        assert!(!rule("corp.example").matches(None, Some("corp.example")));
        let tenant = SelectionRule::Tenant {
            tenant: "acme".into(),
            ca: "x".into(),
        };
        assert!(tenant.matches(Some("a"), Some("acme")) && !tenant.matches(Some("a"), None));
    }
}
