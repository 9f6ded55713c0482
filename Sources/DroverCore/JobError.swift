/// What can go wrong with a job request or a job operation, each case with a message meant
/// for the person who sent the request.
public enum JobError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A queue, job type, worker id or idempotency key that is empty, too long or holds
    /// characters Drover does not allow.
    case invalidName(field: String, value: String, reason: String)
    /// The payload (or result) is not valid JSON.
    case invalidJSON(field: String, reason: String)
    /// The payload is larger than the configured limit.
    case payloadTooLarge(bytes: Int, limit: Int)
    /// A field has a value outside its range.
    case invalidField(String, String)
    /// No job has this id (it may have expired after completing).
    case notFound(JobID)
    /// The job is not in a state this operation applies to.
    case illegalTransition(id: JobID, from: JobState, to: JobState)
    /// No job was ever submitted to this queue (a queue exists from its first job).
    case unknownQueue(String)
    /// No schedule has this name.
    case unknownSchedule(String)
    /// A workflow whose graph or jobs cannot be accepted; nothing of it was written.
    case invalidWorkflow(String)
    /// No workflow has this id (it may have expired after it finished).
    case unknownWorkflow(JobID)
    /// The workflow is not a batch that is open: closed, cancelled, or never a batch. Nothing
    /// was added.
    case batchClosed(JobID)

    public var description: String {
        switch self {
        case .invalidName(let field, let value, let reason):
            return "invalid \(field) '\(value.prefix(80))': \(reason)"
        case .invalidJSON(let field, let reason):
            return "\(field) is not valid JSON: \(reason)"
        case .payloadTooLarge(let bytes, let limit):
            return "payload is \(bytes) bytes, over the limit of \(limit) bytes"
        case .invalidField(let field, let reason):
            return "invalid \(field): \(reason)"
        case .notFound(let id):
            return "no job \(id) (unknown, or expired after it finished)"
        case .illegalTransition(let id, let from, let to):
            return "job \(id) is \(from.rawValue) and cannot move to \(to.rawValue)"
        case .unknownQueue(let queue):
            return "no queue '\(queue.prefix(80))' (a queue exists once a job was submitted to it)"
        case .unknownSchedule(let name):
            return "no schedule '\(name.prefix(80))'"
        case .invalidWorkflow(let reason):
            return "invalid workflow: \(reason)"
        case .unknownWorkflow(let id):
            return "no workflow \(id) (unknown, or expired after it finished)"
        case .batchClosed(let id):
            return "workflow \(id) is not an open batch (closed, cancelled, or not a batch): nothing was added"
        }
    }
}
