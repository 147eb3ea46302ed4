//! Elastic capacity inside one run: the service autoscalers, scheduled
//! actions, replicas that take time to start and drain, and nodes that
//! follow the replicas (an ECS capacity provider with managed scaling).
//!
//! Everything here happens on timers; the per-request hooks (arrivals,
//! busy workers and requests in flight per service) only add to areas, and
//! only in elastic scenarios.
//!
//! Semantics, as AWS runs them (and as `scenarios/README.md` documents):
//! * The controller looks every `tick_s`; a service's period closes on the
//!   ticks that are multiples of its period, and its datapoint is the
//!   period's metric over the replicas the metric covers (running tasks for
//!   `cpu`, healthy targets for the per-replica metrics).
//! * Target tracking scales out when `datapoints` of the last `periods`
//!   datapoints are above the target, to `ceil(load ÷ target)`, where load
//!   is the metric times the replicas it was measured over (so capacity
//!   still starting is not counted twice); it scales in when the scale-in
//!   alarm holds, never within `scale_in_cooldown` of a scale-in nor
//!   `scale_out_cooldown` of a scale-out.
//! * A replica placed at `t` joins the balancer's rotation at
//!   `t + start_delay + health_check.interval` (one passing check after the
//!   application is up); a replica removed by scale-in leaves the rotation
//!   at once and stops when its last request is done, or after `drain`.
//! * Nodes: every minute the capacity provider computes the nodes its
//!   tasks need (nodes with tasks, plus what the waiting replicas need) ÷
//!   `target_capacity`; it adds nodes at once (at most `max_step`), which
//!   join `instance_warmup` later, and removes empty nodes after 15
//!   minutes below the target.

use std::collections::VecDeque;

use twip_model::elastic::{Adjustment, Metric, Rule, When};
use twip_model::FailureKind;

/// The elastic state, borrowing only its own field of the run.
macro_rules! st {
    ($run:expr) => {
        $run.el.as_deref_mut().expect("elastic run")
    };
}

/// The elastic model (the run's model is a shared reference).
macro_rules! em {
    ($run:expr) => {
        $run.m.elastic.as_ref().expect("elastic run")
    };
}

use super::{
    pack, Run, EV_DETECT, EV_DRAIN_END, EV_NODE_READY, EV_READY, EV_SCHEDULE, EV_TICK, NONE,
};

/// An integral over time of a count that changes by steps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Area {
    now: f64,
    since: f64,
    area: f64,
}

impl Area {
    fn starting_at(now: f64) -> Area {
        Area {
            now,
            since: 0.0,
            area: 0.0,
        }
    }

    #[inline(always)]
    fn add(&mut self, t: f64, delta: f64) {
        self.area += self.now * (t - self.since);
        self.since = t;
        self.now += delta;
    }

    /// The area since the last `take`, and restart it.
    fn take(&mut self, t: f64) -> f64 {
        self.add(t, 0.0);
        std::mem::take(&mut self.area)
    }
}

/// A replica slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Not wanted.
    Off,
    /// Wanted, waiting for capacity (ECS: PROVISIONING).
    Pending,
    /// On a node, not yet healthy.
    Starting,
    /// In the balancer's rotation.
    InService,
    /// Removed by scale-in, finishing its requests.
    Draining,
    /// Killed by a failure, not yet noticed.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    Provisioning,
    Up,
    Gone,
}

#[derive(Debug, Clone)]
struct NodeSt {
    id: String,
    zone: u32,
    state: NodeState,
    failed: u32,
    cpu: f64,
    mem: f64,
    tasks: u32,
}

struct SvcState {
    desired: u32,
    min: u32,
    max: u32,
    history: VecDeque<f64>,
    last_out: f64,
    last_in: f64,
    /// Step scaling: the count before the scale-out that opened the cooldown.
    cooldown_base: u32,
}

/// What is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scaled {
    Service(u32),
    Nodes,
}

/// Why a count changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Why {
    /// A scale-out alarm: the datapoint and the threshold it passed.
    Out {
        metric: Metric,
        value: f64,
        threshold: f64,
    },
    /// A scale-in alarm.
    In {
        metric: Metric,
        value: f64,
        threshold: f64,
    },
    /// Scheduled action `action` set the bounds.
    Schedule {
        action: u32,
        min: Option<u32>,
        max: Option<u32>,
    },
    /// Replicas or a node replaced after failure `failure`.
    Failure { failure: u32 },
    /// Replicas waiting for capacity, or the provider's reservation (in
    /// percent) above its target.
    Capacity {
        pending: u32,
        reservation_pct: f64,
        target_pct: f64,
    },
    /// Nodes empty for 15 minutes.
    Idle { reservation_pct: f64 },
}

/// One change of a count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub t: f64,
    pub what: Scaled,
    pub from: u32,
    pub to: u32,
    pub why: Why,
}

/// Per timeline interval, per service: desired, in service, waiting for
/// capacity, starting (values at the interval's last look).
pub(crate) type SvcSample = [u32; 4];

impl ElasticStats {
    /// Logs a change; the same change at the same time (a replacement per
    /// victim of one failure) is logged once.
    fn log(&mut self, e: Event) {
        if self.events.last() != Some(&e) {
            self.events.push(e);
        }
    }
}

/// What elastic capacity did in one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct ElasticStats {
    pub events: Vec<Event>,
    /// `[service][interval]`.
    pub services: Vec<Vec<SvcSample>>,
    /// Per interval: nodes up, provisioning (with a capacity provider).
    pub nodes: Vec<[u32; 2]>,
    /// Running-replica seconds per service over the whole run.
    pub replica_s: Vec<f64>,
    /// Node seconds paid for (up or provisioning) over the whole run.
    pub node_s: f64,
    /// Most nodes at once.
    pub peak_nodes: u32,
    /// What each failure hit, resolved when it started.
    pub failure_descriptions: Vec<Option<String>>,
    /// Replicas each failure killed.
    pub failure_replicas: Vec<usize>,
    /// Every change of a replica's state: time, replica, new state, and
    /// the node it was placed on when it starts ([`NONE`] otherwise).
    pub changes: Vec<(f64, u32, Slot, u32)>,
    /// Every node of the run: its id and zone.
    pub node_ids: Vec<(String, u32)>,
    /// Running-replica seconds per service before the measured window.
    pub replica_s_warmup: Vec<f64>,
}

