import CHiredis

/// One RESP2 reply, copied out of hiredis's reply tree into Swift values.
///
/// hiredis 0.14 maps both the null bulk string (`$-1`) and the null array (`*-1`) to `.null`.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])

    /// The value as text: status, error and bulk strings; integers in decimal.
    public var string: String? {
        switch self {
        case .simpleString(let s), .error(let s): return s
        case .bulkString(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        case .null, .array: return nil
        }
    }

    /// The value as an integer: integer replies and bulk strings holding a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .bulkString, .simpleString: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; `nil` for `.null` and scalar replies.
    public var array: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Throws ``RedisError/server(_:)`` for an error reply, returns `self` otherwise.
    ///
    /// Pipelines hand back error replies as values, because Redis runs every command of a
    /// pipeline whatever happened to the ones before it; this turns one into a thrown error.
    @discardableResult
    public func throwingServerError() throws(RedisError) -> RESPValue {
        if case .error(let message) = self { throw RedisError.server(message) }
        return self
    }
}

extension RESPValue {
    /// Deep-copies a hiredis reply tree. Does not free `reply`.
    init(reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_STATUS:
            self = .simpleString(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] {
                    elements.append(RESPValue(reply: element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default:
            self = .error("ERR unknown hiredis reply type \(r.type)")
        }
    }
}
