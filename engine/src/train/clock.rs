//! The step and epoch count every trainer keeps: ours, burn's, and the page's view of a
//! trainer in a Web Worker all advance this one clock.

/// Steps done, and where they fall in epochs of `steps_per_epoch` steps. As in the tutorial,
/// an epoch covers every example: when the batch does not divide the training set, its last
/// step is a short batch of what is left ([`StepClock::batch_range`]).
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

    /// The clock of epochs over `examples` in batches of `batch`, the last one short if need be.
    pub fn for_epochs(examples: usize, batch: usize) -> Self {
        Self::new(Self::steps_per_epoch(examples, batch))
    }

    /// Steps in an epoch over `examples` in batches of `batch`, counting a short last batch.
    pub fn steps_per_epoch(examples: usize, batch: usize) -> usize {
        examples.div_ceil(batch.max(1))
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

    /// The current step's examples, in the epoch's order, out of `examples`: `batch` of
    /// them, or what is left at an epoch's short last step.
    pub fn batch_range(&self, batch: usize, examples: usize) -> std::ops::Range<usize> {
        let start = self.batch_start(batch).min(examples);
        start..(start + batch).min(examples)
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

    #[test]
    fn an_epoch_ends_with_a_short_batch_of_what_is_left() {
        // The tutorial's 60,000 images in batches of 128: 468 full batches and one of 96.
        assert_eq!(StepClock::steps_per_epoch(60_000, 128), 469);
        assert_eq!(StepClock::steps_per_epoch(640, 128), 5);
        let mut c = StepClock::for_epochs(10, 4);
        let mut ranges = Vec::new();
        for _ in 0..4 {
            ranges.push(c.batch_range(4, 10));
            c.advance();
        }
        assert_eq!(ranges, [0..4, 4..8, 8..10, 0..4]);
        assert_eq!((c.epoch, c.step_in_epoch), (1, 1));
    }
}
