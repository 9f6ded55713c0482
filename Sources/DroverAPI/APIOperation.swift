/// Every operation of the master's API, the one table both doors, the remote transports and
/// the roles are derived from: its name (the TCP `op`), its REST method and path, whether its
/// fields travel in a body, and who may call it. ``APIRequest`` holds the request of each,
/// parsed from and encoded to its fields in one place, and ``APIResult`` its answer, encoded
/// and decoded in one place.
public enum APIOperation: String, Sendable, CaseIterable, Hashable {
    // Clients
    case submit, submitBatch, get, cancel, queues, jobs, workers, throughput, health, metrics
    // Operators
    case deadLetters, retryDeadLetter, purgeDeadLetters, pauseQueue, resumeQueue, setQueueLimits
    case schedules, putSchedule, removeSchedule, pauseSchedule, resumeSchedule
    // Workflows
    case submitWorkflow, workflow, cancelWorkflow, createBatch, addToBatch
    // Remote workers
    case heartbeat, claim, start, complete, fail, reconcile, deregister, cancelRequests, recordEffect

    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case delete = "DELETE"
    }

    /// Who may call an operation when token auth is on.
    public enum Access: Sendable {
        /// Anyone, without a token: load balancers and container health checks.
        case anyone
        case client
        case worker
        /// Only an admin token.
        case admin
    }

    public struct Route: Sendable, Hashable {
        public let method: Method
        /// With `{name}` for a path parameter, which is the request field of that name.
        public let path: String
        /// Whether the other fields travel as a JSON body (else as query parameters).
        public let hasBody: Bool
    }

    public var route: Route {
        switch self {
        case .submit: Route(method: .post, path: "/v1/jobs", hasBody: true)
        case .submitBatch: Route(method: .post, path: "/v1/jobs/batch", hasBody: true)
        case .get: Route(method: .get, path: "/v1/jobs/{id}", hasBody: false)
        case .cancel: Route(method: .post, path: "/v1/jobs/{id}/cancel", hasBody: false)
        case .queues: Route(method: .get, path: "/v1/queues", hasBody: false)
        case .jobs: Route(method: .get, path: "/v1/queues/{queue}/jobs", hasBody: false)
        case .workers: Route(method: .get, path: "/v1/workers", hasBody: false)
        case .throughput: Route(method: .get, path: "/v1/throughput", hasBody: false)
        case .health: Route(method: .get, path: "/health", hasBody: false)
        case .metrics: Route(method: .get, path: "/metrics", hasBody: false)
        case .deadLetters: Route(method: .get, path: "/v1/dead-letters", hasBody: false)
        case .retryDeadLetter: Route(method: .post, path: "/v1/dead-letters/{id}/retry", hasBody: false)
        case .purgeDeadLetters: Route(method: .delete, path: "/v1/dead-letters", hasBody: false)
        case .pauseQueue: Route(method: .post, path: "/v1/queues/{queue}/pause", hasBody: false)
        case .resumeQueue: Route(method: .post, path: "/v1/queues/{queue}/resume", hasBody: false)
        case .setQueueLimits: Route(method: .put, path: "/v1/queues/{queue}/limits", hasBody: true)
        case .schedules: Route(method: .get, path: "/v1/schedules", hasBody: false)
        case .putSchedule: Route(method: .post, path: "/v1/schedules", hasBody: true)
        case .removeSchedule: Route(method: .delete, path: "/v1/schedules/{name}", hasBody: false)
        case .pauseSchedule: Route(method: .post, path: "/v1/schedules/{name}/pause", hasBody: false)
        case .resumeSchedule: Route(method: .post, path: "/v1/schedules/{name}/resume", hasBody: false)
        case .submitWorkflow: Route(method: .post, path: "/v1/workflows", hasBody: true)
        case .workflow: Route(method: .get, path: "/v1/workflows/{id}", hasBody: false)
        case .cancelWorkflow: Route(method: .post, path: "/v1/workflows/{id}/cancel", hasBody: false)
        case .createBatch: Route(method: .post, path: "/v1/batches", hasBody: true)
        case .addToBatch: Route(method: .post, path: "/v1/batches/{id}/jobs", hasBody: true)
        case .heartbeat: Route(method: .post, path: "/v1/workers/{worker}/heartbeat", hasBody: true)
        case .claim: Route(method: .post, path: "/v1/workers/{worker}/claim", hasBody: true)
        case .start: Route(method: .post, path: "/v1/workers/{worker}/start", hasBody: true)
        case .complete: Route(method: .post, path: "/v1/workers/{worker}/complete", hasBody: true)
        case .fail: Route(method: .post, path: "/v1/workers/{worker}/fail", hasBody: true)
        case .reconcile: Route(method: .post, path: "/v1/workers/{worker}/reconcile", hasBody: true)
        case .deregister: Route(method: .delete, path: "/v1/workers/{worker}", hasBody: false)
        case .cancelRequests: Route(method: .post, path: "/v1/workers/{worker}/cancel-requests", hasBody: false)
        case .recordEffect: Route(method: .post, path: "/v1/workers/{worker}/effects", hasBody: true)
        }
    }

    public var access: Access {
        switch self {
        case .health: .anyone
        case .submit, .submitBatch, .get, .cancel, .queues, .jobs, .workers, .throughput, .metrics, .schedules, .submitWorkflow, .workflow,
            .cancelWorkflow, .createBatch, .addToBatch:
            .client
        case .deadLetters, .retryDeadLetter, .purgeDeadLetters, .pauseQueue, .resumeQueue, .setQueueLimits, .putSchedule, .removeSchedule,
            .pauseSchedule, .resumeSchedule:
            .admin
        case .heartbeat, .claim, .start, .complete, .fail, .reconcile, .deregister, .cancelRequests, .recordEffect: .worker
        }
    }

    /// Whether the TCP door offers it: everything but the Prometheus text of `/metrics`.
    public var isOnTCP: Bool { self != .metrics }

    /// The operations a TCP frame may name.
    public static var tcpOperations: [APIOperation] { allCases.filter(\.isOnTCP) }
}
