import ArgumentParser

/// Runs a command line (the words after the tool's name) as the tool does: parsed and validated from `root`, then run.
func runCommand(_ root: ParsableCommand.Type, _ args: [String]) throws {
    var command = try root.parseAsRoot(args)
    try command.run()
}
