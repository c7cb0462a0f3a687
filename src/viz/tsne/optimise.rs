//! Gradient descent with momentum and per-coordinate gains, step for step sklearn's
//! `_gradient_descent`: each call (phase) starts with zero velocity and unit gains; a gain grows by
//! 0.2 where the gradient turned against the last step and shrinks by ×0.8 elsewhere (never below
//! `min_gain`); every `check_every` iterations the cost is computed, and the phase stops early after
//! `patience` iterations without improvement or once the gain-scaled gradient's norm falls to
//! `min_gradient_norm`. The cost of the phase's last iteration is always computed.

/// One call of sklearn's `_gradient_descent`: iterations `first..end`.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    pub first: usize,
    pub end: usize,
    pub momentum: f64,
    pub exaggeration: f64,
    pub patience: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct DescentSettings {
    pub learning_rate: f64,
    pub min_gain: f64,
    pub min_gradient_norm: f64,
    pub check_every: usize,
}

/// Where a phase ended: the last cost computed and the last iteration run.
#[derive(Clone, Copy, Debug)]
pub struct PhaseEnd {
    pub kl_divergence: f64,
    pub last_iteration: usize,
}

/// Runs `phase` on `y`; `objective(y, exaggeration, with_cost)` gives (cost, gradient).
pub fn descend(
    y: &mut [[f64; 2]],
    phase: Phase,
    settings: &DescentSettings,
    mut objective: impl FnMut(&[[f64; 2]], f64, bool) -> (Option<f64>, Vec<[f64; 2]>),
) -> PhaseEnd {
    let mut velocity = vec![[0.0f64; 2]; y.len()];
    let mut gains = vec![[1.0f64; 2]; y.len()];
    let (mut cost, mut best_cost) = (f64::MAX, f64::MAX);
    let (mut best_iteration, mut iteration) = (phase.first, phase.first);
    for i in phase.first..phase.end {
        iteration = i;
        let check = (i + 1) % settings.check_every == 0;
        let (new_cost, mut gradient) = objective(y, phase.exaggeration, check || i == phase.end - 1);
        if let Some(c) = new_cost {
            cost = c;
        }
        for ((point, step), (gain, g)) in y.iter_mut().zip(&mut velocity).zip(gains.iter_mut().zip(&mut gradient)) {
            for d in 0..2 {
                gain[d] = if step[d] * g[d] < 0.0 { gain[d] + 0.2 } else { gain[d] * 0.8 };
                gain[d] = gain[d].max(settings.min_gain);
                g[d] *= gain[d];
                step[d] = phase.momentum * step[d] - settings.learning_rate * g[d];
                point[d] += step[d];
            }
        }
        if check {
            let gradient_norm = gradient.iter().map(|g| g[0] * g[0] + g[1] * g[1]).sum::<f64>().sqrt();
            if cost < best_cost {
                best_cost = cost;
                best_iteration = i;
            } else if i - best_iteration > phase.patience {
                break;
            }
            if gradient_norm <= settings.min_gradient_norm {
                break;
            }
        }
    }
    PhaseEnd { kl_divergence: cost, last_iteration: iteration }
}
