/// How long a failed job waits before it is queued again.
///
/// Stored with each job as JSON, for example
/// `{"strategy":"exponential","baseMs":1000,"maxMs":3600000,"jitter":0.2}`.
public struct BackoffPolicy: Sendable, Codable, Hashable {
    public enum Strategy: String, Sendable, Codable, Hashable, CaseIterable {
        /// Every retry waits `baseMs`.
        case fixed
        /// Retry *n* waits `n × baseMs`.
        case linear
        /// Retry *n* waits `2^(n-1) × baseMs`.
        case exponential
    }

    public var strategy: Strategy
    /// The first delay, in milliseconds.
    public var baseMs: Int
    /// No delay is longer than this, jitter included.
    public var maxMs: Int
    /// Spread as a fraction of the delay: 0.2 moves each delay by up to ±20 %, so a burst of
    /// failures does not come back as one burst.
    public var jitter: Double

    public init(strategy: Strategy, baseMs: Int, maxMs: Int = 3_600_000, jitter: Double = 0) {
        self.strategy = strategy
        self.baseMs = baseMs
        self.maxMs = maxMs
        self.jitter = jitter
    }

    public static func fixed(ms: Int, jitter: Double = 0) -> BackoffPolicy {
        BackoffPolicy(strategy: .fixed, baseMs: ms, maxMs: ms, jitter: jitter)
    }

    public static func linear(baseMs: Int, maxMs: Int = 3_600_000, jitter: Double = 0) -> BackoffPolicy {
        BackoffPolicy(strategy: .linear, baseMs: baseMs, maxMs: maxMs, jitter: jitter)
    }

    public static func exponential(baseMs: Int, maxMs: Int = 3_600_000, jitter: Double = 0.2) -> BackoffPolicy {
        BackoffPolicy(strategy: .exponential, baseMs: baseMs, maxMs: maxMs, jitter: jitter)
    }

    /// Drover's default when neither the job nor its queue names one: 1 s, doubling, at most
    /// one hour, ±20 %.
    public static let standard = BackoffPolicy.exponential(baseMs: 1000)

    /// The wait after failed attempt number `attempt` (1 for the first attempt).
    ///
    /// - Parameter random: a number in `0..<1` that picks the jitter; pass a fixed one to get
    ///   a reproducible schedule.
    public func delayMs(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Int {
        let n = max(1, attempt)
        let raw: Double
        switch strategy {
        case .fixed: raw = Double(baseMs)
        case .linear: raw = Double(baseMs) * Double(n)
        case .exponential: raw = Double(baseMs) * Double(sign: .plus, exponent: min(n - 1, 62), significand: 1)
        }
        let capped = min(raw, Double(maxMs))
        let spread = capped * jitter * (2 * random - 1)
        return max(0, min(Int((capped + spread).rounded()), maxMs))
    }

    private enum CodingKeys: String, CodingKey { case strategy, baseMs, maxMs, jitter }

    /// `maxMs` defaults to one hour (or `baseMs`, if larger) and `jitter` to 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        for key in [CodingKeys.maxMs, .jitter] where container.contains(key) {
            if try container.decodeNil(forKey: key) {
                throw DecodingError.valueNotFound(Int.self, .init(codingPath: [key], debugDescription: "\(key.rawValue) must not be null"))
            }
        }
        strategy = try container.decode(Strategy.self, forKey: .strategy)
        baseMs = try container.decode(Int.self, forKey: .baseMs)
        maxMs = try container.decodeIfPresent(Int.self, forKey: .maxMs) ?? max(baseMs, 3_600_000)
        jitter = try container.decodeIfPresent(Double.self, forKey: .jitter) ?? 0
    }

    /// Throws ``JobError/invalidField(_:_:)`` when the policy cannot work.
    public func validate() throws(JobError) {
        guard baseMs >= 0 else { throw .invalidField("backoff.baseMs", "must be 0 or more, got \(baseMs)") }
        guard maxMs >= 0 else { throw .invalidField("backoff.maxMs", "must be 0 or more, got \(maxMs)") }
        // Redis's Lua keeps numbers as doubles: beyond 2^53 they would not be exact.
        let largest = 9_007_199_254_740_991
        guard baseMs <= largest, maxMs <= largest else { throw .invalidField("backoff", "baseMs and maxMs must be at most \(largest)") }
        guard (0...1).contains(jitter) else { throw .invalidField("backoff.jitter", "must be between 0 and 1, got \(jitter)") }
    }
}
