import ArgumentParser
import Drover
import DroverAPI
import DroverCore

extension QueuesCommand {
    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Limit how fast and how many at once a queue's jobs start, across every worker.",
            discussion: """
                The limits given replace the queue's (a limit left out is removed); they apply
                from the next claim on. A job held back stays QUEUED: it does not fail, and no
                worker spins on it. The rate is a token bucket: after a quiet spell up to RATE
                jobs may start at once, and over time no more than RATE per period.

                Examples:
                  drover queues limit mail --rate 50/s --concurrency 5
                  drover queues limit reports --rate 100/1m
                  drover queues limit mail --none
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The queue.")
        var queue: String

        @Option(help: ArgumentHelp("At most this many starts per period: 50/s, 100/1m, 5/500ms.", valueName: "count/period"))
        var rate: String?

        @Option(help: "At most this many jobs ASSIGNED or RUNNING at once.")
        var concurrency: Int?

        @Flag(help: "Remove the queue's limits.")
        var none = false

        func validate() throws {
            if none && (rate != nil || concurrency != nil) { throw ValidationError("--none takes no --rate or --concurrency") }
            if !none && rate == nil && concurrency == nil { throw ValidationError("give --rate, --concurrency or --none") }
            if let rate { _ = try Self.parseRate(rate) }
        }

        /// `50/s`, `100/1m`, `5/500ms`; a bare `50` is per second.
        static func parseRate(_ text: String) throws -> QueueLimits.Rate {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let count = parts.first.flatMap({ Int($0) }), count > 0 else {
                throw ValidationError("--rate '\(text)': give a count above 0 and a period, like 50/s or 100/1m")
            }
            var period = parts.count == 2 ? parts[1] : "1s"
            if let first = period.first, first.isLetter { period = "1" + period }
            guard let duration = try? parseDuration(period), duration > .zero else {
                throw ValidationError("--rate '\(text)': the period '\(parts[1])' is not a duration; use s, 500ms or 1m")
            }
            return QueueLimits.Rate(count: count, periodMs: Int(duration.milliseconds))
        }

        func run() async throws {
            let limits = QueueLimits(rate: try rate.map(Self.parseRate), concurrency: concurrency)
            try await connection.forEach([queue], label: "drover.queues") { client, queue in
                try await client.setLimits(limits, queue: queue)
                print("\(queue) limits: \(limits)")
            }
        }
    }
}
