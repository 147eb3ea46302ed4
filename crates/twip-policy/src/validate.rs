//! Checks of requests (before a plugin sees them) and of answers (before
//! the host uses them). Both are linear in the size of the request.

use crate::{Request, Topology, Violation};
use std::collections::HashSet;

/// Checks that a request is well formed: indices in range, unique names,
/// existing replicas that fit their nodes. Returns a message naming the
/// offending node or service.
pub fn check_request(req: &Request) -> Result<(), String> {
    let n = req.nodes.len();
    let mut ids = HashSet::with_capacity(n);
    for (i, node) in req.nodes.iter().enumerate() {
        if node.zone as usize >= req.zones.len() {
            return Err(format!(
                "node '{}' names zone #{} but the request lists {} zones",
                node.id,
                node.zone,
                req.zones.len()
            ));
        }
        if node.instance_type as usize >= req.instance_types.len() {
            return Err(format!(
                "node '{}' names instance type #{} but the request lists {} instance types",
                node.id,
                node.instance_type,
                req.instance_types.len()
            ));
        }
        if !ids.insert(node.id.as_str()) {
            return Err(format!(
                "node id '{}' appears twice (nodes #{i} and before)",
                node.id
            ));
        }
    }
    let mut names = HashSet::with_capacity(req.services.len());
    let mut cpu = vec![0u64; n];
    let mut mem = vec![0u64; n];
    for s in &req.services {
        if !names.insert(s.name.as_str()) {
            return Err(format!("service name '{}' appears twice", s.name));
        }
        let keep = s.existing.len().min(s.replicas as usize);
        for &x in &s.existing {
            if x as usize >= n {
                return Err(format!(
                    "service '{}' has an existing replica on node #{x}, but the request has {n} nodes",
                    s.name
                ));
            }
        }
        for &x in &s.existing[..keep] {
            cpu[x as usize] += s.cpu_millis as u64;
            mem[x as usize] += s.memory_mib as u64;
        }
    }
    for (i, node) in req.nodes.iter().enumerate() {
        if cpu[i] > node.cpu_millis as u64 || mem[i] > node.memory_mib as u64 {
            return Err(format!(
                "the existing replicas overcommit node '{}' ({}m cpu / {} MiB placed, {}m / {} MiB allocatable)",
                node.id, cpu[i], mem[i], node.cpu_millis, node.memory_mib
            ));
        }
    }
    Ok(())
}

fn topology_name(t: Topology) -> &'static str {
    match t {
        Topology::Node => "node",
        Topology::Zone => "zone",
    }
}

/// Splits a plugin's flat answer into one list per service, after checking
/// that it places exactly as many replicas as the request asks for.
pub fn split_answer(req: &Request, flat: &[u32]) -> Result<Vec<Vec<u32>>, Violation> {
    let requested: u64 = req.services.iter().map(|s| s.replicas as u64).sum();
    if flat.len() as u64 != requested {
        let mut breakdown: Vec<String> = req
            .services
            .iter()
            .take(8)
            .map(|s| format!("{} {}", s.name, s.replicas))
            .collect();
        if req.services.len() > 8 {
            breakdown.push(format!("and {} more services", req.services.len() - 8));
        }
        return Err(Violation::ReplicaTotal {
            placed: flat.len(),
            requested,
            breakdown: breakdown.join(", "),
        });
    }
    let mut rest = flat;
    Ok(req
        .services
        .iter()
        .map(|s| {
            let (mine, tail) = rest.split_at(s.replicas as usize);
            rest = tail;
            mine.to_vec()
        })
        .collect())
}

/// Checks an answer against its (well-formed) request: one entry per
/// service, each replica placed exactly once on a known node, capacity
/// respected, anti-affinity honoured and existing replicas kept.
pub fn check_answer(req: &Request, answer: &[Vec<u32>]) -> Result<(), Violation> {
    let n = req.nodes.len();
    if answer.len() != req.services.len() {
        return Err(Violation::ServiceCount {
            got: answer.len(),
            expected: req.services.len(),
        });
    }
    let mut cpu = vec![0u64; n];
    let mut mem = vec![0u64; n];
    // Scratch counters, cleared after each service by walking its replicas.
    let mut on_node = vec![0u32; n];
    let mut before = vec![0u32; n];
    let mut in_zone = vec![0u32; req.zones.len()];
    let mut zone_before = vec![0u32; req.zones.len()];
    for (s, placed) in req.services.iter().zip(answer) {
        if placed.len() != s.replicas as usize {
            return Err(Violation::ReplicaCount {
                service: s.name.clone(),
                placed: placed.len(),
                requested: s.replicas,
            });
        }
        for (r, &x) in placed.iter().enumerate() {
            if x as usize >= n {
                return Err(Violation::UnknownNode {
                    service: s.name.clone(),
                    replica: r,
                    node: x,
                    nodes: n,
                });
            }
        }
        for &x in placed {
            on_node[x as usize] += 1;
            in_zone[req.nodes[x as usize].zone as usize] += 1;
            cpu[x as usize] += s.cpu_millis as u64;
            mem[x as usize] += s.memory_mib as u64;
        }
        for &x in &s.existing {
            before[x as usize] += 1;
            zone_before[req.nodes[x as usize].zone as usize] += 1;
        }
        let result = check_service(req, s, placed, &on_node, &before, &in_zone, &zone_before);
        for &x in placed.iter().chain(&s.existing) {
            on_node[x as usize] = 0;
            before[x as usize] = 0;
            let z = req.nodes[x as usize].zone as usize;
            in_zone[z] = 0;
            zone_before[z] = 0;
        }
        result?;
    }
    for (i, node) in req.nodes.iter().enumerate() {
        for (resource, unit, used, capacity) in [
            ("cpu", "m", cpu[i], node.cpu_millis as u64),
            ("memory", " MiB", mem[i], node.memory_mib as u64),
        ] {
            if used > capacity {
                return Err(Violation::OverCapacity {
                    node: node.id.clone(),
                    resource,
                    unit,
                    used,
                    capacity,
                });
            }
        }
    }
    Ok(())
}

fn check_service(
    req: &Request,
    s: &crate::Service,
    placed: &[u32],
    on_node: &[u32],
    before: &[u32],
    in_zone: &[u32],
    zone_before: &[u32],
) -> Result<(), Violation> {
    let scale_down = (s.replicas as usize) < s.existing.len();
    for &x in placed.iter().chain(&s.existing) {
        let x = x as usize;
        let (now, had) = (on_node[x], before[x]);
        if !scale_down && now < had {
            return Err(Violation::ExistingMoved {
                service: s.name.clone(),
                node: req.nodes[x].id.clone(),
                existing: had,
                kept: now,
                must: had,
            });
        }
        if scale_down && now > had {
            return Err(Violation::ScaleDownAdded {
                service: s.name.clone(),
                node: req.nodes[x].id.clone(),
                existing: s.existing.len(),
                requested: s.replicas,
                added: now - had,
            });
        }
        if let Some(t) = s.anti_affinity {
            let z = req.nodes[x].zone as usize;
            let (count, allowed, domain) = match t {
                Topology::Node => (now, had.max(1), req.nodes[x].id.as_str()),
                Topology::Zone => (in_zone[z], zone_before[z].max(1), req.zones[z].as_str()),
            };
            if count > allowed {
                return Err(Violation::AntiAffinity {
                    service: s.name.clone(),
                    topology: topology_name(t),
                    domain: domain.to_string(),
                    count,
                });
            }
        }
    }
    Ok(())
}
