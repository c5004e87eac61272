//! Topic templates: filters whose levels may be placeholders filled from the client's identity
//! (`${client_id}`, `${username}`, `${cert.cn}`, `${attr.NAME}`).
//!
//! A placeholder always fills **one whole level**. A value that is missing, empty, or contains
//! `/`, `+`, `#` or U+0000 (or, in the first level, starts with `$`) makes the template unusable
//! for that client: the engine then denies what the template would have matched (fail closed),
//! instead of letting client id `dev1/x` into `devices/dev1/...` the way mosquitto's `%c` does.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use crate::context::ClientContext;
use crate::error::TemplateError;
use crate::topic::{FilterLevel, TopicFilter};

/// Deepest template the compiled matcher accepts (it recurses once per level).
pub const MAX_TEMPLATE_LEVELS: usize = 64;

/// An identity value a template level can be filled with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    /// `${client_id}`
    ClientId,
    /// `${username}`
    Username,
    /// `${cert.cn}`
    CertCn,
    /// `${attr.NAME}`
    Attribute(String),
}

/// Which kind of placeholder (without the attribute name), for decisions that must not allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderKind {
    /// `${client_id}`
    ClientId,
    /// `${username}`
    Username,
    /// `${cert.cn}`
    CertCn,
    /// `${attr.NAME}`
    Attribute,
}

/// Why an identity value cannot fill a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueProblem {
    /// The client did not supply it (no username, no certificate, no such attribute).
    Missing,
    /// Empty string: would turn `a/${x}/b` into `a//b`.
    Empty,
    /// Contains `/`: would escape into a neighbour's subtree.
    ContainsLevelSeparator,
    /// Contains `+` or `#`: wildcard injection (CVE-2017-7650).
    ContainsWildcard,
    /// Contains U+0000.
    ContainsNul,
    /// Starts with `$` in the first level: would reach server topics such as `$SYS`.
    ReservedPrefix,
}

/// The placeholder as written in a template (`${client_id}`; attributes as `${attr.*}`).
impl core::fmt::Display for PlaceholderKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PlaceholderKind::ClientId => "${client_id}",
            PlaceholderKind::Username => "${username}",
            PlaceholderKind::CertCn => "${cert.cn}",
            PlaceholderKind::Attribute => "${attr.*}",
        })
    }
}

/// What is wrong with the value, in words.
impl core::fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ValueProblem::Missing => "missing",
            ValueProblem::Empty => "empty",
            ValueProblem::ContainsLevelSeparator => "contains '/'",
            ValueProblem::ContainsWildcard => "contains a wildcard ('+' or '#')",
            ValueProblem::ContainsNul => "contains U+0000",
            ValueProblem::ReservedPrefix => "starts with '$'",
        })
    }
}

impl Placeholder {
    /// The kind, for decisions.
    pub fn kind(&self) -> PlaceholderKind {
        match self {
            Placeholder::ClientId => PlaceholderKind::ClientId,
            Placeholder::Username => PlaceholderKind::Username,
            Placeholder::CertCn => PlaceholderKind::CertCn,
            Placeholder::Attribute(_) => PlaceholderKind::Attribute,
        }
    }

    /// The raw value from the context, unchecked.
    pub fn raw_value<'c>(&self, ctx: &ClientContext<'c>) -> Option<&'c str> {
        match self {
            Placeholder::ClientId => Some(ctx.client_id),
            Placeholder::Username => ctx.username,
            Placeholder::CertCn => ctx.cert_cn,
            Placeholder::Attribute(name) => ctx.attribute(name),
        }
    }

    /// The value filling one level, or why it cannot. Allocates nothing.
    pub fn level_value<'c>(
        &self,
        ctx: &ClientContext<'c>,
        first_level: bool,
    ) -> Result<&'c str, ValueProblem> {
        let value = self.raw_value(ctx).ok_or(ValueProblem::Missing)?;
        check_level_value(value, first_level)?;
        Ok(value)
    }
}

/// Whether a string may fill one whole topic level.
pub fn check_level_value(value: &str, first_level: bool) -> Result<(), ValueProblem> {
    if value.is_empty() {
        return Err(ValueProblem::Empty);
    }
    for b in value.bytes() {
        match b {
            b'/' => return Err(ValueProblem::ContainsLevelSeparator),
            b'+' | b'#' => return Err(ValueProblem::ContainsWildcard),
            0 => return Err(ValueProblem::ContainsNul),
            _ => {}
        }
    }
    if first_level && value.starts_with('$') {
        return Err(ValueProblem::ReservedPrefix);
    }
    Ok(())
}

/// One level of a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemplateLevel {
    /// Literal text.
    Literal(String),
    /// `+`
    SingleWildcard,
    /// `#`
    MultiWildcard,
    /// `${...}`
    Placeholder(Placeholder),
}

/// A validated topic template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicTemplate {
    text: String,
    levels: Vec<TemplateLevel>,
}

/// A template level that an identity value could not fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unusable {
    /// Which placeholder.
    pub placeholder: PlaceholderKind,
    /// Why.
    pub problem: ValueProblem,
}

