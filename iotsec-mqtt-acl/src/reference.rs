//! The plain reference evaluator: every rule, every template, one after the other. Slow and
//! allocating, written to be obviously right; the compiled matcher is tested against it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::context::{Action, ClientContext, Request};
use crate::decision::{Decision, Reason, RuleOutcome, Tally};
use crate::policy::Policy;
use crate::subscribe::{SubscribeMode, decide_subscribe};
use crate::template::{PlaceholderKind, TemplateLevel, TopicTemplate, ValueProblem};
use crate::topic::{TopicFilter, TopicName, matches_levels};

/// Decides a request by walking every rule.
pub fn evaluate(
    policy: &Policy,
    ctx: &ClientContext<'_>,
    request: &Request<'_>,
    mode: SubscribeMode,
) -> Decision {
    if request.qos > 2 {
        return Decision::deny(Reason::InvalidQos { qos: request.qos });
    }
    if !policy.identity_bound(ctx) {
        return Decision::deny(Reason::IdentityNotBound {
            binding: policy.identity_binding,
        });
    }
    if request.action == Action::Subscribe {
        return decide_subscribe(policy, ctx, request, mode, &mut false);
    }
    let name = match TopicName::new(request.topic) {
        Ok(n) => n,
        Err(e) => return Decision::deny(Reason::InvalidTopic(e)),
    };
    let mut tally = Tally::default();
    for (ri, rule) in policy.rules().iter().enumerate() {
        if !rule.actions.contains(request.action) || !rule.subjects.includes(ctx) {
            continue;
        }
        let ri = u32::try_from(ri).unwrap_or(u32::MAX);
        for (ti, template) in rule.templates.iter().enumerate() {
            let ti = u16::try_from(ti).unwrap_or(u16::MAX);
            let outcome = if mode == SubscribeMode::Mosquitto {
                match mosquitto_substitution(template, ctx) {
                    Ok(text) => match TopicFilter::new(&text) {
                        Ok(f) if f.matches(&name) => Some(rule.outcome(ctx, request.qos)),
                        _ => None,
                    },
                    Err((placeholder, problem)) => {
                        let reach = template.reach();
                        matches_levels(reach, name.as_str()).then_some(
                            RuleOutcome::PlaceholderUnusable {
                                placeholder,
                                problem,
                            },
                        )
                    }
                }
            } else {
                let (levels, unusable) = template.instantiate_partial(ctx);
                matches_levels(levels, name.as_str()).then(|| match unusable {
                    Some(u) => RuleOutcome::PlaceholderUnusable {
                        placeholder: u.placeholder,
                        problem: u.problem,
                    },
                    None => rule.outcome(ctx, request.qos),
                })
            };
            if let Some(outcome) = outcome {
                tally.record(ri, ti, rule.effect, outcome);
            }
        }
    }
    tally.finish()
}

/// Mosquitto 2.0's textual `%c`/`%u` substitution: the value is pasted in as text, so a `/` in
/// it adds levels. Only `+`/`#` in a value are refused (mosquitto denies such clients).
fn mosquitto_substitution(
    template: &TopicTemplate,
    ctx: &ClientContext<'_>,
) -> Result<String, (PlaceholderKind, ValueProblem)> {
    let mut parts: Vec<&str> = Vec::with_capacity(template.levels().len());
    for level in template.levels() {
        parts.push(match level {
            TemplateLevel::Literal(l) => l.as_str(),
            TemplateLevel::SingleWildcard => "+",
            TemplateLevel::MultiWildcard => "#",
            TemplateLevel::Placeholder(p) => {
                let value = p.raw_value(ctx).ok_or((p.kind(), ValueProblem::Missing))?;
                if value.contains(['+', '#']) {
                    return Err((p.kind(), ValueProblem::ContainsWildcard));
                }
                value
            }
        });
    }
    Ok(parts.join("/"))
}
