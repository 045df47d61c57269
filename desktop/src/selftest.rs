//! `desktop selftest`: every WGSL kernel on this machine's GPU against the f64 reference,
//! the same cases the tests and the page's `?selftest` run.

use anyhow::{bail, Result};
use engine::selftest::{self, SelfTest, Summary};
use engine::train::block_on;

pub fn selftest(list: bool, json: bool) -> Result<()> {
    let plan = selftest::plan();
    if list {
        plan.iter().for_each(|case| println!("{}", case.name()));
        return Ok(());
    }
    let ctx = crate::acquire()?;
    let test = SelfTest::new(ctx.clone());
    eprintln!("register block for this adapter: {:?}", test.kernels.block);
    let mut reports = Vec::new();
    for (i, case) in plan.iter().enumerate() {
        let report = block_on(test.run(i, case))?;
        if json {
            println!("{}", report.to_json());
        } else {
            let worst = report.worst();
            let verdict = if report.passed() { "ok  " } else { "FAIL" };
            println!("{verdict} {:<44} {:>2} checks, worst at {:.0}% of its tolerance", report.name, report.checks.len(), worst * 100.0);
            if !report.passed() {
                println!("{}", report.failures());
            }
        }
        reports.push(report);
    }
    match Summary::new(ctx.describe(), test.kernels.block, reports).verdict() {
        Ok(line) => {
            eprintln!("{line}");
            Ok(())
        }
        Err(line) => bail!("{line}"),
    }
}
