#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A job's identity: a ULID, 26 characters of Crockford base-32 whose first ten encode the
/// creation time in milliseconds, so ids sort by creation time as plain strings (in
/// `redis-cli` output too) and the remaining 80 random bits keep them unique across machines.
public struct JobID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public let rawValue: String

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new id for the current time.
    public init() {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        self.init(milliseconds: UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec) / 1_000_000)
    }

    /// A new id for a given creation time (milliseconds since 1970).
    public init(milliseconds: UInt64) {
        var generator = SystemRandomNumberGenerator()
        var random = (generator.next() as UInt64, generator.next() as UInt16)
        var chars = [UInt8](repeating: 0, count: 26)
        var t = milliseconds
        for i in stride(from: 9, through: 0, by: -1) {
            chars[i] = Self.alphabet[Int(t & 31)]
            t >>= 5
        }
        // 80 random bits, 5 at a time.
        for i in 10..<26 {
            chars[i] = Self.alphabet[Int(random.0 & 31)]
            random.0 = (random.0 >> 5) | (UInt64(random.1 & 31) << 59)
            random.1 >>= 5
        }
        self.rawValue = String(decoding: chars, as: UTF8.self)
    }

    /// Accepts any 26-character ULID (case-insensitive); `nil` for anything else.
    public init?(_ description: String) {
        let upper = description.uppercased()
        guard upper.utf8.count == 26, upper.utf8.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        self.rawValue = upper
    }

    /// The creation time encoded in the id, in milliseconds since 1970.
    public var milliseconds: UInt64 {
        var t: UInt64 = 0
        for c in rawValue.utf8.prefix(10) {
            t = t << 5 | UInt64(Self.alphabet.firstIndex(of: c) ?? 0)
        }
        return t
    }

    public var description: String { rawValue }

    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = JobID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a job id (a 26-character ULID)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
