import Foundation

/// Prints a line and flushes stdout at once, so a pipe or a log file sees each progress line as it is made (the
/// default output of the trainers and the extractions).
package func printFlushed(_ line: String) {
    print(line)
    fflush(stdout)
}
