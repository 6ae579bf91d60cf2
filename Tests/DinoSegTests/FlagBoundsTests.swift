import ArgumentParser
import XCTest
@testable import DinoSegCLI

/// Every numeric flag of every command, found from the commands' own description (the parser's help dump, so a new
/// flag cannot be left out), given 0, −1, NaN, ∞, 2³¹ and 2⁶²: each value is either accepted or refused by parsing
/// and `validate()` with one line and exit code 64. 0 is accepted exactly where README "Bad input" says it is legal,
/// and the huge values only by the few flags that are safe at any size.
final class FlagBoundsTests: XCTestCase {
    /// Flags for which 0 is a legal value (README "Bad input").
    static let zeroIsLegal: Set<String> = ["--seed", "--split-seed", "--eval-every", "--checkpoint-every", "--examples", "--train", "--val",
                                           "--stages", "--momentum", "--weight-decay"]
    /// Flags that take any size: a seed, or a count that is only compared with a counter or used as a prefix length.
    static let unbounded: Set<String> = ["--seed", "--split-seed", "--limit", "--log-interval", "--checkpoint-every"]
    /// What validate() needs besides the required arguments (one of --run/--checkpoint, an image).
    static let extras: [String: [String]] = [
        "headtrain predict": ["--run", "r", "x.jpg"], "headtrain baseline eval": ["--run", "r"],
        "headtrain baseline predict": ["--run", "r", "x.jpg"],
    ]
    static let values = ["0", "-1", "nan", "inf", "2147483648", "4611686018427387904"]

    /// A command without subcommands: its words after the tool name, its type and its argument descriptions (the
    /// parser's own dump of the command, as `--experimental-dump-help` prints it).
    struct Leaf {
        let path: [String]
        let type: ParsableCommand.Type
        var arguments: [[String: Any]] {
            let json = try! JSONSerialization.jsonObject(with: Data(type._dumpHelp().utf8)) as! [String: Any]
            return (json["command"] as! [String: Any])["arguments"] as? [[String: Any]] ?? []
        }
    }

    /// Every command reachable from `root` through its subcommands. Each is parsed as its own root (as the tool would
    /// after reading the subcommand words), which keeps a few thousand parses quick in a debug build.
    func leaves(_ root: ParsableCommand.Type, path: [String] = []) -> [Leaf] {
        let subcommands = root.configuration.subcommands
        if subcommands.isEmpty { return [Leaf(path: path, type: root)] }
        return subcommands.flatMap { leaves($0, path: path + [$0._commandName]) }
    }

    func longName(_ argument: [String: Any]) -> String? {
        let names = argument["names"] as? [[String: Any]] ?? []
        return names.first { $0["kind"] as? String == "long" }.map { "--" + ($0["name"] as! String) }
    }

    /// The required options and positionals filled with placeholders, plus the command's extras.
    func baseArguments(_ leaf: Leaf, arguments: [[String: Any]], tool: String) -> [String] {
        var args: [String] = []
        for a in arguments where (a["isOptional"] as? Bool) == false {
            switch a["kind"] as? String {
            case "option": if let n = longName(a) { args += [n, "x"] }
            case "positional": args.append("x")
            default: break
            }
        }
        return args + (Self.extras[([tool] + leaf.path).joined(separator: " ")] ?? [])
    }

    /// nil when parse + validate accept the arguments, else the refusal's message and exit code.
    func refusal(_ command: ParsableCommand.Type, _ args: [String]) -> (message: String, code: Int32)? {
        do { _ = try command.parseAsRoot(args); return nil } catch {
            return (command.message(for: error), command.exitCode(for: error).rawValue)
        }
    }

