//! The messages' words: a plain-text and an HTML minijinja template per [`MailKind`],
//! built in and each replaceable by a file in `templates_dir/mail/`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use minijinja::Environment;
use serde::Serialize;

use super::message::Message;
use crate::Error;

/// Which message. Each has the templates `mail/NAME.txt` and `mail/NAME.html`, `NAME`
/// being [`MailKind::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailKind {
    /// "Confirm your e-mail address": the link verifies it (`verify_email`).
    VerifyEmail,
    /// "Reset your password": the link sets a new one (`reset_password`).
    ResetPassword,
    /// Someone tried to register with this address, which already has an account; the
    /// link is where to sign in or reset the password (`account_exists`).
    AccountExists,
    /// The password was changed; the link is where to act if it was not the owner
    /// (`password_changed`).
    PasswordChanged,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [MailKind; 4] = [
        MailKind::VerifyEmail,
        MailKind::ResetPassword,
        MailKind::AccountExists,
        MailKind::PasswordChanged,
    ];

    /// The templates' base name: `verify_email`, `reset_password`, `account_exists`,
    /// `password_changed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::AccountExists => "account_exists",
            Self::PasswordChanged => "password_changed",
        }
    }
}

/// What a message's templates are rendered with: `site_name`, `user_name`, `email` (the
/// recipient), `link` and `expires_in` ("24 hours").
///
/// Put only what the account's owner entered or an operator set into it: never a name
/// typed by whoever triggered the message (an `account_exists` message goes to the
/// owner, not to the person who tried to register).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MailContext {
    site_name: String,
    user_name: Option<String>,
    link: Option<String>,
    expires_in: Option<String>,
}

impl MailContext {
    /// For the site called `site_name` (the tenant's display name, or the provider's).
    pub fn new(site_name: impl Into<String>) -> Self {
        Self {
            site_name: site_name.into(),
            ..Self::default()
        }
    }

    /// The recipient's name, for the greeting.
    pub fn user_name(mut self, name: impl Into<String>) -> Self {
        self.user_name = Some(name.into());
        self
    }

    /// The link the message is about (with its single-use token, for some kinds).
    pub fn link(mut self, link: impl Into<String>) -> Self {
        self.link = Some(link.into());
        self
    }

    /// How long the link works, shown in words ("24 hours", "1 hour", "30 minutes").
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(in_words(lifetime));
        self
    }
}

/// A lifetime in words: the largest whole unit (days from two days on).
fn in_words(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 2 * 86_400 && s.is_multiple_of(86_400) {
        (s / 86_400, "day")
    } else if s >= 3_600 && s.is_multiple_of(3_600) {
        (s / 3_600, "hour")
    } else if s >= 60 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

const BUILT_IN: [(&str, &str); 9] = [
    (
        "mail/base.html",
        include_str!("../../templates/mail/base.html"),
    ),
    (
        "mail/verify_email.txt",
        include_str!("../../templates/mail/verify_email.txt"),
    ),
    (
        "mail/verify_email.html",
        include_str!("../../templates/mail/verify_email.html"),
    ),
    (
        "mail/reset_password.txt",
        include_str!("../../templates/mail/reset_password.txt"),
    ),
    (
        "mail/reset_password.html",
        include_str!("../../templates/mail/reset_password.html"),
    ),
    (
        "mail/account_exists.txt",
        include_str!("../../templates/mail/account_exists.txt"),
    ),
    (
        "mail/account_exists.html",
        include_str!("../../templates/mail/account_exists.html"),
    ),
    (
        "mail/password_changed.txt",
        include_str!("../../templates/mail/password_changed.txt"),
    ),
    (
        "mail/password_changed.html",
        include_str!("../../templates/mail/password_changed.html"),
    ),
];

/// The message templates: the built-in ones, each replaced by the file of the same name
/// under `DIR/mail/` when one exists (`DIR/mail/verify_email.txt`…).
///
/// A `.txt` template starts with a `Subject: …` line and a blank line; the rest is the
/// plain-text body. A `.html` template is the HTML body (values are HTML-escaped); the
/// built-in ones extend `mail/base.html`.
///
/// ```
/// # fn main() -> Result<(), idp_server::Error> {
/// use std::time::Duration;
/// use idp_server::mail::{MailContext, MailKind, MailTemplates};
///
/// let templates = MailTemplates::load(None)?;
/// let ctx = MailContext::new("Example")
///     .user_name("Ada")
///     .link("https://id.example.com/verify?token=abc")
///     .expires_in(Duration::from_secs(86_400));
/// let m = templates.render(MailKind::VerifyEmail, "ada@example.com", &ctx)?;
/// assert_eq!(m.to(), "ada@example.com");
/// assert!(m.subject().contains("Example"));
/// assert!(m.text().contains("https://id.example.com/verify?token=abc"));
/// assert!(m.text().contains("24 hours"));
/// # Ok(()) }
/// ```
pub struct MailTemplates {
    env: Environment<'static>,
}

impl fmt::Debug for MailTemplates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailTemplates")
    }
}

