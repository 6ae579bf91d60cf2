import ArgumentParser
import Foundation
import DinoSegKernels

extension PrecisionRequest: ExpressibleByArgument {}

/// `--precision fp32|bf16|auto`, shared by every command that runs the networks.
package struct PrecisionOptions: ParsableArguments {
    @Option(help: "Matrix multiplies (convolutions, linear layers): fp32, or bf16 inputs with f32 accumulation (needs a CPU with AVX512-BF16 or AMX-BF16, and oneDNN); auto = bf16 where the CPU has it, else fp32. Everything else stays fp32.")
    package var precision: PrecisionRequest = .fp32

    package init() {}

    /// The precision this machine runs for the request; a bf16 it cannot run throws the one-line reason.
    package func resolved() throws -> Precision { try PrecisionChoice.resolve(precision) }

    /// Resolves the request, makes it the process's precision and prints it (to stderr, so JSON output stays clean).
    @discardableResult
    package func activate() throws -> Precision {
        let p = try resolved()
        setMatmulEngine(PrecisionChoice.engine(for: p))
        FileHandle.standardError.write(Data("precision: \(PrecisionChoice.describe(activeEngine))\(precision == .auto ? " (from --precision auto)" : "")\n".utf8))
        return p
    }
}
