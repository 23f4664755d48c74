//! The deployment configuration file (TOML, feature `config`), shared by `certmint proxy
//! --config` and, later, the Squid helper and the C ABI.
//!
//! ```toml
//! default_ca = "corp"              # optional: else the first enabled CA
//!
//! [cache]
//! max_mib = 64
//!
//! [untrusted]
//! policy = "mirror"                # or "refuse" (the default)
//! ca = "untrusted"                 # a [[ca]] that clients do not trust; never picked otherwise
//!
//! [upstream]
//! roots = ["public-roots.pem"]     # default: the Mozilla roots
//!
//! [[ca]]
//! id = "corp"
//! cert = "intermediate.pem"        # the issuing certificate, optionally followed by its chain
//! key = "intermediate-key.pem"     # or "pkcs11:token=...;object=...?module-path=..."
//! key_pass_file = "pass.txt"       # optional; else CERTMINT_CA_KEY_PASS
//! enabled = true
//! crl_base_url = "http://crl.corp.example/certmint"
//! ocsp_urls = []
//! ca_issuers_urls = []
//! [ca.rotation]                    # optional: leaves are signed by a rotating sub-CA
//! lifetime_days = 7
//! renew_after_days = 6
//!
//! [[rule]]
//! host = "*.bank.example"
//! ca = "bank"
//! [[rule]]
//! tenant = "acme"
//! ca = "acme"
//! ```
//!
//! Unknown keys and bad values are errors that name the line. Relative paths are relative to
//! the configuration file's directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::ca::{CaRegistry, Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, SelectionRule};
use crate::cache::{CacheConfig, CertCache};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::mint::{KeyPool, MintPolicy, Minter};
use crate::origin_trust::UntrustedPolicy;

/// Why the configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file (or `<string>`).
    pub path: String,
    /// What is wrong, with the line.
    pub message: String,
}

