//! Closed-form queueing results: the yardstick of the simulator and the
//! planner's first-cut sizing. Times are in the unit of the inputs.

/// Erlang B blocking probability for `c` servers and offered load `a = λ/μ`.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b
}

/// Erlang C: probability that an arrival waits in an M/M/c queue (`a = λ/μ < c`).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    if rho >= 1.0 {
        return 1.0;
    }
    let b = erlang_b(c, a);
    b / (1.0 - rho * (1.0 - b))
}

/// Mean wait in queue of M/M/c with arrival rate `lambda` and mean service `s`.
pub fn mmc_mean_wait(c: u32, lambda: f64, s: f64) -> f64 {
    let a = lambda * s;
    if a >= c as f64 {
        return f64::INFINITY;
    }
    erlang_c(c, a) * s / (c as f64 - a)
}

/// Pollaczek–Khinchine mean wait of M/G/1: `λ E[S²] / (2 (1 - ρ))`.
pub fn mg1_mean_wait(lambda: f64, mean_s: f64, second_moment: f64) -> f64 {
    let rho = lambda * mean_s;
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    lambda * second_moment / (2.0 * (1.0 - rho))
}

/// Blocking probability of M/M/c/K (`k` ≥ `c` places in the system in all).
pub fn mmck_blocking(c: u32, k: u32, lambda: f64, s: f64) -> f64 {
    let a = lambda * s;
    // p_n ∝ a^n/n! for n ≤ c, a^c/c! (a/c)^(n-c) beyond; sum in a stable way.
    let mut term = 1.0;
    let mut total = 1.0;
    for n in 1..=k {
        term *= if n <= c { a / n as f64 } else { a / c as f64 };
        total += term;
    }
    term / total
}

/// Smallest number of servers so that M/M/c with this load has mean wait ≤ `max_wait`.
pub fn servers_for_wait(lambda: f64, s: f64, max_wait: f64) -> u32 {
    let mut c = ((lambda * s).floor() as u32).max(1);
    while mmc_mean_wait(c, lambda, s) > max_wait {
        c += 1;
    }
    c
}

/// The `q` quantile of the waiting time in M/M/c (0 for `q` below P(no wait)).
pub fn mmc_wait_quantile(c: u32, lambda: f64, s: f64, q: f64) -> f64 {
    let a = lambda * s;
    if a >= c as f64 {
        return f64::INFINITY;
    }
    let pw = erlang_c(c, a);
    if 1.0 - q >= pw {
        return 0.0;
    }
    // P(W > t) = pw · exp(-(cμ - λ) t)
    let rate = c as f64 / s - lambda;
    (pw / (1.0 - q)).ln() / rate
}

/// The `q` quantile of the sojourn time (wait + service) in M/M/c with
/// exponential service of mean `s`: `P(T > t) = (1 − C) e^{−μt} + C (θ e^{−μt}
/// − μ e^{−θt}) / (θ − μ)`, `θ = cμ − λ`, `C` Erlang C; solved by bisection.
pub fn mmc_sojourn_quantile(c: u32, lambda: f64, s: f64, q: f64) -> f64 {
    let a = lambda * s;
    if a >= c as f64 {
        return f64::INFINITY;
    }
    let pw = erlang_c(c, a);
    let mu = 1.0 / s;
    let theta = c as f64 * mu - lambda;
    let tail = |t: f64| {
        let waited = if (theta - mu).abs() < 1e-12 * mu {
            // S + X with both Exp(μ): Erlang-2.
            (1.0 + mu * t) * (-mu * t).exp()
        } else {
            (theta * (-mu * t).exp() - mu * (-theta * t).exp()) / (theta - mu)
        };
        (1.0 - pw) * (-mu * t).exp() + pw * waited
    };
    let (mut lo, mut hi) = (0.0, s);
    while tail(hi) > 1.0 - q {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) > 1.0 - q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_values() {
        // M/M/1: Wq = ρ/(μ-λ)
        assert!((mmc_mean_wait(1, 0.8, 1.0) - 4.0).abs() < 1e-12);
        // Erlang C(2, 1) = 1/3
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // M/D/1 is half of M/M/1
        assert!((mg1_mean_wait(0.5, 1.0, 1.0) - 0.5).abs() < 1e-12);
        // M/M/1/1 blocking = a/(1+a)
        assert!((mmck_blocking(1, 1, 1.0, 1.0) - 0.5).abs() < 1e-12);
        // M/M/c/c blocking is Erlang B
        assert!((mmck_blocking(3, 3, 2.0, 1.0) - erlang_b(3, 2.0)).abs() < 1e-12);
        assert_eq!(servers_for_wait(10.0, 1.0, 0.1), 13);
        // M/M/1 sojourn is Exp(μ − λ).
        let t = mmc_sojourn_quantile(1, 0.8, 1.0, 0.99);
        assert!((t - 100f64.ln() / 0.2).abs() < 1e-9, "{t}");
    }
}
