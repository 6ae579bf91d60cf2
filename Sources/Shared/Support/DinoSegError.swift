// One error type for everything a user can get wrong: it names the file (when there is one) and what is wrong.
public struct DinoSegError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public init(file: String, _ problem: String) { self.message = "\(file): \(problem)" }
    public var description: String { message }
}
