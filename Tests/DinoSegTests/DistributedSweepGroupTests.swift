import XCTest
import Foundation
@testable import DinoSegCLI

/// `headtrain sweep --ranks-per-job 2` under `mpirun -np 2`: both ranks form one group that trains every job
/// data-parallel (rank 0 of the group writes the run, rank 1 only computes), stopped with SIGTERM on rank 1 and
/// resumed by the same command; against a single-process sweep of the same cache (fixture seeds: data 21, extraction
/// 22, training 0): every job's 20 losses within 1e-5 relative (the data-parallel tolerance of `headtrain train`) and
/// results.csv with the same jobs, steps and metrics. `--ranks-per-job 1` deals whole jobs to ranks as before.
extension DistributedTrainingTests {
    func testSweepGroupsOfRanksTrainEachJobDataParallel() throws {
        let f = try setUpFixture()
        let val = try Self.wholeValCache(f, name: "cache-val-groups")
        let args = ["sweep", "--cache", f.cache, "--val-cache", val, "--variants", "head,fpn", "--widths", "16",
                    "--epochs", "10", "--batch", "5", "--threads", "1", "--eval-every", "5", "--examples", "0", "--log-interval", "1"]
        let single = f.directory + "/gsweep1", grouped = f.directory + "/gsweep2", dealt = f.directory + "/gsweep3"
        let one = try Self.runProcess(f.headtrain, args + ["--run", single])
        XCTAssertEqual(one.status, 0, "single-process sweep: \(one.output.suffix(600))")

        let command = [f.headtrain] + args + ["--ranks-per-job", "2", "--run", grouped]
        let firstEnd = try Self.signalRank(1, SIGTERM, mpirun: f.mpirun, command: command) {
            try Self.waitForSteps(4, in: grouped + "/head", while: $0)
        }
        let firstOutput = firstEnd.output
        XCTAssertEqual(firstEnd.status, 0, "SIGTERM on rank 1 should stop the group cleanly: \(firstOutput.suffix(800))")
        XCTAssertTrue(firstOutput.contains("stopped; run the same command again"), firstOutput.suffix(800).description)
        XCTAssertTrue(firstOutput.contains("2 processes in 1 groups of 2 consecutive ranks"), firstOutput.prefix(1500).description)
        let second = try Self.runProcess(f.mpirun, Self.mpirunArguments(ranks: 2) + command)
        XCTAssertEqual(second.status, 0, "resumed grouped sweep: \(second.output.suffix(800))")
        XCTAssertTrue(second.output.contains("[rank 0] == sweep 2/2"), second.output.prefix(1500).description)
        XCTAssertFalse(second.output.contains("[rank 1] =="), "rank 1 trains with rank 0 and prints nothing of its own")

        let seeds = "data 21, extraction 22, training 0"
        for job in ["head", "fpn16"] {
            let got = Self.losses(grouped + "/" + job), want = Self.losses(single + "/" + job)
            XCTAssertEqual(got.count, 20, "\(job): logged steps")
            assertClose(got, want, rtol: 1e-5, seed: seeds, what: "\(job): losses of a group of 2 ranks vs one process")
            let log = try String(contentsOfFile: grouped + "/" + job + "/log.txt", encoding: .utf8)
            XCTAssertTrue(log.contains("2 processes × 1 threads"), "\(job) should be trained data-parallel: \(log.prefix(600))")
        }
        // Everything but train_seconds (field 9), final_loss (10: compared above through the losses), protocol and directory.
        func rows(_ dir: String) -> [String] {
            ((try? String(contentsOfFile: dir + "/results.csv", encoding: .utf8)) ?? "").split(separator: "\n").map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return (Array(fields.prefix(9)) + [fields.count > 11 ? fields[11] : ""]).joined(separator: ",")
            }
        }
        XCTAssertEqual(rows(grouped).count, 3, "header + 2 jobs")
        XCTAssertEqual(rows(grouped), rows(single), "seed \(seeds): results.csv of a group of 2 ranks vs one process")

        let byRank = try Self.runProcess(f.mpirun, Self.mpirunArguments(ranks: 2) + [f.headtrain] + args + ["--ranks-per-job", "1", "--run", dealt])
        XCTAssertEqual(byRank.status, 0, byRank.output.suffix(600).description)
        XCTAssertTrue(byRank.output.contains("[rank 1] == sweep 2/2"), "--ranks-per-job 1 deals job 2 to rank 1: \(byRank.output.prefix(800))")
        XCTAssertEqual(rows(dealt), rows(single), "seed \(seeds): --ranks-per-job 1 trains each job as one process")

        XCTAssertThrowsError(try HeadTrainSweep.parse(["--cache", "c", "--val-cache", "v", "--run", "r", "--ranks-per-job", "2"])) {
            XCTAssertTrue("\($0)".contains("does not divide the 1 processes"), "\($0)")
        }
    }
}
