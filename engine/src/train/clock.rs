//! The step and epoch count every trainer keeps: ours, burn's, and the page's view of a
//! trainer in a Web Worker all advance this one clock.

/// Steps done, and where they fall in epochs of `steps_per_epoch` steps (the last partial
/// batch of an epoch is dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepClock {
    pub steps_per_epoch: usize,
    /// Global steps done; Adam's step count.
    pub steps: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Steps done in the current epoch (0 at an epoch's start).
    pub step_in_epoch: usize,
}

impl StepClock {
    pub fn new(steps_per_epoch: usize) -> Self {
        StepClock { steps_per_epoch, ..Default::default() }
    }

    /// Counts one step, moving to the next epoch after an epoch's last step.
    pub fn advance(&mut self) {
        self.steps += 1;
        self.step_in_epoch += 1;
        if self.step_in_epoch == self.steps_per_epoch {
            self.step_in_epoch = 0;
            self.epoch += 1;
        }
    }

    /// At the start of an epoch (so also right after one ended).
    pub fn at_epoch_start(&self) -> bool {
        self.step_in_epoch == 0
    }

    /// The first example of the current step's batch, in the epoch's order.
    pub fn batch_start(&self, batch: usize) -> usize {
        self.step_in_epoch * batch
    }
}

#[cfg(test)]
mod tests {
    use super::StepClock;

    #[test]
    fn epochs_roll_over_after_their_last_step() {
        let mut c = StepClock::new(3);
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push((c.steps, c.epoch, c.step_in_epoch, c.at_epoch_start(), c.batch_start(10)));
            c.advance();
        }
        let expected = [
            (0, 0, 0, true, 0),
            (1, 0, 1, false, 10),
            (2, 0, 2, false, 20),
            (3, 1, 0, true, 0),
            (4, 1, 1, false, 10),
            (5, 1, 2, false, 20),
            (6, 2, 0, true, 0),
        ];
        assert_eq!(seen, expected);
        assert_eq!((c.steps, c.epoch, c.step_in_epoch), (7, 2, 1));
    }
}
