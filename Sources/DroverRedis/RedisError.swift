/// Every way a Redis call can fail, each with a message an operator can act on.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL could not be parsed.
    case invalidURL(String)
    /// No connection could be made (refused, unreachable, DNS, handshake failed).
    case connectionFailed(String)
    /// The connection closed while the command was in flight or queued; it may or may not have run.
    case connectionClosed
    /// No reply arrived in time. The connection is dropped, because replies after a lost one
    /// can no longer be matched to their commands.
    case timeout(command: String, after: Duration)
    /// Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`, `-WRONGTYPE ...`).
    case server(String)
    /// The bytes from the server were not valid RESP.
    case protocolError(String)
    /// The reply had a shape the caller did not expect.
    case unexpectedReply(String)
    /// `AUTH` or `SELECT` was refused.
    case authenticationFailed(String)
    /// The client was shut down.
    case clientClosed
    /// A write was not confirmed by as many replicas as ``RedisConfiguration/durability``
    /// asks within its timeout: the primary has it, but a failover now could lose it.
    case notReplicated(wanted: Int, confirmed: Int)

    public var description: String {
        switch self {
        case .invalidURL(let s): return "invalid Redis URL: \(s)"
        case .connectionFailed(let s): return "cannot connect to Redis: \(s)"
        case .connectionClosed: return "the Redis connection closed before the reply arrived"
        case .timeout(let command, let after): return "Redis did not answer \(command) within \(after)"
        case .server(let s): return "Redis error: \(s)"
        case .protocolError(let s): return "Redis protocol error: \(s)"
        case .unexpectedReply(let s): return "unexpected Redis reply: \(s)"
        case .authenticationFailed(let s): return "Redis refused the credentials: \(s)"
        case .clientClosed: return "the Redis client is closed"
        case .notReplicated(let wanted, let confirmed):
            return
                "Redis confirmed the write on \(confirmed) of the \(wanted) replicas asked for in time; it may be lost if the primary fails now"
        }
    }

    /// True when the command may be retried on a new connection: nothing is known to have
    /// gone wrong with the command itself.
    public var isConnectionProblem: Bool {
        switch self {
        case .connectionFailed, .connectionClosed, .timeout, .protocolError, .notReplicated: return true
        // A server that is loading, a primary demoted or a cluster mid-failover: the command
        // did not run, and will once the servers settle.
        case .server(let message):
            return ["LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK"].contains {
                message.hasPrefix($0 + " ")
            }
        default: return false
        }
    }
}
