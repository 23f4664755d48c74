//! The deployment configuration file (TOML, feature `config`), shared by `certmint proxy
//! --config` and, later, the Squid helper and the C ABI.
//!
//! ```toml
//! default_ca = "corp"              # optional: else the first enabled CA
//!
//! [cache]
//! max_mib = 64
//! refresh_ahead_secs = 600         # mint served leaves again this long before they expire; 0: off
//! refresh_rate = 50                # refreshes per second at most
//! prewarm = "hosts.txt"            # host[:port] a line: fetched, cloned and cached at start
//!
//! [untrusted]
//! policy = "mirror"                # or "refuse" (the default)
//! ca = "untrusted"                 # a [[ca]] that clients do not trust; never picked otherwise
//!
//! [upstream]
//! roots = ["public-roots.pem"]     # default: the Mozilla roots
//!
//! [revocation]
//! dir = "revocation"               # issued sub-CAs and revocations; default: beside this file
//!
//! [crl]
//! listen = "0.0.0.0:8080"          # certmint proxy serves every CRL here (GET /{key id}.crl)
//!
//! [mint]
//! max_lifetime_days = 825          # cloned leaves: the origin's validity, at most this long
//! host_only_lifetime_days = 30     # leaves minted from a host alone
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
//! the configuration file's directory; configuration text given in memory must use absolute
//! paths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use std::sync::Arc;

use crate::ca::{Issuer, IssuerOptions, RotationPolicy, DEFAULT_CRL_BASE_URL};
use crate::deployment::{CaSpec, Deployment, DeploymentBuilder, Reloaded};
use crate::error::{ConfigError, ConfigErrorKind, Error};
use crate::mint::{MintPolicy, ValidityPolicy, MAX_LIFETIME_DAYS};
use crate::origin_trust::UntrustedPolicy;
use crate::registry::SelectionRule;
use crate::revocation::RevocationStore;
use crate::squid::SquidSettings;

/// The deployment a configuration file describes: [`Config::load`], then
/// [`Config::into_builder`], then [`DeploymentBuilder::build`]. Relative paths in the file are
/// relative to its directory.
pub fn load(path: &Path) -> Result<Deployment, Error> {
    Config::load(path)?.into_builder()?.build()
}

/// Re-reads the configuration file at `path` and applies it to the running `deployment`
/// ([`Deployment::reload`]). A file that does not load, or a configuration that does not build,
/// leaves the running one in place and is counted in
/// [`DeploymentStats::reload_failures`](crate::stats::DeploymentStats::reload_failures).
pub fn reload(deployment: &Deployment, path: &Path) -> Result<Reloaded, Error> {
    apply(deployment, Config::load(path))
}

/// As [`reload`], from configuration text (every path in it must be absolute).
pub fn reload_text(deployment: &Deployment, text: &str) -> Result<Reloaded, Error> {
    apply(deployment, Config::from_text(text))
}

/// Applies a configuration that was read (or failed to be) to a running deployment.
fn apply(deployment: &Deployment, config: Result<Config, Error>) -> Result<Reloaded, Error> {
    match config.and_then(Config::into_builder) {
        Ok(builder) => deployment.reload(builder),
        Err(e) => {
            deployment.count_failed_reload();
            Err(e)
        }
    }
}

