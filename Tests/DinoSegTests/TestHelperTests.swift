import XCTest
@testable import DinoSegCore

/// The suite's own helpers (Support/TempDirectory.swift, Support/Processes.swift): directories are unique and removed,
/// a child's output and end are captured, and a hung or abandoned child is stopped instead of outliving its test.
final class TestHelperTests: XCTestCase {
    func testTempDirsAreUniqueAndRemovedAfterTheTest() throws {
        var made: [String] = []
        // Teardown blocks run last registered first: this check runs after tempDir's own removals.
        addTeardownBlock {
            let left = made.filter { FileManager.default.fileExists(atPath: $0) }
            XCTAssertEqual(left, [], "temporary directories left after the test")
        }
        made = [try tempDir("helper"), try tempDir("helper")]
        XCTAssertNotEqual(made[0], made[1], "two directories of one tag")
        for dir in made {
            var isDirectory: ObjCBool = false
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue, dir)
            let name = URL(fileURLWithPath: dir).lastPathComponent
            XCTAssertTrue(name.hasPrefix("dinoseg-helper-") && name.count == "dinoseg-helper-".count + 6, name)
        }
    }

    func testRunProcessCapturesOutputStatusAndEnvironment() throws {
        let r = try runProcess("/bin/sh", ["-c", "echo out; echo err >&2; echo \"$HELPER_VALUE\"; exit 3"],
                               environment: ["HELPER_VALUE": "from the test"])
        XCTAssertEqual([r.stdout, r.stderr], ["out\nfrom the test\n", "err\n"])
        XCTAssertEqual(r.status, 3)
        XCTAssertEqual(r.reason, .exit)
        let merged = try runProcess("/bin/sh", ["-c", "echo one; echo two >&2; echo three"], mergeOutput: true)
        XCTAssertEqual([merged.stdout, merged.stderr], ["one\ntwo\nthree\n", ""], "merged output in the order written")
        let killed = try runProcess("/bin/sh", ["-c", "kill -KILL $$"])
        XCTAssertEqual([killed.reason == .uncaughtSignal ? 1 : 0, Int(killed.status)], [1, Int(SIGKILL)], "a child ended by SIGKILL")
    }

    func testHungChildFailsAtTheTimeoutAndLeavesNothing() throws {
        let child = try startProcess("/bin/sleep", ["60"])
        let start = Date()
        XCTAssertThrowsError(try child.wait(timeout: 0.5)) { e in
            XCTAssertEqual("\(e)", "/bin/sleep 60: still running after 0.5 s, stopped; output: ")
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 10, "the timeout of 0.5 s took \(seconds) s")
        XCTAssertFalse(child.isRunning)
        XCTAssertFalse(FileManager.default.fileExists(atPath: child.outputDirectory), "output files left")
    }

    func testReleasedChildIsKilledAndItsFilesRemoved() throws {
        var child: ChildProcess? = try startProcess("/bin/sleep", ["60"])
        let pid = try XCTUnwrap(child?.pid), directory = try XCTUnwrap(child?.outputDirectory)
        XCTAssertEqual(kill(pid, 0), 0, "the child should be running")
        child = nil   // as when a test throws before it waits
        XCTAssertEqual(kill(pid, 0), -1, "the child outlived its handle")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "output files left")
    }
}