/// The elastic state of a run.
pub(crate) struct State {
    /// Requests reaching each service in the current period.
    pub arrivals: Vec<u64>,
    busy: Vec<Area>,
    inflight: Vec<Area>,
    running: Vec<Area>,
    in_service: Vec<Area>,
    running_total: Vec<Area>,
    svc: Vec<SvcState>,
    slot: Vec<Slot>,
    /// A dead replica was draining (it is not replaced).
    was_draining: Vec<bool>,
    /// Counted in the service's in-service area.
    counted_in_service: Vec<bool>,
    node_of: Vec<u32>,
    killed_by: Vec<u32>,
    nodes: Vec<NodeSt>,
    zone_down: Vec<u32>,
    node_area: Area,
    node_low_ticks: u32,
    ticks: u64,
    stats: ElasticStats,
    /// The zone each failure took down, while it lasts.
    failure_zone: Vec<Option<u32>>,
    /// The nodes each failure took down.
    failure_nodes: Vec<Vec<u32>>,
}

impl State {
    #[inline(always)]
    pub(crate) fn inflight_change(&mut self, svc: u32, now: f64, delta: f64) {
        self.inflight[svc as usize].add(now, delta);
    }

    #[inline(always)]
    pub(crate) fn busy_change(&mut self, svc: u32, now: f64, delta: f64) {
        self.busy[svc as usize].add(now, delta);
    }

    /// Sets replica `r`'s state, logs the change and returns the old state.
    fn set(&mut self, r: u32, to: Slot, now: f64) -> Slot {
        let was = std::mem::replace(&mut self.slot[r as usize], to);
        if was != to {
            let node = if to == Slot::Starting {
                self.node_of[r as usize]
            } else {
                NONE
            };
            self.stats.changes.push((now, r, to, node));
        }
        was
    }

    /// Per zone, the replicas among `slots` that are on a node (starting,
    /// in service, or dead and not yet noticed).
    fn zone_counts(&self, slots: std::ops::Range<u32>) -> Vec<u32> {
        let mut count = vec![0u32; self.zone_down.len()];
        for r in slots {
            let n = self.node_of[r as usize];
            if n != NONE
                && matches!(
                    self.slot[r as usize],
                    Slot::Starting | Slot::InService | Slot::Dead
                )
            {
                count[self.nodes[n as usize].zone as usize] += 1;
            }
        }
        count
    }

    /// The failure that killed replica `r`, while it is dead.
    pub(crate) fn killed_by(&self, r: u32) -> Option<usize> {
        let i = self.killed_by[r as usize];
        (self.slot[r as usize] == Slot::Dead && i != NONE).then_some(i as usize)
    }
}