/// The deployment configuration text describes; every path in it must be absolute.
///
/// ```
/// use certmint::{testing::ThrowawayCa, ClientKeySupport, KeyAlgorithm};
///
/// // Key and certificate files, as an administrator would have them.
/// let dir = std::env::temp_dir().join(format!("certmint-config-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// std::fs::write(dir.join("ca.pem"), certmint::pem::encode_certificate(&ca.intermediate))?;
/// std::fs::write(dir.join("ca-key.pem"), ca.intermediate_key.to_pem().as_bytes())?;
///
/// let deployment = certmint::config::from_text(&format!(
///     r#"
///     [cache]
///     max_mib = 16
///
///     [[ca]]
///     id = "corp"
///     cert = "{dir}/ca.pem"
///     key = "{dir}/ca-key.pem"
///     crl_base_url = "http://crl.corp.example/certmint"
///     "#,
///     dir = dir.display()
/// ))?;
/// let found = deployment.lookup(Some("www.example.com"), &[], ClientKeySupport::all())?;
/// assert_eq!(found.certified_key().cert.len(), 2);
///
/// // Mistakes name the line.
/// let err = certmint::config::from_text("[cache]\nmax_mb = 16\n").unwrap_err();
/// assert!(err.to_string().contains("line 2"), "{err}");
/// # deployment.shutdown();
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_text(text: &str) -> Result<Deployment, Error> {
    Config::from_text(text)?.into_builder()?.build()
}

