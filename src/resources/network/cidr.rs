//! Pure CIDR arithmetic for the network: parsing, overlap and the subnet layout.

use ipnet::Ipv4Net;

/// AWS allows VPC and subnet prefixes from /16 (largest) to /28 (smallest).
pub const LARGEST_PREFIX: u8 = 16;
pub const SMALLEST_PREFIX: u8 = 28;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{input:?} is not a valid IPv4 CIDR block (expected e.g. 10.0.0.0/16)")]
    Syntax { input: String },
    #[error("{input} has host bits set; did you mean {network}?")]
    HostBitsSet { input: String, network: Ipv4Net },
    #[error(
        "{cidr} has a /{prefix} prefix; an AWS VPC needs a prefix from /{LARGEST_PREFIX} to /{SMALLEST_PREFIX}"
    )]
    VpcPrefix { cidr: Ipv4Net, prefix: u8 },
    #[error("az_count must be at least 1")]
    NoAvailabilityZones,
    #[error(
        "{cidr} is too small for {az_count} availability zones: {subnets} subnets would each be a /{prefix}, \
         smaller than the /{SMALLEST_PREFIX} AWS allows; use a larger CIDR block or fewer availability zones"
    )]
    TooSmall {
        cidr: Ipv4Net,
        az_count: u8,
        subnets: u16,
        prefix: u8,
    },
}

/// Where each subnet goes: index `i` of each list belongs to availability zone `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetPlan {
    pub public: Vec<Ipv4Net>,
    pub private: Vec<Ipv4Net>,
}

