//! Provider profiles: the built-in providers of `src/dkim/selectors.toml` (the one list of
//! provider facts the audit, `reports` and `migrate` share) and those of `--profiles PATH`.

use std::path::{Path, PathBuf};

use crate::dkim::selectors::{self, Provider};

/// A profile file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the profiles {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the profiles {path} are not [[provider]] entries: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("a profile of {path} has no `id` (the name --to and --from take): {name}")]
    NoId { path: PathBuf, name: String },
    #[error(
        "the profile '{name}' of {path} has smart_host = \"{value}\": expected \"host:port starttls\" (or tls, none)"
    )]
    SmartHost {
        path: PathBuf,
        name: String,
        value: String,
    },
    #[error("no provider profile '{0}' (known: {1})")]
    Unknown(String, String),
}

/// The profiles a run knows: the built-in ones, those of a user file replacing a built-in one
/// of the same `id`, or added.
#[derive(Clone, Debug)]
pub struct Profiles {
    list: Vec<Provider>,
}

impl Profiles {
    /// The built-in profiles, extended with those of `path`.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML of `[[provider]]` entries, or one has no `id`.
    pub fn load(path: Option<&Path>) -> Result<Profiles, ProfileError> {
        let mut list = selectors::providers().to_vec();
        if let Some(path) = path {
            let read = |reason: String| ProfileError::Read {
                path: path.to_owned(),
                reason,
            };
            let bytes = crate::files::read_small(path, crate::files::SMALL_INPUT_LIMIT)
                .map_err(|e| read(e.to_string()))?;
            let text = String::from_utf8(bytes).map_err(|_| read("not UTF-8 text".to_owned()))?;
            let own = selectors::parse_providers(&text).map_err(|source| ProfileError::Parse {
                path: path.to_owned(),
                source,
            })?;
            for provider in own {
                let Some(id) = provider.id.clone() else {
                    return Err(ProfileError::NoId {
                        path: path.to_owned(),
                        name: provider.name,
                    });
                };
                if let Some(value) = &provider.smart_host
                    && super::hybrid::endpoint(value, "example.com").is_none()
                {
                    return Err(ProfileError::SmartHost {
                        path: path.to_owned(),
                        name: provider.name.clone(),
                        value: value.clone(),
                    });
                }
                list.retain(|known| known.id.as_deref() != Some(id.as_str()));
                list.push(provider);
            }
        }
        Ok(Profiles { list })
    }

    /// Every profile, built-in first.
    pub fn all(&self) -> &[Provider] {
        &self.list
    }

    /// The profile whose `id` (or name) is `wanted`, case-insensitively.
    ///
    /// # Errors
    /// No profile has that id or name.
    pub fn find(&self, wanted: &str) -> Result<&Provider, ProfileError> {
        self.list
            .iter()
            .find(|p| {
                p.id.as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(wanted))
                    || p.name.eq_ignore_ascii_case(wanted)
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.list.iter().filter_map(|p| p.id.as_deref()).collect();
                ProfileError::Unknown(wanted.to_owned(), known.join(", "))
            })
    }

    /// The profile whose MX hosts include `host` (or a name above it).
    pub fn by_mx(&self, host: &str) -> Option<&Provider> {
        self.list
            .iter()
            .find(|p| p.mx.iter().any(|hint| selectors::is_under(host, hint)))
    }

    /// The profile whose SPF include domains include `domain` (or a name above it).
    pub fn by_spf(&self, domain: &str) -> Option<&Provider> {
        self.list
            .iter()
            .find(|p| p.spf.iter().any(|hint| selectors::is_under(domain, hint)))
    }

    /// The profile whose DKIM CNAMEs point below `target`.
    pub fn by_dkim_cname(&self, target: &str) -> Option<&Provider> {
        self.list.iter().find(|p| {
            p.dkim_cname
                .iter()
                .any(|hint| selectors::is_under(target, hint))
        })
    }
}

/// The text a verification record starts with: its template up to the first `<...>` value.
pub fn verification_prefix(template: &str) -> &str {
    template.split('<').next().unwrap_or(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_profiles_cover_the_providers_people_move_between() {
        let profiles = Profiles::load(None).unwrap();
        for id in [
            "microsoft365",
            "google-workspace",
            "zoho",
            "fastmail",
            "proton",
            "icloud",
            "amazon-ses",
            "sendgrid",
            "mailgun",
            "postmark",
            "mailchimp",
            "mandrill",
            "brevo",
        ] {
            let profile = profiles.find(id).unwrap();
            assert!(!profile.docs.is_empty(), "{id} has no documentation link");
            if let Some(smart_host) = &profile.smart_host {
                assert!(
                    super::super::hybrid::endpoint(smart_host, "example.com").is_some(),
                    "{id}: {smart_host}"
                );
            }
            assert!(
                !profile.spf.is_empty() || !profile.mx.is_empty(),
                "{id} cannot be recognised"
            );
        }
        let microsoft = profiles.find("Microsoft 365").unwrap();
        assert_eq!(microsoft.signing_selectors(), ["selector1", "selector2"]);
        assert_eq!(
            verification_prefix(microsoft.verification.as_deref().unwrap()),
            "MS=ms"
        );
        assert!(
            profiles
                .by_dkim_cname("selector1-x-com._domainkey.contoso.n-v1.dkim.mail.microsoft")
                .is_some_and(|p| p.name == "Microsoft 365")
        );
        assert!(matches!(
            profiles.find("nosuch"),
            Err(ProfileError::Unknown(..))
        ));
    }

    #[test]
    fn the_help_of_to_names_every_built_in_profile() {
        use clap::CommandFactory;
        let command = crate::cli::Cli::command();
        let help = command
            .find_subcommand("migrate")
            .and_then(|migrate| migrate.get_arguments().find(|a| a.get_id() == "to"))
            .and_then(|to| to.get_help())
            .map(ToString::to_string)
            .unwrap();
        for provider in Profiles::load(None).unwrap().all() {
            if let Some(id) = &provider.id {
                assert!(help.contains(id.as_str()), "--to's help lacks {id}: {help}");
            }
        }
    }

    #[test]
    fn a_user_profile_replaces_the_built_in_one_of_its_id_or_adds_one() {
        let dir = std::env::temp_dir().join(format!("mailaudit-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("profiles.toml");
        std::fs::write(
            &path,
            "[[provider]]\nname = \"Own relay\"\nid = \"own\"\nmx = [\"mx.own.example\"]\n\
             spf = [\"_spf.own.example\"]\nselectors = [\"own1\"]\n\n\
             [[provider]]\nname = \"Google (ours)\"\nid = \"google-workspace\"\n\
             spf = [\"_spf.google.com\"]\n",
        )
        .unwrap();
        let profiles = Profiles::load(Some(&path)).unwrap();
        assert_eq!(profiles.find("own").unwrap().signing_selectors(), ["own1"]);
        assert_eq!(
            profiles.find("google-workspace").unwrap().name,
            "Google (ours)"
        );
        std::fs::write(&path, "[[provider]]\nname = \"No id\"\n").unwrap();
        assert!(matches!(
            Profiles::load(Some(&path)),
            Err(ProfileError::NoId { .. })
        ));
        std::fs::write(
            &path,
            "[[provider]]\nname = \"Relay\"\nid = \"relay\"\nsmart_host = \"relay.example:25 startls\"\n",
        )
        .unwrap();
        assert!(matches!(
            Profiles::load(Some(&path)),
            Err(ProfileError::SmartHost { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
