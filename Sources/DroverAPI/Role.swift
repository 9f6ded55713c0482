/// Who may do what: the roles a token grants, each permitting the operations whose
/// ``APIOperation/access`` it covers.
public enum Role: String, Sendable, CaseIterable, Comparable {
    /// Read jobs, queues, workers, workflows, schedules and metrics, and change nothing: a
    /// dashboard for people who watch.
    case read
    /// Submit jobs and read them, their queues and workers.
    case client
    /// Register, heartbeat, fetch and report: what a remote worker does.
    case worker
    /// Everything, dead letters and purges included.
    case admin

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Whether this role may perform `operation`.
    public func permits(_ operation: APIOperation) -> Bool {
        switch (self, operation.access) {
        case (.admin, _), (_, .anyone): true
        case (.client, .client), (.worker, .worker): true
        case (.read, .client): operation.route.method == .get
        default: false
        }
    }
}
