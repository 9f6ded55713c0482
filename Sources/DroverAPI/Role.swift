/// Who may do what: the roles a token grants.
public enum Role: String, Sendable, CaseIterable, Comparable {
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
    public func permits(_ operation: String) -> Bool {
        switch self {
        case .admin: true
        case .client: Self.clientOperations.contains(operation)
        case .worker: Self.workerOperations.contains(operation)
        }
    }

    static let clientOperations: Set<String> = ["submit", "submitBatch", "get", "queues", "jobs", "workers", "health", "metrics"]
    static let workerOperations: Set<String> = ["heartbeat", "claim", "start", "complete", "fail", "reconcile", "deregister", "health"]
}