impl MailTemplates {
    /// The built-in templates, with those found under `dir/mail/` instead. Each template
    /// is rendered once here, so that a broken one fails now rather than when a message
    /// is due.
    pub fn load(dir: Option<&Path>) -> Result<Self, Error> {
        let mut env = Environment::new();
        // A text body ends with its last line's newline.
        env.set_keep_trailing_newline(true);
        for (name, builtin) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| Error::Config(format!("template {}: {e}", path.display())))?,
                None => builtin.to_owned(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| Error::Config(format!("template {name}: {e}")))?;
        }
        let t = Self { env };
        let sample = MailContext::new("Example")
            .user_name("Ada")
            .link("https://id.example.com/link")
            .expires_in(Duration::from_secs(3_600));
        for kind in MailKind::ALL {
            t.render(kind, "ada@example.com", &sample)?;
        }
        Ok(t)
    }

    /// The message of `kind` to `to`, rendered with `ctx` (and `email`: `to`). An error
    /// is [`Error::Config`] naming the template.
    pub fn render(&self, kind: MailKind, to: &str, ctx: &MailContext) -> Result<Message, Error> {
        let values = minijinja::context! { email => to, ..minijinja::Value::from_serialize(ctx) };
        let render = |ext: &str| {
            let name = format!("mail/{}.{ext}", kind.name());
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&values))
                .map_err(|e| Error::Config(format!("template {name}: {e}")))
        };
        let text = render("txt")?;
        let html = render("html")?;
        let (subject, body) = split_subject(&text).ok_or_else(|| {
            Error::Config(format!(
                "template mail/{}.txt: the first line must be `Subject: …`",
                kind.name()
            ))
        })?;
        Ok(Message::new(to, subject, body, html))
    }
}

/// `Subject: …` on the first line (after blank lines), then the body without the blank
/// lines that open it. The subject without control characters; `None` when it is empty.
fn split_subject(text: &str) -> Option<(String, String)> {
    let text = text.trim_start_matches(['\r', '\n']);
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject: String = first
        .strip_prefix("Subject:")?
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if subject.is_empty() {
        return None;
    }
    Some((subject, rest.trim_start_matches(['\r', '\n']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MailContext {
        MailContext::new("Acme <ID>")
            .user_name("Ada <b>L</b>")
            .link("https://id.example.com/r?token=abc&x=1")
            .expires_in(Duration::from_secs(3_600))
    }

    #[test]
    fn every_kind_renders_with_subject_link_and_escaped_html() {
        let t = MailTemplates::load(None).unwrap();
        for kind in MailKind::ALL {
            let m = t.render(kind, "ada@example.com", &ctx()).unwrap();
            assert!(
                m.subject().contains("Acme <ID>"),
                "{kind:?}: {}",
                m.subject()
            );
            assert!(!m.text().starts_with("Subject"), "{}", m.text());
            assert!(m.text().contains("Ada <b>L</b>"), "{}", m.text());
            assert!(
                m.text().contains("https://id.example.com/r?token=abc&x=1"),
                "{}",
                m.text()
            );
            assert!(!m.html().contains("<b>L</b>"), "{}", m.html());
            assert!(
                m.html().contains("Ada &lt;b&gt;L&lt;&#x2f;b&gt;"),
                "{}",
                m.html()
            );
            assert!(m.html().contains("token=abc&amp;x=1"), "{}", m.html());
        }
        let m = t
            .render(MailKind::ResetPassword, "ada@example.com", &ctx())
            .unwrap();
        assert!(m.text().contains("1 hour"), "{}", m.text());
        // Without a name, the greeting does without.
        let m = t
            .render(
                MailKind::VerifyEmail,
                "ada@example.com",
                &MailContext::new("Acme"),
            )
            .unwrap();
        assert!(m.text().starts_with("Hello,"), "{}", m.text());
    }

    #[test]
    fn overrides_are_used_and_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        let file = dir.path().join("mail/verify_email.txt");
        std::fs::write(
            &file,
            "Subject: Bitte bestätigen\n\nHallo {{ user_name }}: {{ link }}\n",
        )
        .unwrap();
        let t = MailTemplates::load(Some(dir.path())).unwrap();
        let m = t
            .render(MailKind::VerifyEmail, "ada@example.com", &ctx())
            .unwrap();
        assert_eq!(m.subject(), "Bitte bestätigen");
        assert_eq!(
            m.text(),
            "Hallo Ada <b>L</b>: https://id.example.com/r?token=abc&x=1\n"
        );
        // The other kinds keep the built-in words.
        let m = t
            .render(MailKind::ResetPassword, "ada@example.com", &ctx())
            .unwrap();
        assert!(m.subject().contains("password"), "{}", m.subject());

        std::fs::write(&file, "Hallo {{ user_name }}\n").unwrap();
        let e = MailTemplates::load(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mail/verify_email.txt") && e.contains("Subject"),
            "{e}"
        );
        std::fs::write(&file, "Subject: x\n\n{% if %}\n").unwrap();
        let e = MailTemplates::load(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mail/verify_email.txt"), "{e}");
    }

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(in_words(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(in_words(Duration::from_secs(2 * 86_400)), "2 days");
        assert_eq!(in_words(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(in_words(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
    }
}