/// The parsed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The default CA's id.
    default_ca: Option<Spanned<String>>,
    #[serde(default)]
    cache: CacheSection,
    #[serde(default)]
    untrusted: UntrustedSection,
    #[serde(default)]
    upstream: UpstreamSection,
    #[serde(default, rename = "ca")]
    cas: Vec<CaSection>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSection>,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    origin: String,
    #[serde(skip)]
    base_dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheSection {
    max_mib: Option<u64>,
    expiry_margin_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UntrustedSection {
    #[serde(default)]
    policy: Option<Spanned<String>>,
    ca: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamSection {
    #[serde(default)]
    roots: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaSection {
    id: Spanned<String>,
    cert: PathBuf,
    key: String,
    key_pass_file: Option<PathBuf>,
    #[serde(default = "yes")]
    enabled: bool,
    crl_base_url: Option<String>,
    #[serde(default)]
    ocsp_urls: Vec<String>,
    #[serde(default)]
    ca_issuers_urls: Vec<String>,
    rotation: Option<RotationSection>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationSection {
    lifetime_days: Option<u64>,
    renew_after_days: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    host: Option<String>,
    tenant: Option<String>,
    ca: Spanned<String>,
}

/// What a configuration file builds: everything a proxy needs.
#[derive(Debug)]
pub struct Deployment {
    /// The trusted CAs, with the default and the selection rules.
    pub registry: Arc<CaRegistry>,
    /// The cache, attached to the registry.
    pub cache: Arc<CertCache>,
    /// What to do with untrusted origins.
    pub untrusted_policy: UntrustedPolicy,
    /// The CA for mirrored distrust.
    pub untrusted_ca: Option<Arc<Minter>>,
    /// PEM files of roots to validate origins against (empty: the Mozilla roots).
    pub upstream_roots: Vec<PathBuf>,
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        Ok(config)
    }

    /// Parses and checks TOML text (relative paths are relative to the working directory).
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let mut config: Self = toml::from_str(text).map_err(|e| ConfigError {
            path: origin.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        config.text = text.to_owned();
        config.origin = origin.to_owned();
        config.check()?;
        Ok(config)
    }

    fn error_at(&self, span: std::ops::Range<usize>, message: String) -> Error {
        let line = self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        ConfigError {
            path: self.origin.clone(),
            message: format!("line {line}: {message}"),
        }
        .into()
    }

    fn check(&self) -> Result<(), Error> {
        let ids: Vec<&str> = self.cas.iter().map(|c| c.id.get_ref().as_str()).collect();
        for (i, ca) in self.cas.iter().enumerate() {
            if ids[..i].contains(&ca.id.get_ref().as_str()) {
                return Err(self.error_at(
                    ca.id.span(),
                    format!("duplicate CA id {:?}", ca.id.get_ref()),
                ));
            }
        }
        let known = |s: &Spanned<String>| -> Result<(), Error> {
            if ids.contains(&s.get_ref().as_str()) {
                Ok(())
            } else {
                Err(self.error_at(s.span(), format!("no [[ca]] with id {:?}", s.get_ref())))
            }
        };
        if let Some(d) = &self.default_ca {
            known(d)?;
        }
        for rule in &self.rules {
            known(&rule.ca)?;
            if rule.host.is_some() == rule.tenant.is_some() {
                return Err(self.error_at(
                    rule.ca.span(),
                    "a [[rule]] needs exactly one of host or tenant".into(),
                ));
            }
        }
        match self
            .untrusted
            .policy
            .as_ref()
            .map(|p| (p.get_ref().as_str(), p.span()))
        {
            None | Some(("refuse", _)) => {}
            Some(("mirror", span)) => match &self.untrusted.ca {
                Some(ca) => known(ca)?,
                None => {
                    return Err(self.error_at(span, "policy \"mirror\" needs [untrusted] ca".into()))
                }
            },
            Some((other, span)) => {
                return Err(self.error_at(
                    span,
                    format!("policy must be \"refuse\" or \"mirror\", not {other:?}"),
                ))
            }
        }
        for ca in &self.cas {
            if let Some(r) = &ca.rotation {
                let (life, renew) = (
                    r.lifetime_days.unwrap_or(7),
                    r.renew_after_days.unwrap_or(6),
                );
                if renew == 0 || renew >= life {
                    return Err(self.error_at(
                        ca.id.span(),
                        "rotation: renew_after_days must be between 1 and lifetime_days - 1".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    /// Loads every CA (keys from files or tokens), and builds the registry, cache and policy.
    pub fn build(&self) -> Result<Deployment, Error> {
        let mut cache_config = CacheConfig::default();
        if let Some(mib) = self.cache.max_mib {
            cache_config.max_weight = mib * 1024 * 1024;
        }
        if let Some(margin) = self.cache.expiry_margin_secs {
            cache_config.expiry_margin = Duration::from_secs(margin);
        }
        let cache = Arc::new(CertCache::new(cache_config));
        let registry = Arc::new(CaRegistry::new());
        registry.attach_cache(Arc::clone(&cache));
        let keys = Arc::new(KeyPool::default());
        let untrusted_id = self.untrusted.ca.as_ref().map(|s| s.get_ref().as_str());
        let mut untrusted_ca = None;
        for ca in &self.cas {
            let minter = Arc::new(self.minter(ca, Arc::clone(&keys))?);
            if Some(ca.id.get_ref().as_str()) == untrusted_id {
                untrusted_ca = Some(minter);
                continue;
            }
            registry.add(ca.id.get_ref(), minter, ca.enabled)?;
        }
        for rule in &self.rules {
            let ca = rule.ca.get_ref().clone();
            registry.add_rule(match (&rule.host, &rule.tenant) {
                (Some(host), _) => SelectionRule::Host {
                    pattern: host.to_ascii_lowercase(),
                    ca,
                },
                (_, Some(tenant)) => SelectionRule::Tenant {
                    tenant: tenant.clone(),
                    ca,
                },
                _ => unreachable!("checked at parse time"),
            })?;
        }
        if let Some(d) = &self.default_ca {
            registry.set_default(d.get_ref())?;
        }
        let untrusted_policy = match self.untrusted.policy.as_ref().map(|p| p.get_ref().as_str()) {
            Some("mirror") => UntrustedPolicy::MirrorDistrust,
            _ => UntrustedPolicy::Refuse,
        };
        Ok(Deployment {
            registry,
            cache,
            untrusted_policy,
            untrusted_ca,
            upstream_roots: self.upstream.roots.iter().map(|p| self.path(p)).collect(),
        })
    }

    fn minter(&self, ca: &CaSection, keys: Arc<KeyPool>) -> Result<Minter, Error> {
        let cert = crate::ca::read_file(&self.path(&ca.cert))?;
        let chain = crate::pem::parse_certificates(&cert)?;
        let signer = self.signer(ca)?;
        let options = IssuerOptions {
            crl_base_url: ca
                .crl_base_url
                .clone()
                .unwrap_or_else(|| crate::DEFAULT_CRL_BASE_URL.to_owned()),
            ocsp_urls: ca.ocsp_urls.clone(),
            ca_issuers_urls: ca.ca_issuers_urls.clone(),
        };
        let issuer = Arc::new(Issuer::new(chain, signer, options.clone())?);
        Ok(match &ca.rotation {
            None => Minter::new(issuer, keys, MintPolicy::default()),
            Some(r) => {
                let policy = RotationPolicy {
                    lifetime: Duration::from_secs(r.lifetime_days.unwrap_or(7) * 86_400),
                    renew_after: Duration::from_secs(r.renew_after_days.unwrap_or(6) * 86_400),
                    options,
                    ..RotationPolicy::default()
                };
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                Minter::rotating(
                    Arc::new(RotatingIssuer::new(issuer, policy, clock)?),
                    keys,
                    MintPolicy::default(),
                )
            }
        })
    }

    fn signer(&self, ca: &CaSection) -> Result<Arc<dyn crate::Signer>, Error> {
        let key = if ca.key.starts_with("pkcs11:") {
            if cfg!(not(feature = "pkcs11")) {
                return Err(
                    self.error_at(ca.id.span(), "pkcs11: keys need the pkcs11 feature".into())
                );
            }
            PathBuf::from(&ca.key)
        } else {
            self.path(Path::new(&ca.key))
        };
        let pass_file = ca.key_pass_file.as_ref().map(|p| self.path(p));
        crate::ca::load_signer(&key, pass_file.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, "t.toml").unwrap_err().to_string()
    }

    const CA: &str = "[[ca]]\nid = \"a\"\ncert = \"a.pem\"\nkey = \"a-key.pem\"\n";

    #[test]
    fn unknown_keys_and_bad_values_name_the_line() {
        assert!(
            err("[cache]\nmax_mib = 1\nbogus = 2\n").contains("line 3"),
            "{}",
            err("[cache]\nbogus = 2\n")
        );
        assert!(err("[cache]\nmax_mib = \"lots\"\n").contains("line 2"));
        let e = err(&format!("{CA}\n[[rule]]\nhost = \"*.x\"\nca = \"nope\"\n"));
        assert!(e.contains("line 8") && e.contains("nope"), "{e}");
        let e = err(&format!("{CA}\n[untrusted]\npolicy = \"maybe\"\n"));
        assert!(e.contains("line 7") && e.contains("refuse"), "{e}");
        let e = err(&format!("{CA}{CA}"));
        assert!(e.contains("duplicate") && e.contains("line 6"), "{e}");
        let e = err(&format!("{CA}\n[untrusted]\npolicy = \"mirror\"\n"));
        assert!(e.contains("needs [untrusted] ca"), "{e}");
        let e = err(&format!("{CA}\n[[rule]]\nca = \"a\"\n"));
        assert!(e.contains("exactly one of host or tenant"), "{e}");
        let e = err(&format!(
            "{CA}[ca.rotation]\nlifetime_days = 7\nrenew_after_days = 9\n"
        ));
        assert!(e.contains("renew_after_days"), "{e}");
    }

    #[test]
    fn a_valid_file_parses() {
        let text = format!("default_ca = \"a\"\n{CA}enabled = true\n[ca.rotation]\nlifetime_days = 7\n\n[[rule]]\ntenant = \"t\"\nca = \"a\"\n");
        let config = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(config.cas.len(), 1);
        assert_eq!(config.rules.len(), 1);
    }
}
