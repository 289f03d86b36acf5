//! Routes and route-table associations: checking them (for drift) and making them so.

use aws_sdk_ec2::types::{Route, RouteState, RouteTable, RouteTableAssociation};

use crate::aws::error::{api_error, ok_if_not_found, AwsError};
use crate::aws::RegionCtx;

use super::find::find_route_table_by_subnet;

const ROUTE: &str = "route";
const ASSOCIATION: &str = "route table association";

/// The destination every default route covers.
pub(super) const ANYWHERE: &str = "0.0.0.0/0";

/// Where a route sends its traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target<'a> {
    InternetGateway(&'a str),
    NatGateway(&'a str),
    Peering(&'a str),
}

impl Target<'_> {
    pub fn id(&self) -> &str {
        match self {
            Target::InternetGateway(id) | Target::NatGateway(id) | Target::Peering(id) => id,
        }
    }

    fn is_target_of(&self, route: &Route) -> bool {
        let actual = match self {
            Target::InternetGateway(_) => route.gateway_id(),
            Target::NatGateway(_) => route.nat_gateway_id(),
            Target::Peering(_) => route.vpc_peering_connection_id(),
        };
        actual == Some(self.id())
    }
}

/// What is wrong with a route, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RouteProblem {
    Missing,
    WrongTarget(String),
    Blackhole,
}

/// Checks that `rt` sends `destination` to `target` through an active route.
pub(super) fn check_route(
    rt: &RouteTable,
    destination: &str,
    target: Target,
) -> Option<RouteProblem> {
    let Some(route) = route_to(rt, destination) else {
        return Some(RouteProblem::Missing);
    };
    if !target.is_target_of(route) {
        return Some(RouteProblem::WrongTarget(route_target_name(route)));
    }
    if route.state() == Some(&RouteState::Blackhole) {
        return Some(RouteProblem::Blackhole);
    }
    None
}

/// Describes a problem for a drift message.
pub(super) fn describe_problem(
    problem: &RouteProblem,
    rt_id: &str,
    destination: &str,
    target: Target,
) -> String {
    match problem {
        RouteProblem::Missing => format!("route to {destination} missing from {rt_id}"),
        RouteProblem::WrongTarget(actual) => format!(
            "route to {destination} in {rt_id} goes to {actual} instead of {}",
            target.id()
        ),
        RouteProblem::Blackhole => format!(
            "route to {destination} in {rt_id} is a blackhole ({} is gone)",
            target.id()
        ),
    }
}

fn route_to<'a>(rt: &'a RouteTable, destination: &str) -> Option<&'a Route> {
    rt.routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(destination))
}

fn route_target_name(route: &Route) -> String {
    [
        route.gateway_id(),
        route.nat_gateway_id(),
        route.vpc_peering_connection_id(),
        route.transit_gateway_id(),
        route.network_interface_id(),
        route.instance_id(),
    ]
    .into_iter()
    .flatten()
    .next()
    .unwrap_or("nothing")
    .to_owned()
}

/// Sets the target on a CreateRoute or ReplaceRoute request (two builder types with the same
/// setters).
macro_rules! with_target {
    ($request:expr, $target:expr) => {
        match $target {
            Target::InternetGateway(id) => $request.gateway_id(id),
            Target::NatGateway(id) => $request.nat_gateway_id(id),
            Target::Peering(id) => $request.vpc_peering_connection_id(id),
        }
    };
}

/// Creates the route, or replaces a route to the same destination that goes elsewhere or into
/// a blackhole.
pub(super) async fn ensure_route(
    rc: &RegionCtx,
    rt: &RouteTable,
    destination: &str,
    target: Target<'_>,
) -> Result<(), AwsError> {
    let rt_id = rt.route_table_id().unwrap_or_default();
    let label = format!("{rt_id} {destination}");
    let ec2 = rc.ec2();
    match check_route(rt, destination, target) {
        None => Ok(()),
        Some(RouteProblem::Missing) => {
            let request = ec2
                .create_route()
                .route_table_id(rt_id)
                .destination_cidr_block(destination);
            with_target!(request, target)
                .send()
                .await
                .map_err(api_error("creating", ROUTE, &label, &rc.region))?;
            tracing::info!("created route {label} → {} in {}", target.id(), rc.region);
            Ok(())
        }
        Some(_) => {
            let request = ec2
                .replace_route()
                .route_table_id(rt_id)
                .destination_cidr_block(destination);
            with_target!(request, target)
                .send()
                .await
                .map_err(api_error("replacing", ROUTE, &label, &rc.region))?;
            tracing::info!("replaced route {label} → {} in {}", target.id(), rc.region);
            Ok(())
        }
    }
}

/// Deletes a route; a route or table that is already gone is success.
pub(super) async fn delete_route(
    rc: &RegionCtx,
    rt_id: &str,
    destination: &str,
) -> Result<(), AwsError> {
    let label = format!("{rt_id} {destination}");
    let result = rc
        .ec2()
        .delete_route()
        .route_table_id(rt_id)
        .destination_cidr_block(destination)
        .send()
        .await
        .map_err(api_error("deleting", ROUTE, &label, &rc.region));
    if ok_if_not_found(result)?.is_some() {
        tracing::info!("deleted route {label} in {}", rc.region);
    }
    Ok(())
}

