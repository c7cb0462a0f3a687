//! Parameter groups with their own learning rate, as PyTorch's `param_groups`: each group is an
//! optimiser of its own whose rate is the base rate times the group's scale (fine-tuning pretrained
//! encoders slower than a fresh head). Each group's state is saved under `group.{index}.`.
use std::collections::HashSet;

use super::Optimizer;
use crate::autograd::Gradients;
use crate::{Result, Tensor};

struct Group {
    scale: f32,
    names: HashSet<String>,
    optimizer: Box<dyn Optimizer>,
}

pub struct LearningRateGroups {
    base_learning_rate: f32,
    groups: Vec<Group>,
}

impl LearningRateGroups {
    /// `scales`: each parameter name with its learning-rate scale; `make(rate)` builds one group's
    /// optimiser. Parameters are grouped by equal scale, in order of first appearance.
    pub fn new(base_learning_rate: f32, scales: &[(String, f32)], make: impl Fn(f32) -> Box<dyn Optimizer>) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        for (name, scale) in scales {
            match groups.iter_mut().find(|g| g.scale == *scale) {
                Some(group) => {
                    group.names.insert(name.clone());
                }
                None => groups.push(Group { scale: *scale, names: HashSet::from([name.clone()]), optimizer: make(base_learning_rate * scale) }),
            }
        }
        Self { base_learning_rate, groups }
    }

    /// Each group's (scale, learning rate).
    pub fn rates(&self) -> Vec<(f32, f32)> {
        self.groups.iter().map(|g| (g.scale, g.optimizer.learning_rate())).collect()
    }
}

impl Optimizer for LearningRateGroups {
    fn step(&mut self, params: &[(String, Tensor)], grads: &Gradients) -> Result<()> {
        for group in &mut self.groups {
            let members: Vec<(String, Tensor)> = params.iter().filter(|(name, _)| group.names.contains(name)).cloned().collect();
            group.optimizer.step(&members, grads)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f32 {
        self.base_learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.base_learning_rate = learning_rate;
        for group in &mut self.groups {
            group.optimizer.set_learning_rate(learning_rate * group.scale);
        }
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        self.groups.iter().enumerate().flat_map(|(i, g)| g.optimizer.state().into_iter().map(move |(name, t)| (format!("group.{i}.{name}"), t))).collect()
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        for (i, group) in self.groups.iter_mut().enumerate() {
            let prefix = format!("group.{i}.");
            let own: Vec<(String, Tensor)> = state.iter().filter_map(|(name, t)| name.strip_prefix(&prefix).map(|n| (n.to_string(), t.clone()))).collect();
            group.optimizer.load_state(&own)?;
        }
        Ok(())
    }
}
