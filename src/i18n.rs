//! The two languages of kensa's reports: Japanese for clinics and auditors, English for
//! everyone else. Every message is written in both, so a report can switch without loss.

use serde::{Deserialize, Serialize};

/// A report language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    /// Japanese when `LC_ALL`, `LC_MESSAGES` or `LANG` (first one set, as POSIX orders
    /// them) starts with `ja`; English otherwise.
    pub fn from_env() -> Lang {
        Self::from_locale_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over an arbitrary variable lookup, for tests.
    pub fn from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].into_iter().find_map(|name| get(name).filter(|v| !v.is_empty()));
        match locale {
            Some(value) if value.to_ascii_lowercase().starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }
}

/// A message in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

impl Text {
    /// Builds a message from its English and Japanese forms.
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Text {
        Text { en: en.into(), ja: ja.into() }
    }

    /// The message in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// Pads `text` with spaces to `columns` terminal columns (CJK characters take two).
pub fn pad(text: &str, columns: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    let mut padded = text.to_string();
    padded.extend(std::iter::repeat_n(' ', columns.saturating_sub(text.width())));
    padded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_selection() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Lang::from_locale_vars(env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
        assert_eq!(Lang::from_locale_vars(env(&[("LC_ALL", "ja_JP.UTF-8"), ("LANG", "C")])), Lang::Ja);
        assert_eq!(Lang::from_locale_vars(env(&[("LC_ALL", "C.UTF-8"), ("LANG", "ja_JP.UTF-8")])), Lang::En);
        assert_eq!(Lang::from_locale_vars(env(&[("LC_ALL", ""), ("LANG", "ja")])), Lang::Ja);
        assert_eq!(Lang::from_locale_vars(env(&[])), Lang::En);
    }
}
