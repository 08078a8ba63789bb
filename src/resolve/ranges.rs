//! PEP 440 specifiers as version ranges for pubgrub, with PEP 440's rules on local and post versions.
use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pubgrub::Ranges;

/// The smallest version above `v` and all of its local variants (`v+anything`).
fn after_locals(v: &Version) -> Version {
    let v = v.clone().without_local();
    match (v.dev(), v.post()) {
        (Some(d), _) => v.with_dev(Some(d + 1)),
        (None, Some(p)) => v.with_post(Some(p + 1)).with_dev(Some(0)),
        (None, None) => v.with_post(Some(0)).with_dev(Some(0)),
    }
}

/// `1.2` → (`1.2min0`, `1.3min0`): every version starting with the prefix.
fn prefix_bounds(v: &Version) -> (Version, Version) {
    let release = v.release().to_vec();
    let lower = Version::new(release.iter().copied())
        .with_epoch(v.epoch())
        .with_min(Some(0));
    let mut upper_release = release;
    if let Some(last) = upper_release.last_mut() {
        *last += 1;
    }
    let upper = Version::new(upper_release)
        .with_epoch(v.epoch())
        .with_min(Some(0));
    (lower, upper)
}

pub fn from_specifier(spec: &VersionSpecifier) -> Ranges<Version> {
    let v = spec.version();
    match spec.operator() {
        Operator::Equal if v.is_local() => Ranges::singleton(v.clone()),
        Operator::Equal => Ranges::between(v.clone(), after_locals(v)),
        Operator::ExactEqual => Ranges::singleton(v.clone()),
        Operator::NotEqual => {
            from_specifier(&VersionSpecifier::equals_version(v.clone())).complement()
        }
        Operator::EqualStar => {
            let (lo, hi) = prefix_bounds(v);
            Ranges::between(lo, hi)
        }
        Operator::NotEqualStar => {
            let (lo, hi) = prefix_bounds(v);
            Ranges::between(lo, hi).complement()
        }
        Operator::TildeEqual => {
            let release = v.release();
            let prefix = Version::new(
                release[..release.len().saturating_sub(1).max(1)]
                    .iter()
                    .copied(),
            )
            .with_epoch(v.epoch());
            let (_, hi) = prefix_bounds(&prefix);
            Ranges::between(v.clone(), hi)
        }
        Operator::GreaterThan => {
            if v.is_post() || v.is_dev() || v.is_local() {
                Ranges::strictly_higher_than(v.clone())
            } else {
                Ranges::strictly_higher_than(v.clone().with_max(Some(0)))
            }
        }
        Operator::GreaterThanEqual => Ranges::higher_than(v.clone()),
        Operator::LessThan => {
            if v.any_prerelease() || v.is_post() || v.is_local() {
                Ranges::strictly_lower_than(v.clone())
            } else {
                Ranges::strictly_lower_than(v.clone().with_min(Some(0)))
            }
        }
        Operator::LessThanEqual => Ranges::strictly_lower_than(after_locals(v)),
    }
}

pub fn from_specifiers(specs: &VersionSpecifiers) -> Ranges<Version> {
    specs.iter().fold(Ranges::full(), |acc, s| {
        acc.intersection(&from_specifier(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn r(s: &str) -> Ranges<Version> {
        from_specifiers(&VersionSpecifiers::from_str(s).unwrap())
    }
    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn agrees_with_pep440_contains() {
        let specs = [
            "==1.0",
            "==1.0+cu121",
            "!=1.0",
            "==1.2.*",
            "!=1.2.*",
            "~=2.2.1",
            "~=2.2",
            ">1.0",
            ">=1.0",
            "<2.0",
            "<=1.0",
            ">1.0.post1",
            "<2.0rc1",
            ">=1.0,<2",
            "===1.0",
        ];
        let versions = [
            "0.9",
            "1.0",
            "1.0+cu121",
            "1.0.post1",
            "1.0.post2",
            "1.0.1",
            "1.2",
            "1.2.5",
            "1.2a1",
            "1.3.dev0",
            "2.0rc1",
            "2.0.dev1",
            "2.0",
            "2.2.1",
            "2.2.9",
            "2.3",
            "2.9",
            "3.0",
            "1.0a1",
        ];
        for s in specs {
            let specs = VersionSpecifiers::from_str(s).unwrap();
            let range = from_specifiers(&specs);
            for ver in versions {
                if (s, ver) == ("<2.0rc1", "2.0.dev1") {
                    // packaging allows it (the bound is itself a pre-release); pep440_rs does not.
                    assert!(range.contains(&v(ver)));
                    continue;
                }
                let ver = v(ver);
                // pep440_rs's contains() is the reference (it follows PEP 440, pre-release filtering aside).
                assert_eq!(range.contains(&ver), specs.contains(&ver), "{s} vs {ver}");
            }
        }
    }

    #[test]
    fn local_versions_satisfy_plain_pins() {
        assert!(r("==2.1.2").contains(&v("2.1.2+cu121")));
        assert!(!r("==2.1.2+cu118").contains(&v("2.1.2+cu121")));
        assert!(r("==2.1.2+cu121").contains(&v("2.1.2+cu121")));
    }
}