pub(super) fn is_associated(rt: &RouteTable, subnet_id: &str) -> bool {
    rt.associations()
        .iter()
        .any(|a| a.subnet_id() == Some(subnet_id))
}

/// Associates the subnet with the route table. A subnet has at most one explicit association,
/// so an association with another table (one of ours, from the snapshot in `known`, or anyone
/// else's) is moved over rather than duplicated.
pub(super) async fn ensure_association(
    rc: &RegionCtx,
    rt_id: &str,
    subnet_id: &str,
    known: &[RouteTable],
) -> Result<(), AwsError> {
    if let Some(current) = association_of(known, subnet_id) {
        if current.route_table_id() == Some(rt_id) {
            return Ok(());
        }
        return replace_association(rc, current, rt_id, subnet_id).await;
    }
    let label = format!("{rt_id} {subnet_id}");
    let result = rc
        .ec2()
        .associate_route_table()
        .route_table_id(rt_id)
        .subnet_id(subnet_id)
        .send()
        .await
        .map_err(api_error("creating", ASSOCIATION, &label, &rc.region));
    match result {
        Ok(_) => {
            tracing::info!("associated {subnet_id} with {rt_id} in {}", rc.region);
            Ok(())
        }
        Err(err) if err.code() == Some("Resource.AlreadyAssociated") => {
            let foreign = find_route_table_by_subnet(&rc.ec2(), &rc.region, subnet_id).await?;
            match association_of(std::slice::from_ref(&foreign), subnet_id) {
                Some(current) if current.route_table_id() != Some(rt_id) => {
                    replace_association(rc, current, rt_id, subnet_id).await
                }
                _ => Ok(()),
            }
        }
        Err(err) => Err(err),
    }
}

fn association_of<'a>(
    tables: &'a [RouteTable],
    subnet_id: &str,
) -> Option<&'a RouteTableAssociation> {
    tables
        .iter()
        .flat_map(|rt| rt.associations())
        .find(|a| a.subnet_id() == Some(subnet_id))
}

async fn replace_association(
    rc: &RegionCtx,
    current: &RouteTableAssociation,
    rt_id: &str,
    subnet_id: &str,
) -> Result<(), AwsError> {
    let association_id = current.route_table_association_id().unwrap_or_default();
    rc.ec2()
        .replace_route_table_association()
        .association_id(association_id)
        .route_table_id(rt_id)
        .send()
        .await
        .map_err(api_error(
            "replacing",
            ASSOCIATION,
            association_id,
            &rc.region,
        ))?;
    tracing::info!("moved {subnet_id} to {rt_id} in {}", rc.region);
    Ok(())
}

/// Removes an explicit association; one that is already gone is success.
pub(super) async fn disassociate(rc: &RegionCtx, association_id: &str) -> Result<(), AwsError> {
    let result = rc
        .ec2()
        .disassociate_route_table()
        .association_id(association_id)
        .send()
        .await
        .map_err(api_error(
            "deleting",
            ASSOCIATION,
            association_id,
            &rc.region,
        ));
    ok_if_not_found(result).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: Vec<Route>) -> RouteTable {
        RouteTable::builder()
            .route_table_id("rtb-1")
            .set_routes(Some(routes))
            .build()
    }

    fn route(dest: &str) -> aws_sdk_ec2::types::builders::RouteBuilder {
        Route::builder()
            .destination_cidr_block(dest)
            .state(RouteState::Active)
    }

    #[test]
    fn route_checks() {
        let rt = table(vec![
            route("10.10.0.0/16").gateway_id("local").build(),
            route(ANYWHERE).nat_gateway_id("nat-1").build(),
            route("10.20.0.0/16")
                .vpc_peering_connection_id("pcx-1")
                .state(RouteState::Blackhole)
                .build(),
        ]);
        let cases = [
            (ANYWHERE, Target::NatGateway("nat-1"), None),
            (
                ANYWHERE,
                Target::NatGateway("nat-2"),
                Some(RouteProblem::WrongTarget("nat-1".into())),
            ),
            (
                ANYWHERE,
                Target::InternetGateway("igw-1"),
                Some(RouteProblem::WrongTarget("nat-1".into())),
            ),
            (
                "10.20.0.0/16",
                Target::Peering("pcx-1"),
                Some(RouteProblem::Blackhole),
            ),
            (
                "10.30.0.0/16",
                Target::Peering("pcx-1"),
                Some(RouteProblem::Missing),
            ),
        ];
        for (dest, target, expected) in cases {
            assert_eq!(
                check_route(&rt, dest, target),
                expected,
                "{dest} {target:?}"
            );
        }
        assert_eq!(
            describe_problem(
                &RouteProblem::Missing,
                "rtb-1",
                "10.30.0.0/16",
                Target::Peering("pcx-1")
            ),
            "route to 10.30.0.0/16 missing from rtb-1"
        );
    }
}