/// A parsed, checked configuration. Build the [`Deployment`] with [`Config::into_builder`]
/// (or in one call with [`load`]). Only [`Config::load`] and [`Config::from_text`] make one,
/// so every configuration has been checked.
pub struct Config {
    file: ConfigFile,
    text: String,
    /// The file, or `None` for text.
    path: Option<PathBuf>,
    /// Where relative paths start; `None` for text (relative paths are refused).
    base_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    /// The text itself is left out (it may hold a PIN); keys show redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// The file's contents as serde reads them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// The default CA's id.
    default_ca: Option<Spanned<String>>,
    #[serde(default)]
    cache: CacheSection,
    #[serde(default)]
    untrusted: UntrustedSection,
    #[serde(default)]
    upstream: UpstreamSection,
    #[serde(default)]
    mint: MintSection,
    #[serde(default)]
    revocation: RevocationSection,
    #[serde(default)]
    crl: CrlSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default, rename = "ca")]
    cas: Vec<CaSection>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrlSection {
    /// Where `certmint proxy` serves the CRLs.
    listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    /// Where `certmint proxy` serves Prometheus metrics.
    listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationSection {
    /// Where issued sub-CAs and revocations are recorded.
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheSection {
    max_mib: Option<Spanned<u64>>,
    expiry_margin_secs: Option<u64>,
    refresh_ahead_secs: Option<u64>,
    refresh_rate: Option<u32>,
    prewarm: Option<String>,
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
struct MintSection {
    max_lifetime_days: Option<Spanned<u64>>,
    host_only_lifetime_days: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamSection {
    #[serde(default)]
    roots: Vec<PathBuf>,
}

#[derive(Deserialize)]
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

impl std::fmt::Debug for CaSection {
    /// The key may be a `pkcs11:` URI with a PIN in it: shown redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaSection")
            .field("id", self.id.get_ref())
            .field("cert", &self.cert)
            .field("key", &crate::ca::redact_pins(&self.key))
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

/// The CRL, OCSP and caIssuers URLs of a `[[ca]]`.
fn issuer_options(ca: &CaSection) -> IssuerOptions {
    IssuerOptions::default()
        .with_crl_base_url(
            ca.crl_base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_CRL_BASE_URL.to_owned()),
        )
        .with_ocsp_urls(ca.ocsp_urls.clone())
        .with_ca_issuers_urls(ca.ca_issuers_urls.clone())
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

impl Config {
    /// Reads and checks a file. Relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Self::parse(&text, Some(path.to_owned()), Some(base))
    }

    /// Parses and checks configuration text held in memory. Every path in it must be absolute.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        Self::parse(text, None, None)
    }

    fn parse(text: &str, path: Option<PathBuf>, base_dir: Option<PathBuf>) -> Result<Self, Error> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            ConfigError {
                path: path.clone(),
                line,
                // The parser may quote the offending value: never a PIN.
                kind: ConfigErrorKind::Syntax(crate::ca::redact_pins(e.message())),
            }
        })?;
        let config = Self {
            file,
            text: text.to_owned(),
            path,
            base_dir,
        };
        config.check()?;
        Ok(config)
    }

    fn error_at(&self, span: std::ops::Range<usize>, kind: ConfigErrorKind) -> Error {
        let line = self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        ConfigError {
            path: self.path.clone(),
            line: Some(line),
            kind,
        }
        .into()
    }

    fn error(&self, kind: ConfigErrorKind) -> Error {
        ConfigError {
            path: self.path.clone(),
            line: None,
            kind,
        }
        .into()
    }

    fn check(&self) -> Result<(), Error> {
        let ids: Vec<&str> = self
            .file
            .cas
            .iter()
            .map(|c| c.id.get_ref().as_str())
            .collect();
        for (i, ca) in self.file.cas.iter().enumerate() {
            if ids[..i].contains(&ca.id.get_ref().as_str()) {
                return Err(self.error_at(
                    ca.id.span(),
                    ConfigErrorKind::DuplicateCa(ca.id.get_ref().clone()),
                ));
            }
        }
        let known = |s: &Spanned<String>| -> Result<(), Error> {
            if ids.contains(&s.get_ref().as_str()) {
                Ok(())
            } else {
                Err(self.error_at(s.span(), ConfigErrorKind::UnknownCa(s.get_ref().clone())))
            }
        };
        if let Some(d) = &self.file.default_ca {
            known(d)?;
        }
        for rule in &self.file.rules {
            known(&rule.ca)?;
            if rule.host.is_some() == rule.tenant.is_some() {
                return Err(
                    self.error_at(rule.ca.span(), ConfigErrorKind::RuleNeedsOneOfHostOrTenant)
                );
            }
        }
        match self
            .file
            .untrusted
            .policy
            .as_ref()
            .map(|p| (p.get_ref().as_str(), p.span()))
        {
            None | Some(("refuse", _)) => {}
            Some(("mirror", span)) => match &self.file.untrusted.ca {
                Some(ca) => known(ca)?,
                None => return Err(self.error_at(span, ConfigErrorKind::MirrorNeedsCa)),
            },
            Some((other, span)) => {
                return Err(
                    self.error_at(span, ConfigErrorKind::BadUntrustedPolicy(other.to_owned()))
                )
            }
        }
        for ca in &self.file.cas {
            if let Some(r) = &ca.rotation {
                let (life, renew) = (
                    r.lifetime_days.unwrap_or(7),
                    r.renew_after_days.unwrap_or(6),
                );
                if renew == 0 || renew >= life {
                    return Err(self.error_at(ca.id.span(), ConfigErrorKind::BadRotation));
                }
            }
        }
        if self.file.cas.is_empty() {
            return Err(self.error(ConfigErrorKind::NoCa));
        }
        let mint = &self.file.mint;
        for days in [&mint.max_lifetime_days, &mint.host_only_lifetime_days]
            .into_iter()
            .flatten()
        {
            if !(1..=MAX_LIFETIME_DAYS).contains(days.get_ref()) {
                return Err(self.error_at(days.span(), ConfigErrorKind::BadLifetime));
            }
        }
        if let Some(mib) = &self.file.cache.max_mib {
            if !(1..=MAX_CACHE_MIB).contains(mib.get_ref()) {
                return Err(self.error_at(mib.span(), ConfigErrorKind::BadCacheSize));
            }
        }
        Ok(())
    }

    fn path(&self, p: &Path) -> Result<PathBuf, Error> {
        match &self.base_dir {
            _ if p.is_absolute() => Ok(p.to_owned()),
            Some(base) => Ok(base.join(p)),
            None => Err(self.error(ConfigErrorKind::RelativePath(p.to_owned()))),
        }
    }

    /// The deployment this configuration describes, as a builder (the same builder the CLI's
    /// flags fill in). Nothing is loaded yet: keys are opened by
    /// [`DeploymentBuilder::build`].
    pub fn into_builder(self) -> Result<DeploymentBuilder, Error> {
        self.to_builder()
    }

    /// As [`Config::into_builder`], keeping the configuration (for its other settings).
    pub fn to_builder(&self) -> Result<DeploymentBuilder, Error> {
        let mut builder = DeploymentBuilder::new();
        if let Some(mib) = &self.file.cache.max_mib {
            // Checked at parse time: 1..=MAX_CACHE_MIB, so this cannot overflow.
            builder.cache_config_mut().max_weight = mib.get_ref().saturating_mul(1024 * 1024);
        }
        if let Some(margin) = self.file.cache.expiry_margin_secs {
            builder.cache_config_mut().expiry_margin = Duration::from_secs(margin);
        }
        if let Some(ahead) = self.file.cache.refresh_ahead_secs {
            builder.cache_config_mut().refresh_ahead = Duration::from_secs(ahead);
        }
        if let Some(rate) = self.file.cache.refresh_rate {
            builder.cache_config_mut().refresh_rate = rate;
        }
        let untrusted_id = self
            .file
            .untrusted
            .ca
            .as_ref()
            .map(|s| s.get_ref().as_str());
        for ca in &self.file.cas {
            let spec = self.ca_spec(ca)?;
            if Some(ca.id.get_ref().as_str()) == untrusted_id {
                builder = builder.untrusted_ca(spec);
            } else {
                builder = builder.ca(spec);
            }
        }
        for rule in &self.file.rules {
            let ca = rule.ca.get_ref().clone();
            let rule = match (&rule.host, &rule.tenant) {
                (Some(host), _) => SelectionRule::Host {
                    pattern: host.to_ascii_lowercase(),
                    ca,
                },
                (_, Some(tenant)) => SelectionRule::Tenant {
                    tenant: tenant.clone(),
                    ca,
                },
                (None, None) => {
                    return Err(
                        self.error_at(rule.ca.span(), ConfigErrorKind::RuleNeedsOneOfHostOrTenant)
                    )
                }
            };
            builder = builder.rule(rule);
        }
        if let Some(d) = &self.file.default_ca {
            builder = builder.default_ca(d.get_ref());
        }
        if self
            .file
            .untrusted
            .policy
            .as_ref()
            .map(|p| p.get_ref().as_str())
            == Some("mirror")
        {
            builder = builder.untrusted_policy(UntrustedPolicy::MirrorDistrust);
        }
        for root in &self.file.upstream.roots {
            builder = builder.upstream_roots_file(self.path(root)?);
        }
        Ok(builder.mint_policy(self.mint_policy()))
    }

    /// The minting policy: the library's defaults with the `[mint]` section's lifetimes.
    pub fn mint_policy(&self) -> MintPolicy {
        let mut policy = MintPolicy::default();
        if let Some(n) = &self.file.mint.max_lifetime_days {
            policy.validity = ValidityPolicy::Mirror {
                max_lifetime: days(*n.get_ref()),
            };
        }
        if let Some(n) = &self.file.mint.host_only_lifetime_days {
            policy.host_only_lifetime = days(*n.get_ref());
        }
        policy
    }

    /// What `certmint-squid-crtd --config` takes from a deployment's configuration: the minting
    /// policy, the default CA's CRL distribution point, OCSP and caIssuers URLs (stamped on
    /// every leaf, whichever CA Squid sends), and the untrusted-origin policy. Squid decides
    /// trust itself; `[untrusted] policy = "refuse"` makes `signUntrusted` requests fail, and
    /// without a policy they are signed by Squid's untrusted CA, as Squid's own helper does.
    /// Squid's CA signs every leaf, so the `[[ca]]` keys are not read.
    pub fn squid_settings(&self) -> SquidSettings {
        let default = self
            .file
            .default_ca
            .as_ref()
            .and_then(|id| {
                self.file
                    .cas
                    .iter()
                    .find(|c| c.id.get_ref() == id.get_ref())
            })
            .or_else(|| self.file.cas.iter().find(|c| c.enabled));
        SquidSettings {
            policy: self.mint_policy(),
            issuer_options: default.map(issuer_options).unwrap_or_default(),
            refuse_untrusted: self
                .file
                .untrusted
                .policy
                .as_ref()
                .is_some_and(|p| p.get_ref() == "refuse"),
            ..SquidSettings::default()
        }
    }

    /// Where issued sub-CAs and revocations are recorded: `[revocation] dir`, or `revocation/`
    /// beside the configuration file; `None` for configuration text without a `dir`.
    pub fn revocation_dir(&self) -> Result<Option<PathBuf>, Error> {
        match (&self.file.revocation.dir, &self.base_dir) {
            (Some(dir), _) => self.path(dir).map(Some),
            (None, Some(base)) => Ok(Some(base.join("revocation"))),
            (None, None) => Ok(None),
        }
    }

    /// `[crl] listen`: where the proxy serves the CRLs, if anywhere.
    pub fn crl_listen(&self) -> Option<std::net::SocketAddr> {
        self.file.crl.listen
    }

    /// `[cache] prewarm`: the hosts file to warm the cache from at start (relative paths are
    /// relative to the configuration file), if any.
    pub fn prewarm_hosts(&self) -> Result<Option<PathBuf>, Error> {
        self.file
            .cache
            .prewarm
            .as_deref()
            .map(|p| self.path(Path::new(p)))
            .transpose()
    }

    /// `[metrics] listen`: where the proxy serves Prometheus metrics, if anywhere.
    pub fn metrics_listen(&self) -> Option<std::net::SocketAddr> {
        self.file.metrics.listen
    }

    /// The [`RevocationStore`] in [`Config::revocation_dir`] (created when missing).
    pub fn revocation_store(&self) -> Result<Option<Arc<RevocationStore>>, Error> {
        self.revocation_dir()?
            .map(RevocationStore::open)
            .transpose()
    }

    /// Every configured CA's own issuer (its certificate and key, not its rotating sub-CA),
    /// by id: what signs each CA's CRL. Opens every key.
    pub fn ca_issuers(&self) -> Result<Vec<(String, Arc<Issuer>)>, Error> {
        self.file
            .cas
            .iter()
            .map(|ca| {
                let spec = self.ca_spec_without_rotation(ca)?;
                Ok((ca.id.get_ref().clone(), spec.issuer()?))
            })
            .collect()
    }

    fn ca_spec(&self, ca: &CaSection) -> Result<CaSpec, Error> {
        let mut spec = self.ca_spec_without_rotation(ca)?;
        if let Some(r) = &ca.rotation {
            let store = self.revocation_store()?.ok_or_else(|| {
                self.error_at(ca.id.span(), ConfigErrorKind::RevocationDirRequired)
            })?;
            spec = spec.with_rotation(RotationPolicy {
                lifetime: days(r.lifetime_days.unwrap_or(7)),
                renew_after: days(r.renew_after_days.unwrap_or(6)),
                record: Some(store),
                ..RotationPolicy::default()
            });
        }
        if !ca.enabled {
            spec = spec.disabled();
        }
        Ok(spec)
    }

    /// A CA's files and options, without its rotation.
    fn ca_spec_without_rotation(&self, ca: &CaSection) -> Result<CaSpec, Error> {
        let key = if crate::ca::is_pkcs11_uri(&ca.key) {
            if cfg!(not(feature = "pkcs11")) {
                return Err(self.error_at(ca.id.span(), ConfigErrorKind::Pkcs11Unavailable));
            }
            PathBuf::from(&ca.key)
        } else {
            self.path(Path::new(&ca.key))?
        };
        let mut spec = CaSpec::from_files(ca.id.get_ref(), self.path(&ca.cert)?, key);
        if let Some(pass) = &ca.key_pass_file {
            spec = spec.with_passphrase_file(self.path(pass)?);
        }
        Ok(spec.with_options(issuer_options(ca)))
    }
}

