/// How fast and how many at once a queue's jobs may start, counted across every worker that
/// serves it. The claim itself checks them, in the store, so a limit holds however many
/// workers and masters there are. A job held back by a limit stays QUEUED: it does not fail
/// and uses no attempt.
public struct QueueLimits: Sendable, Hashable {
    /// At most `count` starts per `periodMs`, as a token bucket: it holds up to `count` tokens,
    /// refills at `count` per `periodMs`, and each start takes one. A queue idle for a period
    /// may start `count` jobs at once; over any longer stretch the rate is at most
    /// `count / periodMs`.
    public struct Rate: Sendable, Hashable {
        public var count: Int
        public var periodMs: Int

        public init(count: Int, periodMs: Int = 1000) {
            self.count = count
            self.periodMs = periodMs
        }

        /// How long after a start the next token comes, at the steady rate.
        public var interval: Duration { .milliseconds(periodMs) / count }
    }

    /// `nil`: no rate limit.
    public var rate: Rate?
    /// At most this many jobs ASSIGNED or RUNNING at once; `nil`: no such limit.
    public var concurrency: Int?

    public init(rate: Rate? = nil, concurrency: Int? = nil) {
        self.rate = rate
        self.concurrency = concurrency
    }

    /// No limit at all: setting this removes a queue's limits.
    public static let none = QueueLimits()

    public var isEmpty: Bool { rate == nil && concurrency == nil }

    /// Throws ``JobError/invalidField(_:_:)`` for a rate or concurrency below 1 or too large.
    public func validated() throws(JobError) -> QueueLimits {
        if let rate {
            guard (1...1_000_000).contains(rate.count) else { throw .invalidField("rate.count", "must be 1 to 1000000 jobs per period") }
            guard (1...86_400_000).contains(rate.periodMs) else {
                throw .invalidField("rate.periodMs", "must be 1 ms to 1 day (86400000)")
            }
        }
        if let concurrency, !(1...1_000_000).contains(concurrency) {
            throw .invalidField("concurrency", "must be 1 to 1000000 jobs at once")
        }
        return self
    }
}

extension QueueLimits: CustomStringConvertible {
    /// `50/1s, 5 at once`, or `none`.
    public var description: String {
        var parts: [String] = []
        if let rate {
            let period = rate.periodMs % 1000 == 0 ? "\(rate.periodMs / 1000)s" : "\(rate.periodMs)ms"
            parts.append("\(rate.count)/\(period)")
        }
        if let concurrency { parts.append("\(concurrency) at once") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// On the wire: `{"rate":{"count":50,"periodMs":1000},"concurrency":5}`, a member left out
/// for a limit not set (`periodMs` defaults to one second).
extension QueueLimits: Codable {}

extension QueueLimits.Rate: Codable {
    enum CodingKeys: String, CodingKey {
        case count, periodMs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Left out means one second; `null` is refused like any other value that is not a number.
        let periodMs = container.contains(.periodMs) ? try container.decode(Int.self, forKey: .periodMs) : 1000
        self.init(count: try container.decode(Int.self, forKey: .count), periodMs: periodMs)
    }
}

/// The state of one queue's rate limit: tokens left, as of a time. The in-memory store keeps
/// one; the Redis store keeps the same two numbers in the queue's limits hash.
struct RateBucket: Sendable {
    var tokens: Double
    var at: Int64

    /// Refills by the time passed since `at`, up to the bucket's size.
    mutating func refill(_ rate: QueueLimits.Rate, now: Int64) {
        let earned = Double(max(0, now - at)) * Double(rate.count) / Double(rate.periodMs)
        tokens = min(Double(rate.count), tokens + earned)
        at = max(at, now)
    }

    /// Milliseconds until the next whole token, once `tokens` is below one.
    func msUntilToken(_ rate: QueueLimits.Rate) -> Int64 {
        Int64(((1 - tokens) * Double(rate.periodMs) / Double(rate.count)).rounded(.up))
    }
}
