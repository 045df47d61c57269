//! `desktop selftest`: every WGSL kernel on this machine's GPU against the f64 reference,
//! the same cases the tests and the page's `?selftest` run.

use anyhow::{bail, Result};
use engine::selftest::{self, SelfTest};
use engine::train::block_on;

pub fn selftest(list: bool, json: bool) -> Result<()> {
    let plan = selftest::plan();
    if list {
        plan.iter().for_each(|case| println!("{}", case.name()));
        return Ok(());
    }
    let test = SelfTest::new(crate::acquire()?);
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
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let uncovered = selftest::uncovered(&reports);
    if !uncovered.is_empty() {
        bail!("no case dispatched these kernels: {}", uncovered.join(", "));
    }
    if failed > 0 {
        bail!("{failed} of {} cases failed: this GPU's results differ from the reference beyond the tolerances", reports.len());
    }
    eprintln!("all {} cases passed; every kernel in shaders/ ran", reports.len());
    Ok(())
}
