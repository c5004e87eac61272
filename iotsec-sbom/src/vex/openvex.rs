//! OpenVEX 0.2.0 (OpenVEX specification v0.2.0: document `@context`, `statements[]` with
//! `vulnerability.name`/`aliases`, `products[]` with `@id`, `identifiers` and `subcomponents`,
//! `status`, `justification`, `impact_statement`, and `timestamp` on the document and on each
//! statement, which defaults to the document's: later statements override earlier ones). Expiry is the extension field `expires` on a
//! statement (OpenVEX has none). Documents of the 0.0.x drafts (string products, top-level
//! `subcomponents`) are read too.

use serde::Deserialize;

use super::scope::ProductRef;
use super::statement::{Justification, VexStatement, VexStatus, checked_expiry, checked_timestamp};
use crate::error::GateError;

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "@context", default)]
    context: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VulnerabilityField {
    Name(String),
    Object {
        name: String,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Product {
    Id(String),
    Object {
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<Identifiers>,
        #[serde(default)]
        subcomponents: Vec<Product>,
    },
}

#[derive(Deserialize)]
struct Identifiers {
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    cpe23: Option<String>,
}

#[derive(Deserialize)]
struct Statement {
    vulnerability: VulnerabilityField,
    #[serde(default)]
    products: Vec<Product>,
    #[serde(default)]
    subcomponents: Vec<Product>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

fn refs_of(p: &Product, out: &mut Vec<ProductRef>) -> Result<(), String> {
    match p {
        Product::Id(id) => out.push(ProductRef::try_from_reference(id)?),
        Product::Object {
            id, identifiers, ..
        } => {
            if let Some(i) = identifiers {
                if let Some(purl) = &i.purl {
                    out.push(ProductRef::Purl(purl.clone()));
                }
                if let Some(cpe) = &i.cpe23 {
                    out.push(ProductRef::Cpe(cpe.clone()));
                }
            }
            if let Some(id) = id {
                out.push(ProductRef::try_from_reference(id)?);
            }
        }
    }
    Ok(())
}

/// Reads an OpenVEX document.
pub fn parse_openvex(bytes: &[u8], source: &str) -> Result<Vec<VexStatement>, GateError> {
    let bad = |reason: String| GateError::BadVex {
        source_name: source.to_owned(),
        reason,
    };
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if !doc
        .context
        .as_deref()
        .is_some_and(|c| c.starts_with("https://openvex.dev/ns"))
    {
        return Err(bad("@context is not https://openvex.dev/ns/...".to_owned()));
    }
    let document_time = checked_timestamp(doc.timestamp, source, None)?;
    let mut out = Vec::with_capacity(doc.statements.len());
    for (index, s) in doc.statements.into_iter().enumerate() {
        let status = VexStatus::from_openvex(&s.status)
            .ok_or_else(|| bad(format!("statement {index}: unknown status {:?}", s.status)))?;
        let justification =
            match &s.justification {
                Some(j) => Some(Justification::from_openvex(j).ok_or_else(|| {
                    bad(format!("statement {index}: unknown justification {j:?}"))
                })?),
                None => None,
            };
        if status == VexStatus::NotAffected
            && justification.is_none()
            && s.impact_statement.is_none()
        {
            return Err(bad(format!(
                "statement {index}: not_affected needs a justification or an impact_statement (OpenVEX §Status)"
            )));
        }
        let (vulnerability, aliases) = match s.vulnerability {
            VulnerabilityField::Name(n) => (n, Vec::new()),
            VulnerabilityField::Object { name, aliases } => (name, aliases),
        };
        let mut products = Vec::new();
        let mut subcomponents = Vec::new();
        for p in &s.products {
            refs_of(p, &mut products).map_err(|e| bad(format!("statement {index}: {e}")))?;
            if let Product::Object {
                subcomponents: subs,
                ..
            } = p
            {
                for sub in subs {
                    refs_of(sub, &mut subcomponents)
                        .map_err(|e| bad(format!("statement {index}: {e}")))?;
                }
            }
        }
        for sub in &s.subcomponents {
            refs_of(sub, &mut subcomponents).map_err(|e| bad(format!("statement {index}: {e}")))?;
        }
        if products.is_empty() {
            return Err(bad(format!("statement {index}: no products")));
        }
        out.push(VexStatement {
            source: source.to_owned(),
            index,
            vulnerability,
            aliases,
            products,
            product_versions: Vec::new(),
            subcomponents,
            status,
            justification,
            detail: s.impact_statement,
            expires: checked_expiry(s.expires, source, index)?,
            timestamp: match checked_timestamp(s.timestamp, source, Some(index))? {
                Some(t) => Some(t),
                None => document_time.clone(),
            },
        });
    }
    Ok(out)
}