    func testEveryNumericFlagIsAcceptedOrRefusedWithOneLineAndExit64() throws {
        var checked: [String] = []
        for (tool, root) in [("extract", ExtractCommand.self as ParsableCommand.Type), ("headtrain", HeadTrainCommand.self)] {
            for leaf in leaves(root) {
                let command = ([tool] + leaf.path).joined(separator: " "), arguments = leaf.arguments
                let base = baseArguments(leaf, arguments: arguments, tool: tool)
                if let r = refusal(leaf.type, base) { XCTFail("\(command): the base arguments \(base) are refused: \(r.message)"); continue }
                for a in arguments where a["kind"] as? String == "option" {
                    guard let flag = longName(a) else { continue }
                    // Numeric: a word is refused as a value, a small number is not.
                    let word = refusal(leaf.type, base + ["\(flag)=abc"]), three = refusal(leaf.type, base + ["\(flag)=3"])
                    guard word != nil, !(three?.message.contains("The value '3' is invalid") ?? false) else { continue }
                    checked.append("\(command) \(flag)")
                    for value in Self.values {
                        let at = "\(command) \(flag)=\(value)"
                        guard let r = refusal(leaf.type, base + ["\(flag)=\(value)"]) else {
                            if value == "0" {
                                XCTAssertTrue(Self.zeroIsLegal.contains(flag), "\(at) is accepted but 0 is not documented as legal")
                            } else {
                                XCTAssertTrue(Self.unbounded.contains(flag) && value.count > 4, "\(at) is accepted")
                            }
                            continue
                        }
                        XCTAssertEqual(r.code, ExitCode.validationFailure.rawValue, "\(at): exit code \(r.code) (\(r.message))")
                        XCTAssertFalse(r.message.isEmpty || r.message.contains("\n"), "\(at): not one line: \(r.message)")
                        XCTAssertTrue(r.message.contains(flag), "\(at): the refusal does not name the flag: \(r.message)")
                        if value == "0" { XCTAssertFalse(Self.zeroIsLegal.contains(flag), "\(at) is refused, but 0 is documented as legal: \(r.message)") }
                    }
                }
            }
        }
        // The enumeration found the flags of the issue (and the list flags) rather than silently nothing.
        for expected in ["headtrain train --epochs", "headtrain train --threads", "headtrain train --fpn-width",
                         "headtrain train --weight-decay", "headtrain predict --long-side", "headtrain predict --stride",
                         "headtrain bench --batch", "extract synth --max-side", "headtrain sweep --widths",
                         "headtrain baseline train --blocks", "extract train --stages", "extract bench --resolution"] {
            XCTAssertTrue(checked.contains(expected), "\(expected) was not enumerated as numeric; found: \(checked)")
        }
        XCTAssertGreaterThanOrEqual(checked.count, 70, "numeric flags found: \(checked)")
    }

    /// The examples of item 14 one by one, with the exact refusal.
    func testHugeValuesFromTheIssueAreRefusedByName() throws {
        let cases: [([String], String)] = [
            (["train", "--cache", "c", "--run", "r", "--epochs", "4611686018427387904"], "--epochs must be in 1...10000 (got 4611686018427387904)"),
            (["train", "--cache", "c", "--run", "r", "--threads", "4611686018427387904"], "--threads must be in 1...1024 (got 4611686018427387904)"),
            (["train", "--cache", "c", "--run", "r", "--fpn-width", "1000000"], "--fpn-width must be in 4...8192 (got 1000000)"),
            (["train", "--cache", "c", "--run", "r", "--weight-decay", "inf"], "--weight-decay must be in 0.0...1.0 (got inf)"),
            (["predict", "--run", "r", "--weights", "w", "--long-side", "100000", "x.jpg"], "--long-side must be in 32...4096 (got 100000)"),
            (["predict", "--run", "r", "--weights", "w", "--stride", "1", "x.jpg"],
             "--long-side 512, --stride 1 and window 224 make 167042 windows (8381499392 pixels) per image, more than the 33554432 window pixels whose features fit in memory"),
            (["bench", "--batch", "100000"], "--batch must be in 2...1024 (got 100000)"),
        ]
        for (args, expected) in cases {
            XCTAssertThrowsError(try HeadTrainCommand.parseAsRoot(args), "\(args)") {
                XCTAssertEqual(HeadTrainCommand.message(for: $0), expected, "\(args)")
                XCTAssertEqual(HeadTrainCommand.exitCode(for: $0), .validationFailure)
            }
        }
        XCTAssertThrowsError(try ExtractCommand.parseAsRoot(["synth", "--out", "o", "--max-side", "4611686018427387904"])) {
            XCTAssertEqual(ExtractCommand.message(for: $0), "--max-side must be in 160...4096 (got 4611686018427387904)")
        }
        // The published protocol, whole mode at the largest long side with flip, and a stride of 50 stay accepted.
        XCTAssertNoThrow(try HeadTrainCommand.parseAsRoot(["predict", "--run", "r", "--weights", "w", "x.jpg"]))
        XCTAssertNoThrow(try HeadTrainCommand.parseAsRoot(["predict", "--run", "r", "--weights", "w", "--mode", "whole",
                                                           "--long-side", "4096", "x.jpg"]))
        XCTAssertNoThrow(try ExtractCommand.parseAsRoot(["val", "--data", "d", "--list", "val", "--weights", "w", "--out", "o",
                                                         "--stride", "50", "--flip"]))
    }
}