impl TopicTemplate {
    /// Parses a template: a valid topic filter in which `${...}` levels are placeholders.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        TopicFilter::new(text).map_err(|source| TemplateError::Topic {
            template: text.to_string(),
            source,
        })?;
        let mut levels = Vec::new();
        for (i, level) in text.split('/').enumerate() {
            let parsed = match level {
                "+" => TemplateLevel::SingleWildcard,
                "#" => TemplateLevel::MultiWildcard,
                _ => {
                    if let Some(name) = level.strip_prefix("${").and_then(|l| l.strip_suffix('}')) {
                        TemplateLevel::Placeholder(parse_placeholder(text, name)?)
                    } else if level.contains("${") {
                        return Err(TemplateError::PlaceholderNotWholeLevel {
                            template: text.to_string(),
                            level: i,
                        });
                    } else {
                        TemplateLevel::Literal(level.to_string())
                    }
                }
            };
            levels.push(parsed);
        }
        if levels.len() > MAX_TEMPLATE_LEVELS {
            return Err(TemplateError::TooDeep {
                template: text.to_string(),
                levels: levels.len(),
                max: MAX_TEMPLATE_LEVELS,
            });
        }
        Ok(TopicTemplate {
            text: text.to_string(),
            levels,
        })
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed levels.
    pub fn levels(&self) -> &[TemplateLevel] {
        &self.levels
    }

    /// Whether the template has a placeholder.
    pub fn has_placeholder(&self) -> bool {
        self.levels
            .iter()
            .any(|l| matches!(l, TemplateLevel::Placeholder(_)))
    }

    /// The filter for this client, or the first placeholder it cannot fill.
    pub fn instantiate<'a>(
        &'a self,
        ctx: &ClientContext<'a>,
    ) -> Result<Vec<FilterLevel<'a>>, Unusable> {
        self.levels
            .iter()
            .enumerate()
            .map(|(i, level)| match level {
                TemplateLevel::Literal(l) => Ok(FilterLevel::Literal(l.as_str())),
                TemplateLevel::SingleWildcard => Ok(FilterLevel::SingleWildcard),
                TemplateLevel::MultiWildcard => Ok(FilterLevel::MultiWildcard),
                TemplateLevel::Placeholder(p) => p
                    .level_value(ctx, i == 0)
                    .map(FilterLevel::Literal)
                    .map_err(|problem| Unusable {
                        placeholder: p.kind(),
                        problem,
                    }),
            })
            .collect()
    }

    /// The filter for this client where every placeholder it can fill is filled and every other
    /// one reads as `+`, with the first (by level) placeholder it cannot fill.
    pub fn instantiate_partial<'a>(
        &'a self,
        ctx: &ClientContext<'a>,
    ) -> (Vec<FilterLevel<'a>>, Option<Unusable>) {
        let levels = (0..self.levels.len())
            .filter_map(|k| self.partial_level(ctx, k))
            .collect();
        (levels, self.first_unusable(ctx))
    }

    /// Level `k` of [`Self::instantiate_partial`], computed alone (no allocation); `None` past
    /// the end.
    pub fn partial_level<'a>(
        &'a self,
        ctx: &ClientContext<'a>,
        k: usize,
    ) -> Option<FilterLevel<'a>> {
        self.levels.get(k).map(|level| match level {
            TemplateLevel::Literal(l) => FilterLevel::Literal(l.as_str()),
            TemplateLevel::SingleWildcard => FilterLevel::SingleWildcard,
            TemplateLevel::MultiWildcard => FilterLevel::MultiWildcard,
            TemplateLevel::Placeholder(p) => match p.level_value(ctx, k == 0) {
                Ok(v) => FilterLevel::Literal(v),
                Err(_) => FilterLevel::SingleWildcard,
            },
        })
    }

    /// The first (by level) placeholder this client cannot fill (no allocation).
    pub fn first_unusable(&self, ctx: &ClientContext<'_>) -> Option<Unusable> {
        self.levels
            .iter()
            .enumerate()
            .find_map(|(k, level)| match level {
                TemplateLevel::Placeholder(p) => {
                    p.level_value(ctx, k == 0).err().map(|problem| Unusable {
                        placeholder: p.kind(),
                        problem,
                    })
                }
                _ => None,
            })
    }

    /// The filter with every placeholder read as `+`: what the template could reach for some
    /// identity.
    pub fn reach(&self) -> Vec<FilterLevel<'_>> {
        self.levels
            .iter()
            .map(|level| match level {
                TemplateLevel::Literal(l) => FilterLevel::Literal(l.as_str()),
                TemplateLevel::SingleWildcard | TemplateLevel::Placeholder(_) => {
                    FilterLevel::SingleWildcard
                }
                TemplateLevel::MultiWildcard => FilterLevel::MultiWildcard,
            })
            .collect()
    }

    /// The filter with every placeholder kept as its own symbol (`${client_id}` as a literal
    /// level, which no real template literal can equal): for comparing templates.
    pub fn symbolic(&self) -> Vec<FilterLevel<'_>> {
        TopicFilter::new(&self.text)
            .map(|f| f.levels().collect())
            .unwrap_or_default()
    }
}

fn parse_placeholder(template: &str, name: &str) -> Result<Placeholder, TemplateError> {
    match name {
        "client_id" => Ok(Placeholder::ClientId),
        "username" => Ok(Placeholder::Username),
        "cert.cn" => Ok(Placeholder::CertCn),
        _ => match name.strip_prefix("attr.") {
            Some(attr)
                if !attr.is_empty()
                    && attr.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
                    }) =>
            {
                Ok(Placeholder::Attribute(attr.to_string()))
            }
            _ => Err(TemplateError::UnknownPlaceholder {
                template: template.to_string(),
                name: name.to_string(),
            }),
        },
    }
}
