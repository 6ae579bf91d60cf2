import ArgumentParser

/// A comma-separated flag value such as `--widths 256,512` or `--variants head,fpn`: every item parsed as its own
/// argument type, none empty; a bad item makes the whole value invalid (the parser names the flag).
package struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument {
    package var values: [Element]

    package init(_ values: [Element]) { self.values = values }

    package init?(argument: String) {
        let items = argument.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = items.compactMap { Element(argument: $0) }
        guard !items.isEmpty, values.count == items.count else { return nil }
        self.values = values
    }

    package var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
}
