//! CPE 2.3 formatted strings (NISTIR 7695 §6.2: `cpe:2.3:part:vendor:product:version:update:
//! edition:language:sw_edition:target_sw:target_hw:other`) and the strict matching the gate
//! uses for components without a purl: part, vendor AND product must be equal and concrete
//! (a `*`/`-` vendor or product never matches, the classic source of CPE false positives).

/// A parsed CPE 2.3 name (attribute values unescaped and lower-cased).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cpe23 {
    /// `a` (application), `o` (operating system), `h` (hardware) or `*`.
    pub part: String,
    /// The vendor.
    pub vendor: String,
    /// The product.
    pub product: String,
    /// The version (`*` = any, `-` = not applicable).
    pub version: String,
}

fn split_escaped(s: &str) -> Vec<String> {
    let mut fields = Vec::with_capacity(13);
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ':' => fields.push(core::mem::take(&mut cur)),
            c => cur.push(c.to_ascii_lowercase()),
        }
    }
    fields.push(cur);
    fields
}

impl Cpe23 {
    /// Parses a CPE 2.3 formatted string; returns `None` for anything else (including CPE 2.2
    /// URIs, which the gate does not guess at).
    pub fn parse(s: &str) -> Option<Cpe23> {
        let fields = split_escaped(s);
        if fields.len() != 13 {
            return None;
        }
        let mut it = fields.into_iter();
        let (cpe, ver) = (it.next()?, it.next()?);
        if cpe != "cpe" || ver != "2.3" {
            return None;
        }
        let part = it.next()?;
        if !matches!(part.as_str(), "a" | "o" | "h" | "*") {
            return None;
        }
        Some(Cpe23 {
            part,
            vendor: it.next()?,
            product: it.next()?,
            version: it.next()?,
        })
    }

    /// Strict identity: same part (or one side `*`), and the same concrete vendor and product.
    pub fn names_same_product(&self, other: &Cpe23) -> bool {
        let concrete = |v: &str| !v.is_empty() && v != "*" && v != "-";
        (self.part == other.part || self.part == "*" || other.part == "*")
            && concrete(&self.vendor)
            && concrete(&self.product)
            && self.vendor == other.vendor
            && self.product == other.product
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_vendor_and_product() {
        let a = Cpe23::parse("cpe:2.3:a:openssl:openssl:3.0.1:*:*:*:*:*:*:*").unwrap();
        let b = Cpe23::parse("cpe:2.3:a:OpenSSL:openssl:*:*:*:*:*:*:*:*").unwrap();
        let other_vendor = Cpe23::parse("cpe:2.3:a:acme:openssl:*:*:*:*:*:*:*:*").unwrap();
        let any_vendor = Cpe23::parse("cpe:2.3:a:*:openssl:*:*:*:*:*:*:*:*").unwrap();
        assert!(a.names_same_product(&b));
        assert!(!a.names_same_product(&other_vendor));
        assert!(!a.names_same_product(&any_vendor));
        assert_eq!(a.version, "3.0.1");
        let escaped = Cpe23::parse(r"cpe:2.3:a:acme:a\:b:1:*:*:*:*:*:*:*").unwrap();
        assert_eq!(escaped.product, "a:b");
        assert!(Cpe23::parse("cpe:/a:openssl:openssl:1.0").is_none());
    }
}
