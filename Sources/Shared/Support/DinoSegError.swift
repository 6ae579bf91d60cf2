// One error type for everything a user can get wrong: it names the file (when there is one) and what is wrong.
package struct DinoSegError: Error, CustomStringConvertible, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
    package init(file: String, _ problem: String) { self.message = "\(file): \(problem)" }
    package var description: String { message }
}