/// Parses a network CIDR block, rejecting host bits (AWS would silently reinterpret them).
pub fn parse_cidr(input: &str) -> Result<Ipv4Net, CidrError> {
    let net: Ipv4Net = input.trim().parse().map_err(|_| CidrError::Syntax {
        input: input.to_owned(),
    })?;
    if net.addr() != net.network() {
        return Err(CidrError::HostBitsSet {
            input: input.to_owned(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Splits the VPC block into `2 × az_count` equal subnets: the first `az_count` are public,
/// the next `az_count` private, each the largest size that fits.
pub fn plan_subnets(vpc: &str, az_count: u8) -> Result<SubnetPlan, CidrError> {
    let cidr = parse_cidr(vpc)?;
    let prefix = cidr.prefix_len();
    if !(LARGEST_PREFIX..=SMALLEST_PREFIX).contains(&prefix) {
        return Err(CidrError::VpcPrefix { cidr, prefix });
    }
    if az_count == 0 {
        return Err(CidrError::NoAvailabilityZones);
    }
    let subnets = 2 * u16::from(az_count);
    let subnet_prefix = prefix + bits_for(subnets);
    if subnet_prefix > SMALLEST_PREFIX {
        return Err(CidrError::TooSmall {
            cidr,
            az_count,
            subnets,
            prefix: subnet_prefix,
        });
    }
    let mut blocks = cidr
        .subnets(subnet_prefix)
        .expect("subnet prefix is longer than the VPC prefix and at most 28");
    let public = blocks.by_ref().take(az_count.into()).collect();
    let private = blocks.take(az_count.into()).collect();
    Ok(SubnetPlan { public, private })
}

/// ceil(log2(n)) for n ≥ 1: the prefix bits needed to address `n` equal blocks.
fn bits_for(n: u16) -> u8 {
    (u16::BITS - (n - 1).leading_zeros()) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Ipv4Net> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn plans() {
        struct Case {
            vpc: &'static str,
            az_count: u8,
            public: &'static [&'static str],
            private: &'static [&'static str],
        }
        let cases = [
            Case {
                vpc: "10.10.0.0/16",
                az_count: 3,
                public: &["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"],
                private: &["10.10.96.0/19", "10.10.128.0/19", "10.10.160.0/19"],
            },
            Case {
                vpc: "10.20.0.0/16",
                az_count: 2,
                public: &["10.20.0.0/18", "10.20.64.0/18"],
                private: &["10.20.128.0/18", "10.20.192.0/18"],
            },
            Case {
                vpc: "10.0.0.0/16",
                az_count: 1,
                public: &["10.0.0.0/17"],
                private: &["10.0.128.0/17"],
            },
            Case {
                vpc: "172.16.0.0/24",
                az_count: 4,
                public: &[
                    "172.16.0.0/27",
                    "172.16.0.32/27",
                    "172.16.0.64/27",
                    "172.16.0.96/27",
                ],
                private: &[
                    "172.16.0.128/27",
                    "172.16.0.160/27",
                    "172.16.0.192/27",
                    "172.16.0.224/27",
                ],
            },
            Case {
                vpc: "192.168.0.0/25",
                az_count: 3,
                public: &["192.168.0.0/28", "192.168.0.16/28", "192.168.0.32/28"],
                private: &["192.168.0.48/28", "192.168.0.64/28", "192.168.0.80/28"],
            },
            Case {
                vpc: "10.0.0.0/27",
                az_count: 1,
                public: &["10.0.0.0/28"],
                private: &["10.0.0.16/28"],
            },
        ];
        for case in cases {
            let plan = plan_subnets(case.vpc, case.az_count).unwrap();
            assert_eq!(
                plan.public,
                nets(case.public),
                "{} × {}",
                case.vpc,
                case.az_count
            );
            assert_eq!(
                plan.private,
                nets(case.private),
                "{} × {}",
                case.vpc,
                case.az_count
            );
        }
    }

    #[test]
    fn plan_errors() {
        let cases = [
            (
                "10.0.0.0/15",
                3,
                "has a /15 prefix; an AWS VPC needs a prefix from /16 to /28",
            ),
            ("10.0.0.0/29", 1, "has a /29 prefix"),
            (
                "10.0.0.0/26",
                3,
                "too small for 3 availability zones: 6 subnets would each be a /29",
            ),
            ("10.0.0.0/27", 2, "too small for 2 availability zones"),
            ("10.0.0.0/16", 0, "az_count must be at least 1"),
            ("10.0.0.1/16", 3, "has host bits set"),
            ("banana", 3, "is not a valid IPv4 CIDR block"),
        ];
        for (vpc, az_count, expected) in cases {
            let err = plan_subnets(vpc, az_count).unwrap_err().to_string();
            assert!(err.contains(expected), "{vpc} × {az_count}: {err}");
        }
    }

    #[test]
    fn parse() {
        let cases: [(&str, Result<&str, &str>); 7] = [
            ("10.0.0.0/16", Ok("10.0.0.0/16")),
            (" 10.20.0.0/16 ", Ok("10.20.0.0/16")),
            (
                "10.0.0.1/16",
                Err("10.0.0.1/16 has host bits set; did you mean 10.0.0.0/16?"),
            ),
            (
                "10.0.0.0",
                Err("\"10.0.0.0\" is not a valid IPv4 CIDR block"),
            ),
            ("10.0.0.0/33", Err("is not a valid IPv4 CIDR block")),
            ("300.0.0.0/8", Err("is not a valid IPv4 CIDR block")),
            ("fd00::/8", Err("is not a valid IPv4 CIDR block")),
        ];
        for (input, expected) in cases {
            match (parse_cidr(input), expected) {
                (Ok(net), Ok(want)) => assert_eq!(net.to_string(), want),
                (Err(err), Err(want)) => assert!(err.to_string().contains(want), "{input}: {err}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn overlap() {
        let cases = [
            ("10.10.0.0/16", "10.20.0.0/16", false),
            ("10.0.0.0/8", "10.20.0.0/16", true),
            ("10.20.0.0/16", "10.0.0.0/8", true),
            ("10.20.0.0/16", "10.20.0.0/16", true),
            ("10.20.0.0/17", "10.20.128.0/17", false),
            ("192.168.0.0/16", "172.16.0.0/12", false),
        ];
        for (a, b, expected) in cases {
            let (a, b) = (parse_cidr(a).unwrap(), parse_cidr(b).unwrap());
            assert_eq!(overlaps(&a, &b), expected, "{a} vs {b}");
        }
    }

    #[test]
    fn bits() {
        for (n, bits) in [
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (6, 3),
            (8, 3),
            (9, 4),
            (510, 9),
        ] {
            assert_eq!(bits_for(n), bits, "{n}");
        }
    }
}