impl Run<'_> {
    /// Sets up time zero: the initial replicas in service on their nodes,
    /// the first tick and the scheduled actions.
    pub(super) fn elastic_start(&mut self) {
        let em = em!(self);
        let n_svc = self.m.svcs.len();
        let n_slots = self.m.replica_svc.len();
        let start_hour = em.start_hour_utc;
        let tick_s = em.tick_s;
        let mut st = State {
            arrivals: vec![0; n_svc],
            busy: vec![Area::default(); n_svc],
            inflight: vec![Area::default(); n_svc],
            running: vec![Area::default(); n_svc],
            in_service: vec![Area::default(); n_svc],
            running_total: vec![Area::default(); n_svc],
            svc: em
                .svcs
                .iter()
                .map(|s| {
                    let (min, max) = match &s.auto {
                        Some(a) => (a.min, a.max),
                        None => (s.initial, s.initial),
                    };
                    SvcState {
                        desired: s.initial,
                        min,
                        max,
                        history: VecDeque::new(),
                        last_out: f64::NEG_INFINITY,
                        last_in: f64::NEG_INFINITY,
                        cooldown_base: s.initial,
                    }
                })
                .collect(),
            slot: vec![Slot::Off; n_slots],
            was_draining: vec![false; n_slots],
            counted_in_service: vec![false; n_slots],
            node_of: vec![NONE; n_slots],
            killed_by: vec![NONE; n_slots],
            nodes: Vec::new(),
            zone_down: vec![0; em.zones.len()],
            node_area: Area::default(),
            node_low_ticks: 0,
            ticks: 0,
            stats: ElasticStats {
                services: vec![Vec::new(); n_svc],
                replica_s: vec![0.0; n_svc],
                failure_descriptions: vec![None; self.m.failures.len()],
                failure_replicas: vec![0; self.m.failures.len()],
                ..ElasticStats::default()
            },
            failure_zone: vec![None; self.m.failures.len()],
            failure_nodes: vec![Vec::new(); self.m.failures.len()],
        };
        if em.nodes.is_none() {
            // The layout's nodes, as they are.
            for n in &em.layout.nodes {
                let zone = em.zones.iter().position(|z| *z == n.zone).unwrap_or(0) as u32;
                st.nodes.push(NodeSt {
                    id: n.id.clone(),
                    zone,
                    state: NodeState::Up,
                    failed: 0,
                    cpu: 0.0,
                    mem: 0.0,
                    tasks: 0,
                });
            }
        }
        self.el = Some(Box::new(st));
        for r in 0..n_slots {
            self.reps[r].in_rotation = false;
        }
        // The provider's nodes at time zero, dealt over the zones before any
        // replica is placed, so that placement can spread every service
        // over the zones (placed one by one on nodes made as needed, the
        // first replicas of a service would all share the first node).
        if let Some((ns, ty)) = em!(self).nodes.clone() {
            let (mut cpu, mut mem) = (0.0, 0.0);
            for s in &em!(self).svcs {
                cpu += s.cpu * f64::from(s.initial);
                mem += s.memory_mb * f64::from(s.initial);
            }
            let need = (cpu / ty.vcpu).max(mem / ty.memory_mb);
            let need = if need.is_finite() {
                (need - 1e-9).ceil().max(0.0)
            } else {
                0.0
            };
            for _ in 0..(need.min(f64::from(ns.max_nodes)) as u32) {
                self.new_node(NodeState::Up);
            }
        }
        // The initial replicas, in service at time zero.
        for svc in 0..n_svc {
            let sv = &self.m.svcs[svc];
            let (first, initial) = (sv.first_replica, em!(self).svcs[svc].initial);
            for k in 0..initial {
                let r = first + k;
                let node = match em!(self).nodes {
                    None => {
                        let layout_node =
                            em!(self).layout.replica_node[svc].get(k as usize).copied();
                        match layout_node {
                            Some(n) => n as u32,
                            None => self.virtual_node(svc as u32),
                        }
                    }
                    Some(_) => match self.provider_node(svc as u32) {
                        Some(n) => n,
                        None => {
                            let n = self.new_node(NodeState::Up);
                            // The initial replicas run: on the node made
                            // for them if the policy still finds no room.
                            self.provider_node(svc as u32).unwrap_or(n)
                        }
                    },
                };
                self.assign(r, node);
                let st = st!(self);
                st.slot[r as usize] = Slot::InService;
                st.running[svc].add(0.0, 1.0);
                st.running_total[svc].add(0.0, 1.0);
                st.in_service[svc].add(0.0, 1.0);
                st.counted_in_service[r as usize] = true;
                self.reps[r as usize].in_rotation = true;
            }
        }
        // Nodes the provider keeps beside them: its minimum and its spare.
        if let Some((ns, _)) = em!(self).nodes.clone() {
            let used = st!(self).nodes.len() as u32;
            let want = ((f64::from(used) * 100.0 / ns.target_capacity - 1e-9).ceil() as u32)
                .clamp(ns.min_nodes, ns.max_nodes)
                .max(used);
            for _ in used..want {
                self.new_node(NodeState::Up);
            }
            let st = st!(self);
            let up = st.nodes.len() as f64;
            st.node_area = Area::starting_at(up);
            st.stats.peak_nodes = up as u32;
        }
        self.schedule(tick_s.min(self.w.stop), pack(EV_TICK, 0, 0));
        for svc in 0..n_svc {
            for (k, a) in em!(self).svcs[svc].schedule.clone().iter().enumerate() {
                let t = match a.when {
                    When::At { at_s } => at_s,
                    When::Daily { utc_s } => (utc_s - start_hour * 3600.0).rem_euclid(86_400.0),
                };
                self.schedule(t, pack(EV_SCHEDULE, svc as u32, k as u32));
            }
        }
        self.elastic_sample();
    }

    /// A node of its own for a replica (no capacity provider: capacity is no
    /// constraint), in the live zone with the fewest of the service's replicas.
    fn virtual_node(&mut self, svc: u32) -> u32 {
        let zone = self.zone_for(svc).unwrap_or(0);
        let st = st!(self);
        let id = format!("{}-{}", st.nodes.len(), zone);
        st.nodes.push(NodeSt {
            id,
            zone,
            state: NodeState::Up,
            failed: 0,
            cpu: 0.0,
            mem: 0.0,
            tasks: 0,
        });
        (st.nodes.len() - 1) as u32
    }

    /// The live zone with the fewest active replicas of `svc`.
    fn zone_for(&self, svc: u32) -> Option<u32> {
        let st = self.el.as_deref()?;
        let sv = &self.m.svcs[svc as usize];
        let count = st.zone_counts(sv.first_replica..sv.first_replica + sv.replicas);
        (0..count.len() as u32)
            .filter(|&z| st.zone_down[z as usize] == 0)
            .min_by_key(|&z| (count[z as usize], z))
    }

    /// A node with room for a replica of `svc` (capacity provider): spread
    /// over zones, then bin-packed (the fullest node that fits), so that
    /// scale-in empties nodes.
    fn find_node(&self, svc: u32) -> Option<u32> {
        let st = self.el.as_deref()?;
        let (_, ty) = em!(self).nodes.as_ref()?;
        let es = &em!(self).svcs[svc as usize];
        let sv = &self.m.svcs[svc as usize];
        let fits = |n: &NodeSt| {
            n.state == NodeState::Up
                && n.failed == 0
                && st.zone_down[n.zone as usize] == 0
                && n.cpu + es.cpu <= ty.vcpu + 1e-9
                && n.mem + es.memory_mb <= ty.memory_mb + 1e-9
        };
        let count = st.zone_counts(sv.first_replica..sv.first_replica + sv.replicas);
        (0..st.nodes.len() as u32)
            .filter(|&n| fits(&st.nodes[n as usize]))
            .min_by(|&a, &b| {
                let (na, nb) = (&st.nodes[a as usize], &st.nodes[b as usize]);
                count[na.zone as usize]
                    .cmp(&count[nb.zone as usize])
                    .then(nb.cpu.total_cmp(&na.cpu))
                    .then(nb.mem.total_cmp(&na.mem))
                    .then(a.cmp(&b))
            })
    }

    /// A capacity provider's node with room for a replica of `svc`: the
    /// caller's placement policy's choice, or the built-in rule's.
    fn provider_node(&mut self, svc: u32) -> Option<u32> {
        if em!(self).placer.is_some() {
            self.policy_node(svc)
        } else {
            self.find_node(svc)
        }
    }

    /// Asks the caller's placement policy where one more replica of `svc`
    /// goes, given every replica that runs on the usable nodes. A refusal
    /// leaves it waiting; a failure stops the run with its message.
    fn policy_node(&mut self, svc: u32) -> Option<u32> {
        let m = self.m;
        let em = m.elastic.as_ref()?;
        let placer = em.placer.as_ref()?;
        let (_, ty) = em.nodes.as_ref()?;
        let st = self.el.as_deref()?;
        let millis = twip_model::replica_cpu_millis;
        let (node_cpu, node_mem) = (
            (ty.vcpu * 1000.0).round() as u32,
            ty.memory_mb.floor() as u32,
        );
        let mut index = vec![NONE; st.nodes.len()];
        let mut sim_node = Vec::new();
        let mut nodes = Vec::new();
        for (n, node) in st.nodes.iter().enumerate() {
            if node.state == NodeState::Up
                && node.failed == 0
                && st.zone_down[node.zone as usize] == 0
            {
                index[n] = nodes.len() as u32;
                sim_node.push(n as u32);
                nodes.push(crate::PlaceNode {
                    id: node.id.clone(),
                    zone: node.zone,
                    cpu_millis: node_cpu,
                    memory_mib: node_mem,
                });
            }
        }
        let mut existing = vec![Vec::new(); m.svcs.len()];
        for (r, &node) in st.node_of.iter().enumerate() {
            if node == NONE || index[node as usize] == NONE {
                continue;
            }
            let i = index[node as usize];
            let s = m.replica_svc[r] as usize;
            if matches!(st.slot[r], Slot::Starting | Slot::InService) {
                existing[s].push(i);
            } else {
                // Held by a replica the policy does not see (draining, dead).
                let n = &mut nodes[i as usize];
                n.cpu_millis = n.cpu_millis.saturating_sub(millis(em.svcs[s].cpu));
                n.memory_mib = n
                    .memory_mib
                    .saturating_sub(em.svcs[s].memory_mb.ceil() as u32);
            }
        }
        let mut services = Vec::new();
        let mut target = 0;
        for (s, existing) in existing.into_iter().enumerate() {
            if existing.is_empty() && s != svc as usize {
                continue;
            }
            if s == svc as usize {
                target = services.len();
            }
            let es = &em.svcs[s];
            services.push(crate::PlaceService {
                name: es.name.clone(),
                replicas: existing.len() as u32 + u32::from(s == svc as usize),
                cpu_millis: millis(es.cpu),
                memory_mib: es.memory_mb.ceil() as u32,
                existing,
            });
        }
        let req = crate::PlaceRequest {
            zones: em.zones.clone(),
            instance_type: ty.name.clone(),
            nodes,
            services,
            target,
        };
        let failed = match placer.0.place(&req) {
            Ok(new) => match new.as_slice() {
                [i] if (*i as usize) < sim_node.len() => return Some(sim_node[*i as usize]),
                _ => format!(
                    "asked for 1 replica of {}, the policy answered {} node(s): {new:?}",
                    em.svcs[svc as usize].name,
                    new.len()
                ),
            },
            Err(crate::Refusal::NoRoom) => return None,
            Err(crate::Refusal::Failed(message)) => message,
        };
        let now = self.now;
        self.s.placement_error.get_or_insert((now, failed));
        None
    }

    /// A new node of the capacity provider, in the live zone with the fewest nodes.
    fn new_node(&mut self, state: NodeState) -> u32 {
        let st = st!(self);
        let mut count = vec![0u32; st.zone_down.len()];
        for n in &st.nodes {
            if n.state != NodeState::Gone {
                count[n.zone as usize] += 1;
            }
        }
        let zone = (0..count.len() as u32)
            .filter(|&z| st.zone_down[z as usize] == 0)
            .min_by_key(|&z| (count[z as usize], z))
            .unwrap_or(0);
        let id = format!("node-{}", st.nodes.len());
        st.nodes.push(NodeSt {
            id,
            zone,
            state,
            failed: 0,
            cpu: 0.0,
            mem: 0.0,
            tasks: 0,
        });
        (st.nodes.len() - 1) as u32
    }

    fn assign(&mut self, r: u32, node: u32) {
        let svc = self.m.replica_svc[r as usize] as usize;
        let (cpu, mem) = {
            let es = &em!(self).svcs[svc];
            (es.cpu, es.memory_mb)
        };
        let st = st!(self);
        st.node_of[r as usize] = node;
        let n = &mut st.nodes[node as usize];
        n.cpu += cpu;
        n.mem += mem;
        n.tasks += 1;
    }

    fn unassign(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize] as usize;
        let (cpu, mem) = {
            let es = &em!(self).svcs[svc];
            (es.cpu, es.memory_mb)
        };
        let provider = em!(self).nodes.is_some();
        let st = st!(self);
        let node = std::mem::replace(&mut st.node_of[r as usize], NONE);
        if node == NONE {
            return;
        }
        let n = &mut st.nodes[node as usize];
        n.cpu -= cpu;
        n.mem -= mem;
        n.tasks -= 1;
        // A replica's own capacity (no provider) goes with it.
        if !provider && n.tasks == 0 && node as usize >= em!(self).layout.nodes.len() {
            st!(self).nodes[node as usize].state = NodeState::Gone;
        }
    }

    /// The controllers' look: periods that close now, the capacity provider
    /// on whole minutes, the timeline's sample.
    pub(super) fn elastic_tick(&mut self) {
        let tick_s = em!(self).tick_s;
        let st = st!(self);
        st.ticks += 1;
        let ticks = st.ticks;
        let now = self.now;
        for svc in 0..self.m.svcs.len() {
            let Some(period) = em!(self).svcs[svc].auto.as_ref().map(|a| a.period_s) else {
                continue;
            };
            let per = (period / tick_s).round() as u64;
            if ticks.is_multiple_of(per) {
                self.close_period(svc as u32);
            }
        }
        let per_minute = (60.0 / tick_s).round() as u64;
        if em!(self).nodes.is_some() && ticks.is_multiple_of(per_minute) {
            self.node_control();
        }
        self.elastic_sample();
        let next = (ticks + 1) as f64 * tick_s;
        if next < self.w.stop {
            self.schedule(next, pack(EV_TICK, 0, 0));
        }
        debug_assert!((now - ticks as f64 * tick_s).abs() < 1e-6);
    }

    fn close_period(&mut self, svc: u32) {
        let now = self.now;
        let workers = f64::from(self.m.svcs[svc as usize].workers);
        let a = em!(self).svcs[svc as usize]
            .auto
            .clone()
            .expect("autoscaled service");
        let s = svc as usize;
        let st = st!(self);
        let busy = st.busy[s].take(now);
        let running = st.running[s].take(now);
        let in_service = st.in_service[s].take(now);
        let inflight = st.inflight[s].take(now);
        let arrivals = std::mem::take(&mut st.arrivals[s]) as f64;
        // The datapoint, and the replicas it was measured over (mean count).
        let p = a.period_s;
        let (value, over) = match a.metric {
            Metric::Cpu => (busy / (workers * running), running / p),
            Metric::RequestsPerReplica => (arrivals * 60.0 / in_service, in_service / p),
            Metric::InFlightPerReplica => (inflight / in_service, in_service / p),
        };
        let value = if value.is_finite() { value } else { f64::NAN };
        let keep = a.scale_out_alarm.periods.max(a.scale_in_alarm.periods) as usize;
        let ss = &mut st.svc[s];
        ss.history.push_back(value);
        while ss.history.len() > keep {
            ss.history.pop_front();
        }
        let breaches = |h: &VecDeque<f64>, n: u32, pred: &dyn Fn(f64) -> bool| {
            h.iter()
                .rev()
                .take(n as usize)
                .filter(|&&v| pred(v))
                .count() as u32
        };
        let (desired, min, max) = (ss.desired, ss.min, ss.max);
        let in_cooldown_out = now - ss.last_out < a.scale_out_cooldown_s;
        let may_scale_in = !in_cooldown_out && now - ss.last_in >= a.scale_in_cooldown_s;
        let load = value * over;
        match &a.rule {
            Rule::TargetTracking { target } => {
                let t = *target;
                let out = breaches(&ss.history, a.scale_out_alarm.periods, &|v| v > t);
                if out >= a.scale_out_alarm.datapoints {
                    let wanted = ((load / t - 1e-9).ceil().max(0.0) as u32).clamp(min, max);
                    if wanted > desired {
                        ss.last_out = now;
                        let why = Why::Out {
                            metric: a.metric,
                            value,
                            threshold: t,
                        };
                        self.set_desired(svc, wanted, why);
                    }
                    return;
                }
                let low = a.scale_in_ratio * t;
                let inn = breaches(&ss.history, a.scale_in_alarm.periods, &|v| v < low);
                if inn >= a.scale_in_alarm.datapoints && may_scale_in {
                    let wanted = ((load / t - 1e-9).ceil().max(0.0) as u32).clamp(min, max);
                    if wanted < desired {
                        ss.last_in = now;
                        let why = Why::In {
                            metric: a.metric,
                            value,
                            threshold: low,
                        };
                        self.set_desired(svc, wanted, why);
                    }
                }
            }
            Rule::Steps { steps, adjustment } => {
                let lowest_out = steps
                    .iter()
                    .filter_map(|x| x.above)
                    .fold(f64::INFINITY, f64::min);
                let highest_in = steps
                    .iter()
                    .filter_map(|x| x.below)
                    .fold(f64::NEG_INFINITY, f64::max);
                let out = breaches(&ss.history, a.scale_out_alarm.periods, &|v| v > lowest_out);
                if out >= a.scale_out_alarm.datapoints && value > lowest_out {
                    // The step with the largest bound the datapoint passes.
                    let step = steps
                        .iter()
                        .filter(|x| x.above.is_some_and(|b| value > b))
                        .max_by(|x, y| x.above.unwrap_or(0.0).total_cmp(&y.above.unwrap_or(0.0)))
                        .expect("a step passed");
                    // Within the cooldown, from the count before it began.
                    let base = if in_cooldown_out {
                        ss.cooldown_base
                    } else {
                        desired
                    };
                    let wanted = adjust(base, step.add, *adjustment).clamp(min, max);
                    if wanted > desired {
                        if !in_cooldown_out {
                            ss.cooldown_base = desired;
                        }
                        ss.last_out = now;
                        let why = Why::Out {
                            metric: a.metric,
                            value,
                            threshold: step.above.unwrap_or(lowest_out),
                        };
                        self.set_desired(svc, wanted, why);
                    }
                    return;
                }
                let inn = breaches(&ss.history, a.scale_in_alarm.periods, &|v| v < highest_in);
                if inn >= a.scale_in_alarm.datapoints && value < highest_in && may_scale_in {
                    let step = steps
                        .iter()
                        .filter(|x| x.below.is_some_and(|b| value < b))
                        .min_by(|x, y| x.below.unwrap_or(0.0).total_cmp(&y.below.unwrap_or(0.0)))
                        .expect("a step passed");
                    let wanted = adjust(desired, step.add, *adjustment).clamp(min, max);
                    if wanted < desired {
                        ss.last_in = now;
                        let why = Why::In {
                            metric: a.metric,
                            value,
                            threshold: step.below.unwrap_or(highest_in),
                        };
                        self.set_desired(svc, wanted, why);
                    }
                }
            }
        }
    }

    fn set_desired(&mut self, svc: u32, to: u32, why: Why) {
        let now = self.now;
        let st = st!(self);
        let from = st.svc[svc as usize].desired;
        st.svc[svc as usize].desired = to;
        st.stats.log(Event {
            t: now,
            what: Scaled::Service(svc),
            from,
            to,
            why,
        });
        self.reconcile(svc);
    }

    /// A scheduled action moves the bounds; the count follows into them.
    pub(super) fn elastic_schedule(&mut self, svc: u32, k: u32) {
        let a = em!(self).svcs[svc as usize].schedule[k as usize].clone();
        if let When::Daily { .. } = a.when {
            let next = self.now + 86_400.0;
            if next < self.w.stop {
                self.schedule(next, pack(EV_SCHEDULE, svc, k));
            }
        }
        let st = st!(self);
        let ss = &mut st.svc[svc as usize];
        if let Some(m) = a.min {
            ss.min = m;
        }
        if let Some(m) = a.max {
            ss.max = m;
        }
        if ss.min > ss.max {
            // As Application Auto Scaling: a new bound moves the other.
            if a.min.is_some() {
                ss.max = ss.min;
            } else {
                ss.min = ss.max;
            }
        }
        let to = ss.desired.clamp(ss.min, ss.max);
        let why = Why::Schedule {
            action: k,
            min: a.min,
            max: a.max,
        };
        if to != ss.desired {
            self.set_desired(svc, to, why);
        } else {
            let now = self.now;
            st.stats.log(Event {
                t: now,
                what: Scaled::Service(svc),
                from: to,
                to,
                why,
            });
        }
    }

    /// Starts or removes replicas of `svc` until the active ones are the desired count.
    fn reconcile(&mut self, svc: u32) {
        let sv = &self.m.svcs[svc as usize];
        let slots = sv.first_replica..sv.first_replica + sv.replicas;
        let desired = st!(self).svc[svc as usize].desired;
        let active = |st: &State| {
            slots
                .clone()
                .filter(|&r| {
                    matches!(
                        st.slot[r as usize],
                        Slot::Pending | Slot::Starting | Slot::InService | Slot::Dead
                    )
                })
                .count() as u32
        };
        let mut n = active(st!(self));
        while n < desired {
            let Some(r) = slots
                .clone()
                .find(|&r| st!(self).slot[r as usize] == Slot::Off)
            else {
                break;
            };
            st!(self).set(r, Slot::Pending, self.now);
            self.reps[r as usize].incarnation += 1;
            self.try_place(r);
            n += 1;
        }
        while n > desired {
            // Waiting ones first, then dead, starting, and in service from
            // the zone with the most of them.
            let st = st!(self);
            let pick = |want: Slot| slots.clone().rev().find(|&r| st.slot[r as usize] == want);
            if let Some(r) = pick(Slot::Pending) {
                st.set(r, Slot::Off, self.now);
                self.reps[r as usize].incarnation += 1;
            } else if let Some(r) = pick(Slot::Dead).or_else(|| pick(Slot::Starting)) {
                self.stop(r);
            } else {
                let mut count = vec![0u32; st.zone_down.len()];
                for r in slots.clone() {
                    if st.slot[r as usize] == Slot::InService {
                        count[st.nodes[st.node_of[r as usize] as usize].zone as usize] += 1;
                    }
                }
                let Some(r) = slots
                    .clone()
                    .rev()
                    .filter(|&r| st.slot[r as usize] == Slot::InService)
                    .max_by_key(|&r| {
                        count[st.nodes[st.node_of[r as usize] as usize].zone as usize]
                    })
                else {
                    break;
                };
                self.drain(r);
            }
            n -= 1;
        }
    }

    /// Places a waiting replica if capacity allows; it starts now.
    fn try_place(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize];
        let node = if em!(self).nodes.is_some() {
            self.provider_node(svc)
        } else if self.zone_for(svc).is_some() {
            Some(self.virtual_node(svc))
        } else {
            None
        };
        let Some(node) = node else {
            return;
        };
        self.assign(r, node);
        let now = self.now;
        let ready =
            now + em!(self).svcs[svc as usize].start_delay_s + self.m.svcs[svc as usize].rejoin_s;
        let st = st!(self);
        st.set(r, Slot::Starting, self.now);
        st.running[svc as usize].add(now, 1.0);
        st.running_total[svc as usize].add(now, 1.0);
        let rep = &mut self.reps[r as usize];
        rep.incarnation += 1;
        rep.down = 0;
        let inc = rep.incarnation;
        self.passive_reset(r);
        self.schedule(ready, pack(EV_READY, r, inc));
    }

    /// Healthy: the replica joins the rotation.
    pub(super) fn elastic_ready(&mut self, r: u32, inc: u32) {
        if self.reps[r as usize].incarnation != inc || st!(self).slot[r as usize] != Slot::Starting
        {
            return;
        }
        let svc = self.m.replica_svc[r as usize];
        let now = self.now;
        let st = st!(self);
        st.set(r, Slot::InService, self.now);
        st.in_service[svc as usize].add(now, 1.0);
        st.counted_in_service[r as usize] = true;
        self.reps[r as usize].in_rotation = true;
        self.rebuild_rotation(svc);
    }

    /// Out of rotation; stops when its requests are done or the drain ends.
    fn drain(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize];
        let now = self.now;
        let st = st!(self);
        st.set(r, Slot::Draining, self.now);
        if std::mem::take(&mut st.counted_in_service[r as usize]) {
            st.in_service[svc as usize].add(now, -1.0);
        }
        self.reps[r as usize].in_rotation = false;
        self.rebuild_rotation(svc);
        let inc = self.reps[r as usize].incarnation;
        let end = now + em!(self).svcs[svc as usize].drain_s;
        self.schedule(end, pack(EV_DRAIN_END, r, inc));
        self.elastic_drained(r);
    }

    /// A draining replica with nothing left stops.
    pub(super) fn elastic_drained(&mut self, r: u32) {
        if self.reps[r as usize].inflight == 0
            && self
                .el
                .as_deref()
                .is_some_and(|st| st.slot[r as usize] == Slot::Draining)
        {
            self.stop(r);
        }
    }

    pub(super) fn elastic_drain_end(&mut self, r: u32, inc: u32) {
        if self.reps[r as usize].incarnation == inc && st!(self).slot[r as usize] == Slot::Draining
        {
            self.kill_replica(r, None);
            self.stop(r);
        }
    }

    /// The replica's task ends: its capacity is freed.
    fn stop(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize];
        let now = self.now;
        let st = st!(self);
        let was = st.set(r, Slot::Off, now);
        if was != Slot::Off && was != Slot::Pending {
            st.running[svc as usize].add(now, -1.0);
            st.running_total[svc as usize].add(now, -1.0);
        }
        if std::mem::take(&mut st.counted_in_service[r as usize]) {
            st.in_service[svc as usize].add(now, -1.0);
        }
        st.killed_by[r as usize] = NONE;
        st.was_draining[r as usize] = false;
        let rep = &mut self.reps[r as usize];
        rep.incarnation += 1;
        rep.down = 0;
        if rep.in_rotation {
            rep.in_rotation = false;
            self.rebuild_rotation(svc);
        }
        self.passive_reset(r);
        self.unassign(r);
    }

    /// Failure `i` starts: it takes what it names, as the nodes are now.
    pub(super) fn elastic_fail_start(&mut self, i: usize) {
        self.active_failures[i] = true;
        let (kind, target) = em!(self).failures[i].clone();
        let description = match kind {
            FailureKind::Replica => {
                // A replica slot, resolved when the model was compiled.
                let f = &self.m.failures[i];
                if let Some(&r) = f.replicas.first() {
                    if matches!(
                        st!(self).slot[r as usize],
                        Slot::Starting | Slot::InService | Slot::Draining
                    ) {
                        self.kill_task(r, i);
                    }
                }
                f.description.clone()
            }
            FailureKind::Node => {
                let st = st!(self);
                let n = match &target {
                    Some(id) => st.nodes.iter().position(|n| n.id == *id).map(|n| n as u32),
                    None => (0..st.nodes.len() as u32)
                        .filter(|&n| {
                            let x = &st.nodes[n as usize];
                            x.state == NodeState::Up && x.failed == 0
                        })
                        .max_by_key(|&n| (st.nodes[n as usize].tasks, std::cmp::Reverse(n))),
                };
                match n {
                    Some(n) => {
                        let d = {
                            let st = st!(self);
                            let node = &st.nodes[n as usize];
                            format!("node {} ({})", node.id, em!(self).zones[node.zone as usize])
                        };
                        let replace = self.fail_node(n, i);
                        self.replace_nodes(u32::from(replace), i);
                        d
                    }
                    None => "node (none up)".to_string(),
                }
            }
            FailureKind::Zone => {
                let st = st!(self);
                let z = match &target {
                    Some(name) => em!(self).zones.iter().position(|z| z == name).unwrap_or(0),
                    None => {
                        let busiest = (0..st.nodes.len())
                            .filter(|&n| st.nodes[n].state == NodeState::Up)
                            .max_by_key(|&n| (st.nodes[n].tasks, std::cmp::Reverse(n)));
                        busiest.map(|n| st.nodes[n].zone as usize).unwrap_or(0)
                    }
                };
                st!(self).zone_down[z] += 1;
                st!(self).failure_zone[i] = Some(z as u32);
                let victims: Vec<u32> = (0..st!(self).nodes.len() as u32)
                    .filter(|&n| {
                        let x = &st!(self).nodes[n as usize];
                        x.zone as usize == z && x.state != NodeState::Gone
                    })
                    .collect();
                let mut replace = 0;
                for n in victims {
                    replace += u32::from(self.fail_node(n, i));
                }
                self.replace_nodes(replace, i);
                format!("zone {}", em!(self).zones[z])
            }
        };
        st!(self).stats.failure_descriptions[i] = Some(description);
    }

    /// Node `n` fails: its replicas die; a capacity provider's group
    /// terminates it. True when the group is to launch a replacement.
    #[must_use]
    fn fail_node(&mut self, n: u32, i: usize) -> bool {
        let st = st!(self);
        st.failure_nodes[i].push(n);
        st.nodes[n as usize].failed += 1;
        if st.nodes[n as usize].failed > 1 {
            return false;
        }
        let victims: Vec<u32> = (0..st.slot.len() as u32)
            .filter(|&r| {
                st.node_of[r as usize] == n
                    && matches!(
                        st.slot[r as usize],
                        Slot::Starting | Slot::InService | Slot::Draining
                    )
            })
            .collect();
        for r in victims {
            self.kill_task(r, i);
        }
        if em!(self).nodes.is_some() {
            // The group terminates the unhealthy instance and launches another.
            let now = self.now;
            let st = st!(self);
            let was = std::mem::replace(&mut st.nodes[n as usize].state, NodeState::Gone);
            if was != NodeState::Gone {
                st.node_area.add(now, -1.0);
                return true;
            }
        }
        false
    }

    /// The group launches one node for each it terminated.
    fn replace_nodes(&mut self, k: u32, i: usize) {
        if k == 0 {
            return;
        }
        let st = st!(self);
        let count = st
            .nodes
            .iter()
            .filter(|x| x.state != NodeState::Gone)
            .count() as u32;
        self.launch(k, count, Why::Failure { failure: i as u32 });
    }

    /// A failure kills replica `r`'s task; the balancer notices after its
    /// health checks, and the scheduler then replaces it.
    fn kill_task(&mut self, r: u32, i: usize) {
        let svc = self.m.replica_svc[r as usize];
        let st = st!(self);
        st.was_draining[r as usize] = st.slot[r as usize] == Slot::Draining;
        st.stats.failure_replicas[i] += 1;
        st.set(r, Slot::Dead, self.now);
        st.killed_by[r as usize] = i as u32;
        let rep = &mut self.reps[r as usize];
        rep.down = 1;
        rep.incarnation += 1;
        let inc = rep.incarnation;
        self.kill_replica(r, Some(i));
        let detect = self.m.svcs[svc as usize].detect_s;
        self.schedule(self.now + detect, pack(EV_DETECT, r, inc));
    }

    /// The health checks have noticed: out of rotation, stopped, replaced.
    pub(super) fn elastic_detect(&mut self, r: u32, inc: u32) {
        if self.reps[r as usize].incarnation != inc || st!(self).slot[r as usize] != Slot::Dead {
            return;
        }
        let svc = self.m.replica_svc[r as usize];
        let failure = st!(self).killed_by[r as usize];
        let draining = st!(self).was_draining[r as usize];
        let before = st!(self).svc[svc as usize].desired;
        self.stop(r);
        if !draining {
            self.reconcile(svc);
            let now = self.now;
            st!(self).stats.log(Event {
                t: now,
                what: Scaled::Service(svc),
                from: before,
                to: before,
                why: Why::Failure { failure },
            });
        }
    }

    pub(super) fn elastic_fail_end(&mut self, i: usize) {
        self.active_failures[i] = false;
        let provider = em!(self).nodes.is_some();
        let st = st!(self);
        if let Some(z) = st.failure_zone[i].take() {
            st.zone_down[z as usize] = st.zone_down[z as usize].saturating_sub(1);
        }
        // Without a provider the failed nodes come back (with one, they
        // were replaced).
        for n in std::mem::take(&mut st.failure_nodes[i]) {
            if !provider {
                let node = &mut st.nodes[n as usize];
                node.failed = node.failed.saturating_sub(1);
            }
        }
        self.place_pending();
    }

    fn place_pending(&mut self) {
        // A service refused once in a pass is refused again (nothing has
        // changed for it): the rest of its waiting replicas keep waiting.
        let mut refused = vec![false; self.m.svcs.len()];
        for r in 0..self.m.replica_svc.len() as u32 {
            let svc = self.m.replica_svc[r as usize] as usize;
            if st!(self).slot[r as usize] == Slot::Pending && !refused[svc] {
                self.try_place(r);
                refused[svc] = st!(self).slot[r as usize] == Slot::Pending;
            }
        }
    }

    /// The capacity provider's minute: scale out for waiting replicas and
    /// the target, scale in empty nodes after 15 minutes below it.
    fn node_control(&mut self) {
        let Some((ns, ty)) = em!(self).nodes.clone() else {
            return;
        };
        let st = st!(self);
        let (mut pcpu, mut pmem, mut pending) = (0.0, 0.0, 0u32);
        for r in 0..st.slot.len() {
            if st.slot[r] == Slot::Pending {
                let svc = self.m.replica_svc[r] as usize;
                let es = &self.m.elastic.as_ref().expect("elastic").svcs[svc];
                pcpu += es.cpu;
                pmem += es.memory_mb;
                pending += 1;
            }
        }
        let current = st
            .nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .count() as u32;
        let with_tasks = st
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Up && n.tasks > 0)
            .count() as u32;
        let extra = if pending > 0 {
            (pcpu / ty.vcpu).max(pmem / ty.memory_mb).ceil().max(1.0) as u32
        } else {
            0
        };
        let needed = with_tasks + extra;
        let reservation_pct = if current > 0 {
            f64::from(needed) * 100.0 / f64::from(current)
        } else if needed > 0 {
            f64::INFINITY
        } else {
            100.0
        };
        let want = ((f64::from(needed) * 100.0 / ns.target_capacity - 1e-9).ceil() as u32)
            .clamp(ns.min_nodes, ns.max_nodes);
        if want > current {
            st.node_low_ticks = 0;
            let k = (want - current).min(ns.max_step);
            self.launch(
                k,
                current,
                Why::Capacity {
                    pending,
                    reservation_pct,
                    target_pct: ns.target_capacity,
                },
            );
        } else if want < current {
            st.node_low_ticks += 1;
            if st.node_low_ticks >= 15 {
                st.node_low_ticks = 0;
                let k = (current - want).min(ns.max_step);
                let empty: Vec<usize> = (0..st.nodes.len())
                    .rev()
                    .filter(|&n| st.nodes[n].state == NodeState::Up && st.nodes[n].tasks == 0)
                    .take(k as usize)
                    .collect();
                if !empty.is_empty() {
                    let now = self.now;
                    for &n in &empty {
                        st.nodes[n].state = NodeState::Gone;
                        st.node_area.add(now, -1.0);
                    }
                    let to = current - empty.len() as u32;
                    st.stats.log(Event {
                        t: now,
                        what: Scaled::Nodes,
                        from: current,
                        to,
                        why: Why::Idle { reservation_pct },
                    });
                }
            }
        } else {
            st.node_low_ticks = 0;
        }
    }

    /// `k` new nodes, ready after the instance warm-up.
    fn launch(&mut self, k: u32, current: u32, why: Why) {
        let now = self.now;
        let warmup = em!(self)
            .nodes
            .as_ref()
            .expect("provider")
            .0
            .instance_warmup_s;
        for _ in 0..k {
            let n = self.new_node(NodeState::Provisioning);
            st!(self).node_area.add(now, 1.0);
            self.schedule(now + warmup, pack(EV_NODE_READY, n, 0));
        }
        let st = st!(self);
        let alive = st.node_area.now as u32;
        st.stats.peak_nodes = st.stats.peak_nodes.max(alive);
        st.stats.log(Event {
            t: now,
            what: Scaled::Nodes,
            from: current,
            to: current + k,
            why,
        });
    }

    pub(super) fn elastic_node_ready(&mut self, n: u32) {
        let st = st!(self);
        let node = &mut st.nodes[n as usize];
        if node.state != NodeState::Provisioning {
            return;
        }
        node.state = NodeState::Up;
        self.place_pending();
    }

    /// The counts of the moment, for the timeline's current interval.
    fn elastic_sample(&mut self) {
        let Some(k) = self.bucket_of(self.now) else {
            return;
        };
        let provider = em!(self).nodes.is_some();
        let st = self.el.as_deref_mut().expect("elastic run");
        for (svc, sv) in self.m.svcs.iter().enumerate() {
            let mut v = [st.svc[svc].desired, 0, 0, 0];
            for r in sv.first_replica..sv.first_replica + sv.replicas {
                match st.slot[r as usize] {
                    Slot::InService => v[1] += 1,
                    Slot::Pending => v[2] += 1,
                    Slot::Starting => v[3] += 1,
                    _ => {}
                }
            }
            let series = &mut st.stats.services[svc];
            if series.len() <= k {
                let last = series.last().copied().unwrap_or(v);
                series.resize(k + 1, last);
            }
            series[k] = v;
        }
        if provider {
            let mut v = [0, 0];
            for n in &st.nodes {
                match n.state {
                    NodeState::Up => v[0] += 1,
                    NodeState::Provisioning => v[1] += 1,
                    NodeState::Gone => {}
                }
            }
            let series = &mut st.stats.nodes;
            if series.len() <= k {
                let last = series.last().copied().unwrap_or(v);
                series.resize(k + 1, last);
            }
            series[k] = v;
        }
    }

    /// The measured window begins: the replica time before it is set apart.
    pub(super) fn elastic_warm(&mut self) {
        let now = self.now;
        let st = st!(self);
        st.stats.replica_s_warmup = st
            .running_total
            .iter_mut()
            .map(|a| {
                a.add(now, 0.0);
                a.area
            })
            .collect();
    }

    /// The run is over: close the areas and fill the timeline forward.
    pub(super) fn elastic_finish(&mut self) -> ElasticStats {
        let now = self.w.stop;
        let buckets = self.s.buckets.len();
        let provider = em!(self).nodes.is_some();
        let mut st = self.el.take().expect("elastic run");
        for (svc, a) in st.running_total.iter_mut().enumerate() {
            st.stats.replica_s[svc] = a.take(now);
        }
        st.stats.node_s = if provider {
            st.node_area.take(now)
        } else {
            0.0
        };
        for series in &mut st.stats.services {
            let last = series.last().copied().unwrap_or_default();
            series.resize(buckets, last);
        }
        if provider {
            let last = st.stats.nodes.last().copied().unwrap_or_default();
            st.stats.nodes.resize(buckets, last);
        }
        st.stats.node_ids = st.nodes.iter().map(|n| (n.id.clone(), n.zone)).collect();
        st.stats
    }
}

/// A step's adjustment of `count`.
fn adjust(count: u32, add: f64, how: Adjustment) -> u32 {
    let c = f64::from(count);
    let v = match how {
        Adjustment::Change => c + add.trunc(),
        Adjustment::Percent => {
            let d = c * add / 100.0;
            // Rounded away from zero, at least one replica.
            let d = d.abs().ceil().max(1.0).copysign(add);
            c + d
        }
        Adjustment::Exact => add,
    };
    v.clamp(0.0, f64::from(u32::MAX)) as u32
}
