import DinoSegKernels

/// A recorded precision that reads as fp32 when the record predates it; written as the plain value, so files keep
/// their format. TrainOptions' decoder stays the synthesized one, which reads every field added later too.
@propertyWrapper
package struct FP32WhenAbsent: Codable, Equatable, Sendable {
    package var wrappedValue: Precision

    package init(wrappedValue: Precision) { self.wrappedValue = wrappedValue }

    package init(from decoder: Decoder) throws { wrappedValue = try decoder.singleValueContainer().decode(Precision.self) }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    /// The synthesized decoders call this overload for an FP32WhenAbsent field: a missing key (or null) is fp32.
    func decode(_ type: FP32WhenAbsent.Type, forKey key: Key) throws -> FP32WhenAbsent {
        FP32WhenAbsent(wrappedValue: try decodeIfPresent(Precision.self, forKey: key) ?? .fp32)
    }
}