/// The largest cache bound a configuration may give, in MiB (1 TiB).
pub const MAX_CACHE_MIB: u64 = 1 << 20;

fn days(n: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_text(text).unwrap_err().to_string()
    }

    const CA: &str = "[[ca]]\nid = \"a\"\ncert = \"/a.pem\"\nkey = \"/a-key.pem\"\n";

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
    fn the_mint_section_sets_lifetimes_and_squid_takes_the_default_cas_urls() {
        let e = err(&format!("{CA}\n[mint]\nmax_lifetime_days = 900\n"));
        assert!(e.contains("line 7") && e.contains("825"), "{e}");
        let e = err(&format!("{CA}\n[mint]\nhost_only_lifetime_days = 0\n"));
        assert!(e.contains("line 7"), "{e}");
        let text = format!(
            "default_ca = \"b\"\n[mint]\nmax_lifetime_days = 90\nhost_only_lifetime_days = 7\n\
             [untrusted]\npolicy = \"refuse\"\n{CA}crl_base_url = \"http://crl.a\"\n\
             [[ca]]\nid = \"b\"\ncert = \"/b.pem\"\nkey = \"/b-key.pem\"\n\
             crl_base_url = \"http://crl.b\"\nocsp_urls = [\"http://ocsp.b\"]\n"
        );
        let config = Config::from_text(&text).unwrap();
        let squid = config.squid_settings();
        assert_eq!(squid.issuer_options.crl_base_url, "http://crl.b");
        assert_eq!(squid.issuer_options.ocsp_urls, ["http://ocsp.b"]);
        assert!(squid.refuse_untrusted);
        assert_eq!(squid.policy.host_only_lifetime, days(7));
        assert_eq!(
            squid.policy.validity,
            ValidityPolicy::Mirror {
                max_lifetime: days(90)
            }
        );
        // Without a policy, Squid's untrusted CA signs (as Squid's own helper does).
        let plain = Config::from_text(CA).unwrap().squid_settings();
        assert!(!plain.refuse_untrusted);
        assert_eq!(plain.policy, MintPolicy::default());
    }

    #[test]
    fn a_cache_bound_that_would_overflow_is_refused() {
        for bad in ["0", "17592186044416", "18446744073709551615"] {
            let e = err(&format!("[cache]\nmax_mib = {bad}\n{CA}"));
            assert!(e.contains("line 2"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_pin_never_appears_in_errors_or_debug_output() {
        let pin_key = "key = \"pkcs11:token=t;object=o?pin-value=98765432\"\n";
        // A type error quoting the value.
        let e = err(&format!("[[ca]]\nid = \"a\"\ncert = \"/a\"\n{pin_key}enabled = \"pkcs11:x?pin-value=98765432\"\n"));
        assert!(!e.contains("98765432"), "{e}");
        let config =
            Config::from_text(&format!("[[ca]]\nid = \"a\"\ncert = \"/a\"\n{pin_key}")).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("98765432"), "{debug}");
    }

    #[test]
    fn a_valid_file_parses() {
        let text = format!("default_ca = \"a\"\n{CA}enabled = true\n[ca.rotation]\nlifetime_days = 7\n\n[[rule]]\ntenant = \"t\"\nca = \"a\"\n");
        let config = Config::from_text(&text).unwrap();
        assert_eq!(config.file.cas.len(), 1);
        assert_eq!(config.file.rules.len(), 1);
    }

    #[test]
    fn text_configurations_need_absolute_paths() {
        let text = "[[ca]]\nid = \"a\"\ncert = \"a.pem\"\nkey = \"/k.pem\"\n";
        let e = Config::from_text(text).unwrap().into_builder().unwrap_err();
        assert!(
            matches!(&e, Error::Config(ConfigError { kind: ConfigErrorKind::RelativePath(p), .. }) if p == Path::new("a.pem")),
            "{e}"
        );
    }
}
