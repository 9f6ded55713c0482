/// One page of a queue's jobs in one state (``JobStore/jobs(queue:state:after:limit:)``), with
/// where the next page starts.
public struct JobPage: Sendable, Equatable {
    public var jobs: [Job]
    /// Pass it back for the page after this one; `nil` when this page reached the end.
    public var next: JobCursor?

    public init(jobs: [Job], next: JobCursor?) {
        self.jobs = jobs
        self.next = next
    }
}

/// Where a page of jobs starts: right after the job the page before it ended with.
///
/// A cursor names that job, so a page costs the same however deep it is (a rank lookup in a
/// sorted set, or a short look around the job's last place in a queue's line) and jobs that
/// arrive or leave meanwhile do not shift what comes next, as an offset would. It also keeps
/// the job's place when the page was read, for when that job has left the state since: the
/// next page then starts where it stood (in a queue's line, at the line's start, so nothing
/// behind it is skipped).
///
/// Its text, `r<place>:<id>` (a place in a sorted listing) or `l<place>:<id>` (a place in a
/// queue's line, counted from its next-to-run end), is what REST and TCP carry; treat it as
/// opaque.
public struct JobCursor: Sendable, Hashable, LosslessStringConvertible {
    /// Where the job stood when its page was read.
    public enum Place: Sendable, Hashable {
        /// Its 1-based rank in a sorted listing.
        case rank(Int)
        /// Its 1-based place in a queue's line (a Redis list), wake-up markers included,
        /// counted from the end the next job is taken from.
        case line(Int)
    }

    /// The last job of the page before.
    public var last: JobID
    public var place: Place

    public init(last: JobID, place: Place) {
        self.last = last
        self.place = place
    }

    public init?(_ description: String) {
        guard let colon = description.firstIndex(of: ":"), let kind = description.first,
            let digits = Optional(description[description.index(after: description.startIndex)..<colon]),
            (1...12).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits), number >= 0,
            let last = JobID(String(description[description.index(after: colon)...]))
        else { return nil }
        switch kind {
        case "r": self.init(last: last, place: .rank(number))
        case "l": self.init(last: last, place: .line(number))
        default: return nil
        }
    }

    public var description: String {
        switch place {
        case .rank(let n): "r\(n):\(last)"
        case .line(let n): "l\(n):\(last)"
        }
    }
}
